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
def export(db: str, run_id: int | None, out: str, redact: bool) -> None:
    """Write an evidence bundle (zip) that an auditor can check without diagscope."""
    from diagscope.report.bundle import PERSONAL_DATA_WARNING, export_bundle

    engine = open_existing(db)
    run = run_of(engine, run_id)
    manifest = export_bundle(engine, run, out, redact=redact)
    click.echo(f"evidence bundle of run {run} written to {out} "
               f"(verdict {manifest['verdict']['result']})")
    if not redact:
        click.echo(f"warning: {PERSONAL_DATA_WARNING}", err=True)


@main.command()
@click.argument("bundle", required=False, type=click.Path(dir_okay=False))
@db_option
@run_option
@click.option("--canary", "canaries", multiple=True, metavar="[LABEL=]VALUE",
              help="With a bundle: the run's canaries, to re-derive canary findings too.")
def verify(bundle: str | None, db: str, run_id: int | None, canaries: tuple[str, ...]) -> None:
    """Check a run's hash chain in the database, or an evidence bundle (zip)."""
    if bundle is not None:
        from diagscope.pii.canary import parse_canary
        from diagscope.report.bundle import verify_bundle_cli

        verify_bundle_cli(bundle, [parse_canary(t, i) for i, t in enumerate(canaries, 1)])
        return
    from diagscope.store.verify import verify_run

    engine = open_existing(db)
    run = run_of(engine, run_id)
    report = verify_run(engine, run)
    if not report.ok:
        raise click.ClickException(f"run {run}: chain broken: {report.problem}")
    click.echo(f"run {run}: chain intact, {report.rows} rows, head {report.head}")


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
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(db: str, run_ids: tuple[int, ...], older: str | None, yes: bool) -> None:
    """Delete runs completely (rows, raw bodies, capture copies) and compact the database."""
    from diagscope.store.purge import purge_runs, runs_older_than

    if not run_ids and older is None:
        raise click.UsageError("name runs with --run ID or an age with --older-than")
    engine = open_existing(db)
    targets = [run_of(engine, r) for r in run_ids]
    if older is not None:
        targets += runs_older_than(engine, parse_age(older))
    targets = sorted(set(targets))
    if not targets:
        click.echo("no runs to purge")
        return
    if not yes and sys.stdin.isatty():
        click.confirm(f"Delete runs {', '.join(map(str, targets))} and all their evidence?",
                      abort=True)
    counts = purge_runs(engine, targets)
    click.echo(f"purged runs {', '.join(map(str, targets))}: " + ", ".join(
        f"{n} {k}" for k, n in counts.items()) + "; database compacted")
