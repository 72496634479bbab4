"""Evidence: `export`, `verify`, `attach`, `purge`."""

from __future__ import annotations

import sys

import click

from diagscope.cli.common import db_option, open_existing, parse_age, run_of, run_option
from diagscope.cli.main import main


@main.command()
@db_option
@run_option
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Zip file to write.")
@click.option("--redact", is_flag=True,
              help="Leave out raw bodies and capture files, for wider sharing.")
@click.option("--sign-key", type=click.Path(dir_okay=False),
              help="Sign the bundle with this private key (`diagscope key new`).")
def export(db: str, run_id: int | None, out: str, redact: bool, sign_key: str | None) -> None:
    """Write an evidence bundle (zip) that an auditor can check without diagscope."""
    from diagscope.report.bundle import PERSONAL_DATA_WARNING, BundleError, export_bundle
    from diagscope.signing import KeyFileError, load_private_key

    try:
        key = load_private_key(sign_key) if sign_key else None
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    engine = open_existing(db)
    run = run_of(engine, run_id)
    try:
        exported = export_bundle(engine, run, out, redact=redact, sign_key=key)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    manifest = exported.manifest
    for warning in exported.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"evidence bundle of run {run} written to {out} "
               f"(verdict {manifest['verdict']['result']}, chain head "
               f"{manifest['run']['chain_head']}"
               + (f", signed by {manifest['signature']['public_key']})" if key else ")"))
    if not redact:
        click.echo(f"warning: {PERSONAL_DATA_WARNING}", err=True)


@main.command()
@click.argument("bundle", required=False, type=click.Path(dir_okay=False))
@db_option
@run_option
@click.option("--canary", "canaries", multiple=True, metavar="[LABEL=]VALUE",
              help="With a bundle: the run's canaries, to re-derive canary findings too.")
@click.option("--trusted-key", type=click.Path(dir_okay=False),
              help="With a bundle: the signer's public key; a bundle it did not sign fails.")
@click.option("--expect-head", metavar="HEX",
              help="With a bundle: the chain head recorded in the test log; any other fails.")
def verify(bundle: str | None, db: str, run_id: int | None, canaries: tuple[str, ...],
           trusted_key: str | None, expect_head: str | None) -> None:
    """Check the hash chains of a database's runs (every run, or --run), or an evidence
    bundle (zip)."""
    if bundle is not None:
        from diagscope.pii.canary import parse_canary

        _verify_bundle(bundle, [parse_canary(t, i) for i, t in enumerate(canaries, 1)],
                       trusted_key, expect_head)
        return
    if canaries or trusted_key or expect_head:
        raise click.UsageError("--canary, --trusted-key and --expect-head check a bundle; "
                               "name the bundle")
    _verify_db(db, run_id)


def _verify_bundle(path: str, canaries: list[tuple[str, str]], trusted_key: str | None,
                   expect_head: str | None) -> None:
    from diagscope.report.bundle import BundleError
    from diagscope.report.bundle_check import verify_bundle

    try:
        check = verify_bundle(path, canaries, trusted_key=trusted_key,
                              expect_head=expect_head)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    for note in check.notes:
        click.echo(f"note: {note}")
    if not check.ok:
        for problem in check.problems:
            click.echo(f"FAILED: {problem}", err=True)
        raise click.ClickException(f"bundle {path} failed verification")
    done = [f"{check.checked_files} files match SHA256SUMS",
            f"the chain of {_entries(check.chain_length)} recomputes to head "
            f"{check.chain_head}",
            "manifest, policy, captures and report agree with it"]
    if check.reproduced:
        done.append("findings and events reproduce exactly from the raw telemetry")
    if check.signed_by:
        done.append(f"signed by the trusted key {check.signed_by}")
    if expect_head:
        done.append("the chain head is the one expected")
    click.echo(f"bundle {path}: " + "; ".join(done))


