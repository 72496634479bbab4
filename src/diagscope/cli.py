"""The `diagscope` command line: thin wrappers that parse options and call the library."""

from __future__ import annotations

import json
import shlex
import sys
from datetime import timedelta
from pathlib import Path

import click

from diagscope import __version__
from diagscope.output import FORMATS, write_rows
from diagscope.policy.load import DEFAULT_POLICY, PolicyError, load_policy
from diagscope.store.engine import DEFAULT_DB, open_engine
from diagscope.store.jsoncodec import dumps
from diagscope.store.queries import (
    FINDING_KEYS,
    NoSuchRun,
    event_documents,
    iter_events,
    iter_findings,
    list_runs,
    request_row,
    resolve_run,
)
from diagscope.store.rows import text

EVENT_KEYS = (
    "run", "flow_id", "event_index", "name", "product", "time", "level", "purpose", "verdict",
)

def canary_options(command):  # type: ignore[no-untyped-def]
    """--canary and --canary-file, shared by replay and proxy."""
    command = click.option(
        "--canary-file", "canary_files", multiple=True,
        type=click.Path(dir_okay=False, exists=True),
        help="A file of canaries, one [label=]value a line (repeatable).")(command)
    return click.option(
        "--canary", "canary_texts", multiple=True, metavar="[LABEL=]VALUE",
        help="A value planted by the tester, searched in every encoding (repeatable).")(command)


db_option = click.option(
    "--db", default=DEFAULT_DB, show_default=True,
    help="SQLite file path or SQLAlchemy database URL.",
)
run_option = click.option(
    "--run", "run_id", type=int, default=None, help="Run ID (default: the latest run)."
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)


def _open_existing(db: str):  # type: ignore[no-untyped-def]
    try:
        return open_engine(db, create=False)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise click.ClickException(f"cannot open database {db!r}: {exc}") from None


def _run(engine, run_id: int | None) -> int:  # type: ignore[no-untyped-def]
    try:
        return resolve_run(engine, run_id)
    except NoSuchRun as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(__version__, prog_name="diagscope")
def main() -> None:
    """Verify Office and Windows diagnostic telemetry against a processing agreement."""


@main.command()
@click.argument("captures", nargs=-1, required=True, type=click.Path())
@click.option(
    "--policy", default=DEFAULT_POLICY, show_default=True,
    help="Bundled policy name or path to a policy YAML file.",
)
@db_option
@click.option("--label", default="", help="Label for this run, e.g. the build under test.")
@click.option(
    "--fail-on-violation", is_flag=True, help="Exit with status 1 when any violation is found."
)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes for decoding and judging (results are identical).")
@canary_options
@click.option("--scenario", "scenario_file", type=click.Path(dir_okay=False, exists=True),
              help="The scenario played: stored with the run, its canaries searched for.")
@click.option("--settings", "settings_zip", type=click.Path(dir_okay=False, exists=True),
              help="The zip collect.ps1 wrote on the test machine, stored with the run.")
