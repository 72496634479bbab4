"""`diagscope step`: move a live run on to a scenario step, from a script."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from diagscope.cli.common import db_option, open_existing
from diagscope.cli.main import main
from diagscope.store.steps import NoOpenRun, open_run, record_step


@main.command()
@click.argument("number", type=click.IntRange(min=1))
@db_option
@click.option("--run", "run_id", type=int, default=None,
              help="The run to move on (default: the one being recorded).")
def step(number: int, db: str, run_id: int | None) -> None:
    """Requests made from now on belong to scenario step NUMBER (of the run a proxy is
    recording); the same as a key in `diagscope proxy` or the `diagscope.step` command."""
    engine = open_existing(db)
    try:
        run = run_id if run_id is not None else open_run(engine)
        record_step(engine, run, number, datetime.now(UTC))
    except (NoOpenRun, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"run {run}: step {number} from now on")
