"""Reading a run: `runs`, `events`, `findings`, `show`, `explain`."""

from __future__ import annotations

import sys

import click

from diagscope.cli.common import db_option, format_option, open_existing, run_of, run_option
from diagscope.cli.main import main
from diagscope.output import write_rows
from diagscope.store.queries import FINDING_KEYS, iter_events, iter_findings, list_runs

#: The keys of `events --format jsonl`: part of the export contract (README).
EVENT_KEYS = (
    "run", "flow_id", "event_index", "name", "product", "time", "level", "purpose", "verdict",
)


@main.command()
@db_option
@format_option
def runs(db: str, fmt: str) -> None:
    """List the runs in the database."""
    columns = ("run", "label", "policy", "source", "status", "started_at", "requests",
               "events", "violations")
    write_rows(list_runs(open_existing(db)), columns, fmt)


@main.command()
@db_option
@run_option
@format_option
def events(db: str, run_id: int | None, fmt: str) -> None:
    """List the decoded events of a run."""
    engine = open_existing(db)
    write_rows(iter_events(engine, run_of(engine, run_id)), EVENT_KEYS, fmt,
               widths={"name": 60})


@main.command()
@db_option
@run_option
@format_option
@click.option("--reveal", is_flag=True,
              help="Show clear values, re-read from the raw evidence (on a terminal only).")
def findings(db: str, run_id: int | None, fmt: str, reveal: bool) -> None:
    """List the findings of a run (values masked)."""
    engine = open_existing(db)
    run = run_of(engine, run_id)
    rows = iter_findings(engine, run)
    if reveal:
        if not sys.stdout.isatty():
            raise click.UsageError("--reveal shows personal data on your own terminal only; "
                                   "it does not write clear values to a pipe or file")
        from diagscope.reveal import reveal as reveal_values

        rows = iter(reveal_values(engine, run, rows))
    columns = FINDING_KEYS if fmt != "table" else (
        "flow_id", "event_index", "event_name", "rule", "severity", "field", "value", "detail")
    write_rows(rows, columns, fmt,
               widths={"flow_id": 8, "event_name": 45, "detail": 80, "value": 30})


@main.command()
@click.argument("flow_id")
@db_option
@run_option
def show(flow_id: str, db: str, run_id: int | None) -> None:
    """Print a request's decoded events as Common Schema JSON, declared PII kinds included."""
    from diagscope.show import request_text

    engine = open_existing(db)
    try:
        click.echo(request_text(engine, run_of(engine, run_id), flow_id))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.argument("flow_id")
@click.argument("event_index", type=int, required=False)
@db_option
@run_option
def explain(flow_id: str, event_index: int | None, db: str, run_id: int | None) -> None:
    """How each verdict on a request (or one of its events) was reached."""
    from diagscope.explain import explain_request

    engine = open_existing(db)
    try:
        click.echo(explain_request(engine, run_of(engine, run_id), flow_id, event_index))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
