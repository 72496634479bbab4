"""What several commands share: the database and run options, opening a session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from diagscope.output import FORMATS
from diagscope.session import RunSession, SessionError, SessionSettings
from diagscope.store.engine import DEFAULT_DB, open_engine
from diagscope.store.queries import NoSuchRun, resolve_run

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
    """A database that must already exist (reading commands never create one)."""
    try:
        return open_engine(db, create=False)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise click.ClickException(f"cannot open database {db!r}: {exc}") from None


def run_of(engine: Engine, run_id: int | None) -> int:
    try:
        return resolve_run(engine, run_id)
    except NoSuchRun as exc:
        raise click.ClickException(str(exc)) from None


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