def replay(
    captures: tuple[str, ...], policy: str, db: str, label: str, fail_on_violation: bool,
    jobs: int, canary_texts: tuple[str, ...], canary_files: tuple[str, ...],
    scenario_file: str | None, settings_zip: str | None,
) -> None:
    """Replay capture files through the classifier into a new run."""
    from diagscope.replay import replay as run_replay
    from diagscope.sources.registry import expand_inputs

    missing = [p for p in captures if not Path(p).exists()]
    if missing:
        raise click.ClickException(f"no such capture file: {', '.join(missing)}")
    captures = tuple(expand_inputs(list(captures)))
    if not captures:
        raise click.ClickException("the given directories hold no capture files")
    try:
        loaded = load_policy(policy)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    scenario = _scenario(scenario_file)
    canaries = _canaries(canary_texts, canary_files, scenario)
    try:
        engine = open_engine(db)
    except Exception as exc:
        raise click.ClickException(f"cannot open database {db!r}: {exc}") from None
    total = sum(Path(p).stat().st_size for p in captures)
    show_progress = sys.stderr.isatty()
    with click.progressbar(
        length=max(total, 1), label="Replaying", file=sys.stderr,
        hidden=not show_progress,
    ) as bar:
        def progress(done: int) -> None:
            bar.update(done - bar.pos)

        summary = run_replay(
            list(captures), loaded=loaded, engine=engine, label=label,
            command=_redacted_command(), jobs=jobs, canaries=canaries,
            scenario=scenario.record() if scenario else None,
            on_flow=progress if show_progress else None,
        )
        if show_progress:
            bar.update(max(total, 1) - bar.pos)
    if settings_zip:
        _attach(engine, summary.run_id, settings_zip)
    click.echo(f"Run {summary.run_id} ({loaded.policy.name} {loaded.policy.version}) in {db}")
    click.echo(f"  flows read:          {summary.flows_read}")
    click.echo(f"  telemetry requests:  {summary.telemetry_requests}")
    click.echo(f"  events:              {summary.events}")
    total_findings = sum(summary.findings.values())
    click.echo(f"  findings:            {total_findings}")
    for (rule, severity), n in sorted(summary.findings.items()):
        click.echo(f"    {rule:<18} {severity:<10} {n}")
    verdict = "FAIL" if summary.violations else "PASS"
    click.echo(f"  verdict:             {verdict} ({summary.violations} violations)")
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    for damage in summary.damage:
        click.echo(
            f"error: {damage.path} is damaged after {damage.flows_read} flows: "
            f"{damage.message}; the flows before the damage were recorded",
            err=True,
        )
    if summary.damage:
        sys.exit(2)
    if fail_on_violation and summary.violations:
        sys.exit(1)


def _show_bond_tree(body: bytes, encoding: str | None) -> None:
    """What could be read of a damaged Bond body, schema-less, as evidence."""
    from diagscope.decode.bond import read_structs, to_jsonable
    from diagscope.decode.inflate import InflateError, inflate

    try:
        data = inflate(body, encoding).data
    except InflateError as exc:
        click.echo(f"# the body cannot be inflated: {exc}")
        return
    structs, error = read_structs(data)
    click.echo(f"# generic Bond tree: {len(structs)} structs read"
               + (f", then {error}" if error else ""))
    click.echo(text(json.dumps(to_jsonable(structs), indent=1, ensure_ascii=False)))


@main.command()
@click.option("--listen-host", default="127.0.0.1", show_default=True)
@click.option("--listen-port", type=int, default=8080, show_default=True,
              help="0 picks a free port (printed at start).")
@click.option("--policy", default=DEFAULT_POLICY, show_default=True,
              help="Bundled policy name or path to a policy YAML file.")
@db_option
@click.option("--label", default="", help="Label for this run, e.g. the build under test.")
@click.option("--block", is_flag=True,
              help="Answer violating telemetry with 204 instead of forwarding it.")
@click.option("--allow-remote", is_flag=True,
              help="Allow listening on a non-loopback address (requires --proxyauth).")
@click.option("--proxyauth", default=None, metavar="USER:PASS",
              help="Require proxy authentication (mitmproxy's proxyauth).")
@click.option("--confdir", default="~/.mitmproxy", show_default=True,
              help="Where mitmproxy keeps its CA certificate and key.")
@click.option("--capture", default=None, type=click.Path(dir_okay=False),
              help="Where to write the session's .mitm capture (default: next to the database).")
