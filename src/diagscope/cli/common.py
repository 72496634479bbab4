"""What several commands share: the database and run options, opening a session."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from diagscope.output import FORMATS
from diagscope.redact import hide_url_password
from diagscope.session import RunSession, SessionError, SessionSettings
from diagscope.store.engine import (
    DEFAULT_DB,
    NoSuchDatabase,
    NotADiagscopeDatabase,
    open_engine,
)
from diagscope.store.queries import NoSuchRun, resolve_flow_id, resolve_run

F = TypeVar("F", bound=Callable[..., Any])

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


def open_existing(db: str) -> Engine:
    """A diagscope database that must already exist: reading commands never create one, nor
    add tables to a file another program made. Every refusal is one line."""
    try:
        return open_engine(db, create=False)
    except (NoSuchDatabase, NotADiagscopeDatabase) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        # Drivers' messages run to several lines (SQL, a link to a help page): the first
        # says what went wrong.
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise click.ClickException(
            f"cannot open database {hide_url_password(db)}: {first}") from None


def run_of(engine: Engine, run_id: int | None) -> int:
    try:
        return resolve_run(engine, run_id)
    except NoSuchRun as exc:
        raise click.ClickException(str(exc)) from None


def flow_of(engine: Engine, run_id: int, flow_id: str) -> str:
    """The run's flow id that `flow_id` is, or is the unique prefix of."""
    try:
        return resolve_flow_id(engine, run_id, flow_id)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


def refuse_reveal_unless_terminal() -> None:
    """Clear personal data goes to the tester's own terminal, never into a pipe or file."""
    if not sys.stdout.isatty():
        raise click.UsageError("--reveal shows personal data on your own terminal only; "
                               "it does not write clear values to a pipe or file")


def open_session(settings: SessionSettings) -> RunSession:
    try:
        return RunSession(settings)
    except SessionError as exc:
        raise click.ClickException(str(exc)) from None


def parse_age(text: str) -> timedelta:
    units = {"d": "days", "h": "hours", "w": "weeks"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError, IndexError):
        raise click.BadParameter(f"{text!r} is not an age such as 30d, 12h or 4w") from None