def _entries(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


def _verify_db(db: str, run_id: int | None) -> None:
    from diagscope.store.verify import run_ids, verify_run

    engine = open_existing(db)
    targets = [run_of(engine, run_id)] if run_id is not None else run_ids(engine)
    if not targets:
        raise click.ClickException("the database holds no runs yet")
    failed: list[int] = []
    opened = older = 0
    for run in targets:
        report = verify_run(engine, run)
        if not report.ok:
            failed.append(run)
            click.echo(f"run {run}: chain broken: {report.problem}", err=True)
            continue
        opened += report.open
        older += bool(report.notes)
        state = "open (still recording, or never closed): intact so far" if report.open \
            else "chain intact"
        notes = "".join(f"; {n}" for n in report.notes)
        click.echo(f"run {run}: {state}, {_entries(report.rows)}, head {report.head}{notes}")
    if run_id is None or failed:
        parts = [f"{len(targets) - len(failed) - opened} intact"]
        if opened:
            parts.append(f"{opened} open")
        if older:
            parts.append(f"{older} of them of the older format (run metadata not chained)")
        summary = f"checked {len(targets)} run{'s' if len(targets) != 1 else ''}: " \
                  + ", ".join(parts)
        if failed:
            summary += f"; failed: {', '.join(map(str, failed))}"
        click.echo(summary)
    if failed:
        raise click.ClickException(
            f"run{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))}: chain broken")


@main.command()
@click.argument("settings_zip", type=click.Path(dir_okay=False, exists=True))
@db_option
@run_option
def attach(settings_zip: str, db: str, run_id: int | None) -> None:
    """Store the test machine's collected settings (collect.ps1's zip) with a run."""
    from diagscope.lab.settings import SettingsError, attach_to_run, describe

    engine = open_existing(db)
    run = run_of(engine, run_id)
    try:
        record, has_ddv = attach_to_run(engine, run, settings_zip)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"run {run}: configured {describe(record)}")
    for problem in record["mismatches"]:
        click.echo(f"WARNING: {problem}: this run does not test the scenario's setting",
                   err=True)
    if has_ddv:
        click.echo(f"{settings_zip} holds a Diagnostic Data Viewer export (diagnostic-data."
                   "json): replay it and compare with `diagscope reconcile`.")


@main.command()
@db_option
@click.option("--run", "run_ids", type=int, multiple=True, help="Run to delete (repeatable).")
@click.option("--older-than", "older", default=None,
              help="Delete runs started before this age (e.g. 30d, 12h, 4w).")
@click.option("--yes", is_flag=True,
              help="Do not ask for confirmation (needed when not on a terminal).")
def purge(db: str, run_ids: tuple[int, ...], older: str | None, yes: bool) -> None:
    """Delete runs completely (rows, raw bodies, capture copies) and compact the database.

    Name the runs with --run or with --older-than, not both. Without --yes, purge asks on
    the terminal first, and refuses when there is no terminal to ask on."""
    from diagscope.store.purge import purge_runs, runs_older_than

    if not run_ids and older is None:
        raise click.UsageError("name runs with --run ID or an age with --older-than")
    if run_ids and older is not None:
        # Together they could only mean the union of both sets: a slip in either would
        # delete more evidence than was meant.
        raise click.UsageError("--run and --older-than name runs two ways; use one of them")
    age = parse_age(older) if older is not None else None
    if not yes and not sys.stdin.isatty():
        raise click.UsageError("purge deletes evidence for good: run it on a terminal to "
                               "confirm, or pass --yes")
    engine = open_existing(db)
    targets = sorted({run_of(engine, r) for r in run_ids} if age is None
                     else set(runs_older_than(engine, age)))
    if not targets:
        click.echo("no runs to purge")
        return
    if not yes:
        click.confirm(f"Delete runs {', '.join(map(str, targets))} and all their evidence?",
                      abort=True)
    counts = purge_runs(engine, targets)
    click.echo(f"purged runs {', '.join(map(str, targets))}: " + ", ".join(
        f"{n} {k}" for k, n in counts.items()) + "; database compacted")
