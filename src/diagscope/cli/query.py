"""Reading a run: `runs`, `events`, `findings`, `show`, `explain`."""

from __future__ import annotations

import click

from diagscope.cli.common import (
    db_option,
    flow_of,
    format_option,
    open_existing,
    refuse_reveal_unless_terminal,
    run_of,
    run_option,
)
from diagscope.cli.main import main
from diagscope.model import Product, Severity, Verdict
from diagscope.output import write_rows
from diagscope.rules import rule_names
from diagscope.store.queries import (
    FINDING_KEYS,
    iter_events_matching,
    iter_findings_matching,
    list_runs,
)

#: The keys of `events --format jsonl`: part of the export contract (README).
EVENT_KEYS = (
    "run", "flow_id", "event_index", "name", "product", "time", "level", "purpose", "verdict",
)

rule_option = click.option(
    "--rule", "rules", multiple=True, type=click.Choice(rule_names()),
    help="Only what a finding of this rule is about (repeatable).")
flow_id_argument = click.argument("flow_id", metavar="FLOW_ID")
PRODUCTS = [p.value for p in Product]
VERDICTS = [v.value for v in Verdict]
SEVERITIES = [s.value for s in Severity]
FLOW_ID_HELP = "FLOW_ID may be any prefix of a flow id that only one request of the run has."


step_option = click.option(
    "--step", "steps", multiple=True, type=click.IntRange(min=1),
    help="Only what was sent during this scenario step (repeatable).")


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
@rule_option
@click.option("--product", "products", multiple=True, type=click.Choice(PRODUCTS),
              help="Only events of this product (repeatable).")
@click.option("--verdict", "verdicts", multiple=True, type=click.Choice(VERDICTS),
              help="Only events with this verdict (repeatable).")
@step_option
def events(db: str, run_id: int | None, fmt: str, rules: tuple[str, ...],
           products: tuple[str, ...], verdicts: tuple[str, ...], steps: tuple[int, ...]
           ) -> None:
    """List the decoded events of a run.

    With --rule, the events a finding of that rule is about: an event-level finding about
    its event, a request-level one (destination, transport) about every event the request
    carried."""
    engine = open_existing(db)
    rows = iter_events_matching(engine, run_of(engine, run_id), rules=rules,
                                products=products, verdicts=verdicts, steps=steps)
    write_rows(rows, EVENT_KEYS, fmt, widths={"name": 60})


@main.command()
@db_option
@run_option
@format_option
@rule_option
@click.option("--severity", "severities", multiple=True, type=click.Choice(SEVERITIES),
              help="Only findings of this severity (repeatable).")
@step_option
@click.option("--reveal", is_flag=True,
              help="Show clear values, re-read from the raw evidence (on a terminal only).")
def findings(db: str, run_id: int | None, fmt: str, rules: tuple[str, ...],
             severities: tuple[str, ...], steps: tuple[int, ...], reveal: bool) -> None:
    """List the findings of a run (values masked)."""
    if reveal:
        refuse_reveal_unless_terminal()
    engine = open_existing(db)
    run = run_of(engine, run_id)
    rows = iter_findings_matching(engine, run, rules=rules, severities=severities,
                                  steps=steps)
    if reveal:
        from diagscope.reveal import reveal as reveal_values

        rows = iter(reveal_values(engine, run, rows))
    columns = FINDING_KEYS if fmt != "table" else (
        "flow_id", "event_index", "event_name", "rule", "severity", "field", "value", "detail")
    write_rows(rows, columns, fmt,
               widths={"flow_id": 8, "event_name": 45, "detail": 80, "value": 30})


@main.command(epilog=FLOW_ID_HELP)
@flow_id_argument
@db_option
@run_option
@click.option("--reveal", is_flag=True,
              help="Print the values findings name in clear (on a terminal only).")
def show(flow_id: str, db: str, run_id: int | None, reveal: bool) -> None:
    """Print a request's decoded events as Common Schema JSON, declared PII kinds included.

    The values the run's findings name (personal data, canaries) are masked as `findings`
    masks them, and so is what the detectors recognise in a damaged body's generic Bond
    tree: the output can go to a file or a ticket. --reveal prints them in clear on your
    own terminal; it is refused when the output is a pipe or file."""
    from diagscope.show import request_text

    if reveal:
        refuse_reveal_unless_terminal()
    engine = open_existing(db)
    run = run_of(engine, run_id)
    click.echo(request_text(engine, run, flow_of(engine, run, flow_id), clear=reveal))


@main.command(epilog=FLOW_ID_HELP)
@flow_id_argument
@click.argument("event_index", type=int, required=False)
@db_option
@run_option
def explain(flow_id: str, event_index: int | None, db: str, run_id: int | None) -> None:
    """How each verdict on a request (or one of its events) was reached."""
    from diagscope.explain import explain_request

    engine = open_existing(db)
    run = run_of(engine, run_id)
    try:
        click.echo(explain_request(engine, run, flow_of(engine, run, flow_id), event_index))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
