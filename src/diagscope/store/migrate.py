"""Bring a database's schema to the current revision, safely with several writers at once.

Alembic is imported only when a database needs migrating: opening a database that is
already current (every command after the first) reads its revision with one query. An
empty database gets the tables of `tables.py` in one go and is stamped with the current
revision, as Alembic recommends for building a database from scratch; the tests check that
this and running every migration give the same schema.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, inspect, select, text

from diagscope.store.tables import create_views, metadata

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
#: The newest migration in `migrations/versions` (a test keeps the two the same).
HEAD_REVISION = "0011"
#: Any constant works; it only has to be the same for every diagscope process.
_PG_LOCK_KEY = 0x6469_6167  # "diag"

# Alembic's own bookkeeping table, as Alembic creates it.
_version_metadata = MetaData()
_alembic_version = Table(
    "alembic_version", _version_metadata,
    Column("version_num", String(32), primary_key=True),
)
_alembic_version.primary_key.name = "alembic_version_pkc"


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The head of the migration scripts, as Alembic finds it."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is stamped with; None for a database without one."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(select(_alembic_version.c.version_num)).scalars().all()
    if len(versions) > 1:
        raise RuntimeError(f"the database is stamped with several revisions: {versions}")
    return versions[0] if versions else None


def migrate(connection: Connection, revision: str = "head") -> None:
    """Run the migrations up to `revision` (Alembic's upgrade) on an open connection."""
    from alembic import command

    command.upgrade(_config(connection), revision)


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


def create_current(connection: Connection) -> None:
    """The current schema on an empty database, stamped with the head revision."""
    metadata.create_all(connection)
    create_views(connection)
    _version_metadata.create_all(connection)
    connection.execute(_alembic_version.insert().values(version_num=HEAD_REVISION))


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema; concurrent callers wait for each other instead of
    racing."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD_REVISION:
            return
    sqlite_path = engine.url.database if engine.dialect.name == "sqlite" else None
    with _file_lock(sqlite_path), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        revision = current_revision(conn)
        if revision == HEAD_REVISION:
            return
        if revision is None:
            tables = set(inspect(conn).get_table_names())
            if "runs" in tables:
                raise RuntimeError(
                    "this database holds diagscope tables but no schema revision; it was "
                    "not created by this version of diagscope"
                )
            if not tables & set(metadata.tables):
                create_current(conn)
                return
        migrate(conn)
