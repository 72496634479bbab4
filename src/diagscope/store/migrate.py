"""Bring a database's schema to the current revision, safely with several writers at once."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).with_name("migrations")
#: Any constant works; it only has to be the same for every diagscope process.
_PG_LOCK_KEY = 0x6469_6167  # "diag"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _file_lock(path: str | None) -> Iterator[None]:
    # SQLite's own locks do not cover "check the revision, then create the tables"; an
    # advisory lock on the database file does (SQLite itself uses fcntl locks, not flock).
    if not path or path == ":memory:":
        yield
        return
    with open(path, "a+b") as fo:
        fcntl.flock(fo, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fo, fcntl.LOCK_UN)


def upgrade(engine: Engine) -> None:
    """Run pending migrations; concurrent callers wait for each other instead of racing."""
    head = head_revision()
    with engine.connect() as conn:
        if current_revision(conn) == head:
            return
    sqlite_path = engine.url.database if engine.dialect.name == "sqlite" else None
    with _file_lock(sqlite_path), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        if current_revision(conn) != head:
            if current_revision(conn) is None and inspect(conn).has_table("runs"):
                raise RuntimeError(
                    "this database holds diagscope tables but no schema revision; it was "
                    "not created by this version of diagscope"
                )
            command.upgrade(_config(conn), "head")