@click.option("--upstream-ca", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Also trust this CA for upstream servers (a lab collector stub).")
@click.option("--set", "mitm_options", multiple=True, metavar="OPTION=VALUE",
              help="Set any mitmproxy option, as with mitmdump --set (repeatable).")
@canary_options
@click.option("--scenario", "scenario_file", type=click.Path(dir_okay=False, exists=True),
              help="The scenario being played: stored with the run, its canaries searched for.")
def proxy(listen_host: str, listen_port: int, policy: str, db: str, label: str, block: bool,
          allow_remote: bool, proxyauth: str | None, confdir: str, capture: str | None,
          upstream_ca: str | None, mitm_options: tuple[str, ...], canary_texts: tuple[str, ...],
          canary_files: tuple[str, ...], scenario_file: str | None) -> None:
    """Intercept telemetry live: judge, store and (by default) forward every byte unchanged."""
    from diagscope.proxy import ProxySettings, is_loopback, run_proxy

    if not is_loopback(listen_host):
        if not allow_remote:
            raise click.UsageError(
                f"{listen_host} is not a loopback address; an open proxy on a lab network lets "
                "anyone through. Pass --allow-remote together with --proxyauth USER:PASS."
            )
        if not proxyauth:
            raise click.UsageError("--allow-remote requires --proxyauth USER:PASS")
    try:
        load_policy(policy)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    settings = ProxySettings(
        listen_host=listen_host, listen_port=listen_port, policy=policy, db=db, label=label,
        block=block, proxyauth=proxyauth, confdir=confdir, capture=capture,
        upstream_ca=upstream_ca, mitm_options=list(mitm_options),
        canaries=_canary_texts(canary_texts, canary_files, scenario_file),
        scenario_file=scenario_file,
    )
    sys.exit(run_proxy(settings))


def _canaries(texts: tuple[str, ...], files: tuple[str, ...],  # type: ignore[no-untyped-def]
              scenario=None):
    from diagscope.pii.canary import CanarySet, parse_canary, read_canary_file

    pairs = [parse_canary(t, i) for i, t in enumerate(texts, 1)]
    for path in files:
        pairs.extend(read_canary_file(path))
    if scenario is not None:
        pairs.extend(scenario.canary_pairs())
    try:
        return CanarySet(pairs) if pairs else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--canary") from None


def _scenario(path: str | None):  # type: ignore[no-untyped-def]
    if path is None:
        return None
    from diagscope.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None


def _attach(engine, run_id: int, path: str) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select, update

    from diagscope.lab.settings import SettingsError, compare, describe, read_settings
    from diagscope.store.tables import runs as runs_table

    try:
        record, has_ddv = read_settings(path)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    with engine.begin() as conn:
        scenario = conn.execute(select(runs_table.c.scenario)
                                .where(runs_table.c.id == run_id)).scalar()
        record["mismatches"] = compare(record, scenario)
        conn.execute(update(runs_table).where(runs_table.c.id == run_id)
                     .values(settings=record))
    click.echo(f"run {run_id}: configured {describe(record)}")
    for problem in record["mismatches"]:
        click.echo(f"WARNING: {problem}: this run does not test the scenario's setting",
                   err=True)
    if has_ddv:
        click.echo(f"{path} holds a Diagnostic Data Viewer export (diagnostic-data.json): "
                   "replay it and compare with `diagscope reconcile`.")


def _canary_texts(texts: tuple[str, ...], files: tuple[str, ...],
                  scenario_file: str | None) -> list[str]:
    """Canaries as `label=value` lines for the proxy's mitmproxy option."""
    from diagscope.pii.canary import parse_canary, read_canary_file

    scenario = _scenario(scenario_file)
    _canaries(texts, files, scenario)  # refuses unusable canaries before the proxy starts
    pairs = [parse_canary(t, i) for i, t in enumerate(texts, 1)]
    for path in files:
        pairs.extend(read_canary_file(path))
    if scenario is not None:
        pairs.extend(scenario.canary_pairs())
    return [f"{label}={value}" for label, value in pairs]


def _redacted_command() -> str:
    """The command line as stored with the run: canary values are test personal data."""
    args, hide = [], False
    for arg in sys.argv[1:]:
        if hide:
            args.append("<canary>")
            hide = False
        elif arg == "--canary":
            args.append(arg)
            hide = True
        elif arg.startswith("--canary="):
            args.append("--canary=<canary>")
        else:
            args.append(arg)
    return shlex.join(["diagscope", *args])


@main.command()
@db_option
@format_option
def runs(db: str, fmt: str) -> None:
    """List the runs in the database."""
    engine = _open_existing(db)
    columns = (
        "run", "label", "policy", "source", "status", "started_at", "requests", "events",
        "violations",
    )
    write_rows(list_runs(engine), columns, fmt)


@main.command()
@db_option
@run_option
@format_option
def events(db: str, run_id: int | None, fmt: str) -> None:
    """List the decoded events of a run."""
    engine = _open_existing(db)
    run = _run(engine, run_id)
    write_rows(iter_events(engine, run), EVENT_KEYS, fmt, widths={"name": 60})


@main.command()
@db_option
@run_option
@format_option
@click.option("--reveal", is_flag=True,
              help="Show clear values, re-read from the raw evidence (on a terminal only).")
def findings(db: str, run_id: int | None, fmt: str, reveal: bool) -> None:
    """List the findings of a run (values masked)."""
    engine = _open_existing(db)
    run = _run(engine, run_id)
    rows = iter_findings(engine, run)
    if reveal:
        if not sys.stdout.isatty():
            raise click.UsageError("--reveal shows personal data on your own terminal only; "
                                   "it does not write clear values to a pipe or file")
        from diagscope.reveal import reveal as reveal_values

        rows = iter(reveal_values(engine, run, rows))
    columns = FINDING_KEYS if fmt != "table" else (
        "flow_id", "event_index", "event_name", "rule", "severity", "field", "value", "detail",
    )
    write_rows(
        rows, columns, fmt,
        widths={"flow_id": 8, "event_name": 45, "detail": 80, "value": 30},
    )


@main.command()
@click.argument("flow_id")
@db_option
@run_option
def show(flow_id: str, db: str, run_id: int | None) -> None:
    """Print a request's decoded events as Common Schema JSON, declared PII kinds included."""
    engine = _open_existing(db)
    run = _run(engine, run_id)
    request = request_row(engine, run, flow_id)
    if request is None:
        raise click.ClickException(f"run {run} has no request with flow id {flow_id}")
    click.echo(
        f"# {request['method']} {request['scheme']}://{request['host']}:{request['port']}"
        f"{request['path']}"
    )
    click.echo(
        f"# {request['content_type']} ({request['content_encoding']}), "
        f"{request['body_size']} bytes, sha256 {request['body_sha256']}, "
        f"decode {request['decode_status']}"
        + (f": {request['decode_error']}" if request["decode_error"] else "")
    )
    if request["decode_status"] in ("undecodable", "partial") and \
            request["content_type"] == "application/bond-compact-binary":
        _show_bond_tree(request["body"], request["content_encoding"])
    for doc in event_documents(engine, run, flow_id):
        cs = doc["cs"]
        if doc["marks"]:
            cs = {**cs, "declaredPii": doc["marks"]}
        click.echo(f"# event {doc['event_index']}: level {doc['level']}, verdict {doc['verdict']}")
        click.echo(text(json.dumps(json.loads(dumps(cs)), indent=2, ensure_ascii=False)))


@main.command()
@click.argument("bundle", required=False, type=click.Path(dir_okay=False))
@db_option
@run_option
@click.option("--canary", "canary_texts", multiple=True, metavar="[LABEL=]VALUE",
              help="With a bundle: the run's canaries, to re-derive canary findings too.")
def verify(bundle: str | None, db: str, run_id: int | None,
           canary_texts: tuple[str, ...]) -> None:
    """Check a run's hash chain in the database, or an evidence bundle (zip)."""
    if bundle is not None:
        from diagscope.pii.canary import parse_canary
        from diagscope.report.bundle import verify_bundle_cli

        verify_bundle_cli(bundle, [parse_canary(t, i) for i, t in enumerate(canary_texts, 1)])
        return
    from diagscope.store.verify import verify_run

    engine = _open_existing(db)
    run = _run(engine, run_id)
    report = verify_run(engine, run)
    if not report.ok:
        raise click.ClickException(f"run {run}: chain broken: {report.problem}")
    click.echo(f"run {run}: chain intact, {report.rows} rows, head {report.head}")


def _write_private(path: Path, text: str) -> None:
    """Reports can hold masked personal data and evidence; only the user may read them."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fo:
        fo.write(text)
    os.chmod(path, 0o600)


@main.command()
@db_option
@run_option
@click.option("--out", type=click.Path(dir_okay=False), help="File to write (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["html", "json", "md"]), default=None,
              help="Default: from the --out suffix, else html.")
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True)
@click.option("--baseline", type=int, default=None, help="Compare with this earlier run.")
@click.option("--schema", is_flag=True, help="Print the JSON Schema of the JSON report.")
def report(db: str, run_id: int | None, out: str | None, fmt: str | None, lang: str,
           baseline: int | None, schema: bool) -> None:
    """Write the verification report of a run (HTML, JSON or Markdown)."""
    from diagscope.report.build import build_for_run, render

    if schema:
        from diagscope.report.render import report_schema

        click.echo(report_schema(), nl=False)
        return
    engine = _open_existing(db)
    run = _run(engine, run_id)
    if baseline is not None:
        _run(engine, baseline)
    if fmt is None:
        suffix = Path(out).suffix.lower().lstrip(".") if out else ""
        fmt = {"json": "json", "md": "md", "markdown": "md"}.get(suffix, "html")
    with click.progressbar(length=2, label="Building report", file=sys.stderr,
                           hidden=not sys.stderr.isatty()) as bar:
        built = build_for_run(engine, run, baseline)
        bar.update(1)
        text = render(built, fmt, lang)
        bar.update(1)
    if out:
        _write_private(Path(out), text)
        click.echo(f"{fmt.upper()} report of run {run} written to {out} "
                   f"(verdict {built.report.verdict.result})")
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@db_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def diff(run_a: int, run_b: int, db: str, fmt: str) -> None:
    """What changed from RUN_A (baseline build) to RUN_B (new build)."""
    from diagscope.report.diff import diff_reports, diff_text
    from diagscope.report.overview import build_report

    engine = _open_existing(db)
    a, b = _run(engine, run_a), _run(engine, run_b)
    section = diff_reports(build_report(engine, a), build_report(engine, b))
    if fmt == "json":
        click.echo(json.dumps(section.model_dump(mode="json"), indent=2))
    else:
        click.echo(diff_text(section, b))


@main.command()
@db_option
@run_option
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Zip file to write.")
@click.option("--redact", is_flag=True,
              help="Leave out raw bodies and capture files, for wider sharing.")
def export(db: str, run_id: int | None, out: str, redact: bool) -> None:
    """Write an evidence bundle (zip) that an auditor can check without diagscope."""
    from diagscope.report.bundle import PERSONAL_DATA_WARNING, export_bundle

    engine = _open_existing(db)
    run = _run(engine, run_id)
    steps = ["flows", "events and findings", "report", "writing"]
    with click.progressbar(length=len(steps), label="Exporting", file=sys.stderr,
                           hidden=not sys.stderr.isatty()) as bar:
        manifest = export_bundle(engine, run, out, redact=redact,
                                 progress=lambda _step: bar.update(1))
    click.echo(f"evidence bundle of run {run} written to {out} "
               f"(verdict {manifest['verdict']['result']})")
    if not redact:
        click.echo(f"warning: {PERSONAL_DATA_WARNING}", err=True)


def _age(text: str) -> timedelta:
    units = {"d": "days", "h": "hours", "w": "weeks"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError):
        raise click.BadParameter(f"{text!r} is not an age such as 30d, 12h or 4w") from None


@main.command()
@db_option
@click.option("--run", "run_ids", type=int, multiple=True, help="Run to delete (repeatable).")
@click.option("--older-than", "older", default=None, help="Delete runs started before this age "
              "(e.g. 30d, 12h, 4w).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(db: str, run_ids: tuple[int, ...], older: str | None, yes: bool) -> None:
    """Delete runs completely (rows, raw bodies, capture copies) and compact the database."""
    from diagscope.store.purge import purge_runs, runs_older_than

    if not run_ids and older is None:
        raise click.UsageError("name runs with --run ID or an age with --older-than")
    engine = _open_existing(db)
    targets = [_run(engine, r) for r in run_ids]
    if older is not None:
        targets += runs_older_than(engine, _age(older))
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


@main.command()
@click.argument("wire_run", type=int)
@click.argument("viewer_run", type=int)
@db_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--tolerance", type=float, default=2.0, show_default=True,
              help="Seconds two timestamps may differ and still be the same event.")
def reconcile(wire_run: int, viewer_run: int, db: str, fmt: str, tolerance: float) -> None:
    """Events seen on the wire but not in the Diagnostic Data Viewer, and the reverse."""
    from diagscope.report.reconcile import reconcile as run_reconcile
    from diagscope.report.reconcile import reconciliation_json

    engine = _open_existing(db)
    a, b = _run(engine, wire_run), _run(engine, viewer_run)
    result = run_reconcile(engine, a, b, timedelta(seconds=tolerance))
    if fmt == "json":
        click.echo(json.dumps(reconciliation_json(result), indent=2))
        return
    click.echo(f"matched: {result.matched}")
    click.echo(f"on the wire, not in the viewer (run {a}): {len(result.wire_only)}")
    for seen in result.wire_only:
        click.echo(f"  {seen.time:%Y-%m-%d %H:%M:%S}  {seen.name}  [{seen.flow_id[:8]}]"
                   if seen.time else f"  -  {seen.name}")
    click.echo(f"in the viewer, not on the wire (run {b}): {len(result.viewer_only)}")
    for seen in result.viewer_only:
        click.echo(f"  {seen.time:%Y-%m-%d %H:%M:%S}  {seen.name}" if seen.time
                   else f"  -  {seen.name}")


@main.command()
@click.argument("settings_zip", type=click.Path(dir_okay=False, exists=True))
@db_option
@run_option
def attach(settings_zip: str, db: str, run_id: int | None) -> None:
    """Store the test machine's collected settings (collect.ps1's zip) with a run."""
    engine = _open_existing(db)
    _attach(engine, _run(engine, run_id), settings_zip)


@main.group()
def scenario() -> None:
    """Scenario files: what a tester sets up, does and plants."""


@scenario.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def scenario_check(file: str) -> None:
    """Validate a scenario file."""
    loaded = _scenario(file)
    s = loaded.scenario
    click.echo(f"valid scenario {s.id}: {s.title} ({len(s.steps)} steps, "
               f"{len(s.canaries)} canaries, sha256 {loaded.sha256})")


@scenario.command("checklist")
@click.argument("file", type=click.Path(dir_okay=False))
def scenario_checklist(file: str) -> None:
    """Print the scenario as a Markdown checklist for the tester."""
    from diagscope.scenario import checklist

    click.echo(checklist(_scenario(file)), nl=False)


@main.group()
def lab() -> None:
    """Lab kit for the Windows test machine."""


@lab.command("script")
@click.option("--scenario", "scenario_file", required=True,
              type=click.Path(dir_okay=False, exists=True))
@click.option("--proxy", "proxy_address", required=True, metavar="HOST:PORT",
              help="The diagscope proxy as the test machine reaches it.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder to write setup.ps1, collect.ps1 and teardown.ps1 into.")
@click.option("--ca", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The proxy's CA certificate to ship (default: ~/.mitmproxy's, if there).")
def lab_script(scenario_file: str, proxy_address: str, out: str, ca: str | None) -> None:
    """Write the PowerShell scripts that prepare, read out and restore the test machine."""
    import re

    from diagscope.lab.scripts import write_scripts

    if not re.fullmatch(r"[A-Za-z0-9.\-]+:\d{1,5}", proxy_address):
        raise click.BadParameter("use HOST:PORT, e.g. 192.0.2.1:8080", param_hint="--proxy")
    default_ca = Path("~/.mitmproxy/mitmproxy-ca-cert.cer").expanduser()
    ca_path = Path(ca) if ca else (default_ca if default_ca.exists() else None)
    written = write_scripts(_scenario(scenario_file), proxy_address, Path(out), ca_path)
    for path in written:
        click.echo(f"wrote {path}")
    if ca_path is None:
        click.echo("note: no CA certificate found; copy mitmproxy-ca-cert.cer next to the "
                   "scripts as diagscope-ca.cer (start `diagscope proxy` once to create it)")


@main.group()
def policy() -> None:
    """Validate and read policies."""


def _policy_summary(loaded) -> None:  # type: ignore[no-untyped-def]
    p = loaded.policy
    click.echo(f"{p.name} {p.version}  (sha256 {loaded.sha256})")
    click.echo(f"  file: {loaded.path}")
    click.echo(f"  source: {p.source}")
    for product, pp in sorted(p.products.items()):
        extra = f", {len(pp.security_events)} security-level event patterns" \
            if pp.security_events else ""
        click.echo(f"  {product}: at most {pp.max_level.value}{extra}")
    permitted = sorted(k for k, v in p.purposes.items() if v.permitted)
    forbidden = sorted(k for k, v in p.purposes.items() if not v.permitted)
    click.echo(f"  permitted purposes: {', '.join(permitted) or '-'}")
    click.echo(f"  forbidden purposes: {', '.join(forbidden) or '-'}")
    patterns = sum(len(r.segments) for r in p.name_rules)
    click.echo(f"  name rules: {len(p.name_rules)} ({patterns} segment patterns); "
               f"categories mapped: {len(p.categories)}; event overrides: {len(p.events)}")
    allowed = [h for h, e in p.destinations.endpoints.items() if e.allowed]
    click.echo(f"  endpoints: {len(p.destinations.endpoints)} listed, {len(allowed)} allowed; "
               f"required region: {p.destinations.required_region or 'none'}")
    click.echo("  plaintext HTTP: " + ("allowed" if p.transport.plaintext_http_allowed
                                       else "forbidden"))
    click.echo(f"  decompression bound: {p.limits.max_body_bytes} bytes")


@policy.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def policy_check(file: str) -> None:
    """Validate a policy file (and what it extends) and summarise it."""
    try:
        loaded = load_policy(file)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("valid policy")
    _policy_summary(loaded)


@policy.command("show")
@click.argument("name", default=DEFAULT_POLICY)
@click.option("--resolved", is_flag=True, help="Print the policy with its base merged in.")
def policy_show(name: str, resolved: bool) -> None:
    """Print a bundled or local policy."""
    try:
        loaded = load_policy(name)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    if resolved:
        import yaml

        data = loaded.policy.model_dump(mode="json")
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))
    else:
        click.echo(loaded.text.rstrip())


@main.command()
@click.argument("flow_id")
@click.argument("event_index", type=int, required=False)
@db_option
@run_option
def explain(flow_id: str, event_index: int | None, db: str, run_id: int | None) -> None:
    """How each verdict on a request (or one of its events) was reached."""
    from diagscope.explain import explain_request

    engine = _open_existing(db)
    run = _run(engine, run_id)
    try:
        text = explain_request(engine, run, flow_id, event_index)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(text)



@main.group()
def catalogue() -> None:
    """Microsoft's published lists of diagnostic events, as diagscope ships them."""


