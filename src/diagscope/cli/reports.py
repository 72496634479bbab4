"""Reports on runs: `report`, `diff`, `reconcile`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from diagscope.cli.common import db_option, open_existing, run_of, run_option
from diagscope.cli.main import main
from diagscope.files import write_private
from diagscope.report.formats import format_for_suffix, report_formats


def warn(warnings: list[str]) -> None:
    """On stderr, so that the text or JSON on stdout stays what it was asked for."""
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@db_option
@run_option
@click.option("--out", type=click.Path(dir_okay=False), help="File to write (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(report_formats()), default=None,
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
    engine = open_existing(db)
    run = run_of(engine, run_id)
    if baseline is not None:
        from diagscope.report.diff import diff_warnings

        warn(diff_warnings(engine, run_of(engine, baseline), run))
    fmt = fmt or (format_for_suffix(Path(out).suffix) if out else None) or "html"
    built = build_for_run(engine, run, baseline)
    text = render(built, fmt, lang)
    if not out:
        click.echo(text, nl=False)
        return
    write_private(Path(out), text)
    click.echo(f"{fmt.upper()} report of run {run} written to {out} "
               f"(verdict {built.report.verdict.result})")


@main.command()
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@db_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def diff(run_a: int, run_b: int, db: str, fmt: str) -> None:
    """What changed from RUN_A (baseline build) to RUN_B (new build).

    Warns (on stderr) when the runs used different policies, scenarios or canaries, or when
    RUN_A is the newer run."""
    from diagscope.report.diff import diff_runs, diff_text, diff_warnings

    engine = open_existing(db)
    a, b = run_of(engine, run_a), run_of(engine, run_b)
    warn(diff_warnings(engine, a, b))
    section = diff_runs(engine, a, b)
    click.echo(json.dumps(section.model_dump(mode="json"), indent=2) if fmt == "json"
               else diff_text(section, b))


@main.command()
@click.argument("wire_run", type=int)
@click.argument("viewer_run", type=int)
@db_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--tolerance", type=float, default=2.0, show_default=True,
              help="Seconds two timestamps may differ and still be the same event.")
def reconcile(wire_run: int, viewer_run: int, db: str, fmt: str, tolerance: float) -> None:
    """Events seen on the wire but not in the Diagnostic Data Viewer, and the reverse.

    Warns (on stderr) when the runs used different policies, scenarios or canaries, or when
    WIRE_RUN is a viewer import and VIEWER_RUN is not."""
    from diagscope.report.reconcile import reconcile as run_reconcile
    from diagscope.report.reconcile import (
        reconcile_warnings,
        reconciliation_json,
        reconciliation_text,
    )

    engine = open_existing(db)
    a, b = run_of(engine, wire_run), run_of(engine, viewer_run)
    warn(reconcile_warnings(engine, a, b))
    result = run_reconcile(engine, a, b, timedelta(seconds=tolerance))
    click.echo(json.dumps(reconciliation_json(result), indent=2) if fmt == "json"
               else reconciliation_text(result, a, b))