@catalogue.command("show")
@click.argument("name")
def catalogue_show(name: str) -> None:
    """Print everything the catalogue documents about an event."""
    from diagscope.policy.catalogue import describe, lookup_any, suggest

    found = lookup_any(name)
    if found is None:
        close = suggest(name)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise click.ClickException(f"{name} is not in the catalogue{hint}")
    click.echo(describe(found[1]))


@catalogue.command("search")
@click.argument("text")
@click.option("--product", type=click.Choice(["office", "windows"]), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def catalogue_search(text: str, product: str | None, limit: int) -> None:
    """Events whose name, area or description contains TEXT (names first)."""
    from diagscope.policy.catalogue import search_all

    found = search_all(text, product)
    rows = [{"name": e.name, "product": e.product, "level": e.level, "area": e.category}
            for e in found[:limit]]
    write_rows(rows, ("name", "product", "level", "area"), "table")
    if len(found) > limit:
        click.echo(f"... {len(found) - limit} more (--limit)")


@catalogue.command("stats")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def catalogue_stats(fmt: str) -> None:
    """How many events each product's catalogue documents, per level and document."""
    from diagscope.policy.catalogue import stats

    figures = stats()
    if fmt == "json":
        click.echo(json.dumps(figures, indent=2))
        return
    for product, counts in figures["products"].items():
        click.echo(f"{product}: {counts['events']} events, {counts['with_fields']} with "
                   f"fields, {counts['sources']} documents")
        click.echo("  levels: " + ", ".join(f"{k} {v}" for k, v in counts["levels"].items()))
        for document, count in counts["documents"].items():
            click.echo(f"  {document}: {count}")


if __name__ == "__main__":  # pragma: no cover
    main()
