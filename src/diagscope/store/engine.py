"""Open a database: a file path means SQLite (private to the user), else any SQLAlchemy URL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url

from diagscope.files import ensure_private
from diagscope.store.jsoncodec import dumps
from diagscope.store.migrate import upgrade

DEFAULT_DB = "diagscope.sqlite"
#: The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: Tables every diagscope database has, whatever its schema revision (Alembic's table
#: included: another program's database may well have a table called `runs`).
MARKER_TABLES = frozenset({"runs", "alembic_version"})


class NoSuchDatabase(FileNotFoundError):
    """A database that must exist does not."""


class NotADiagscopeDatabase(ValueError):
    """A file or database that diagscope did not create; it is left exactly as it was."""


def database_url(db: str) -> str:
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser()}"


_BUSY_MS = 30_000


def _enable_wal(cursor) -> None:
    # Switching to WAL needs a moment of exclusive access and SQLite reports "database is
    # locked" at once rather than calling the busy handler, so several processes opening a
    # new file together must retry. Once the file is in WAL mode the pragma is a no-op.
    deadline = time.monotonic() + _BUSY_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _table_list(names: list[str]) -> str:
    shown = sorted(names)
    listed = ", ".join(shown[:8]) + (f" and {len(shown) - 8} more" if len(shown) > 8 else "")
    return f"it has tables: {listed}" if shown else "it has no tables"


def _sqlite_tables(path: Path) -> list[str]:
    """The tables of an SQLite file, read without writing a byte: a read-only connection
    that sets no pragma (turning on WAL, as diagscope's connections do, rewrites the
    header)."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return [name for (name,) in rows]
    finally:
        connection.close()


def check_sqlite_file(path: Path) -> None:
    """Refuse, before anything opens it for writing, a path that is not a diagscope
    database: missing, a folder, empty, not SQLite, or SQLite without diagscope's tables."""
    if not path.exists():
        raise NoSuchDatabase(f"no such database: {path}")
    if not path.is_file():
        raise NotADiagscopeDatabase(f"{path} is not a diagscope database (it is a folder)")
    with open(path, "rb") as fo:
        head = fo.read(len(SQLITE_HEADER))
    if not head:
        raise NotADiagscopeDatabase(f"{path} is not a diagscope database (it is empty)")
    if head != SQLITE_HEADER:
        raise NotADiagscopeDatabase(
            f"{path} is not a diagscope database (it is not an SQLite file)")
    try:
        tables = _sqlite_tables(path)
    except sqlite3.Error as exc:
        raise NotADiagscopeDatabase(
            f"{path} is not a diagscope database (SQLite cannot read it: {exc})") from None
    if not set(tables) >= MARKER_TABLES:
        raise NotADiagscopeDatabase(
            f"{path} is not a diagscope database ({_table_list(tables)})")


def _check_server_database(engine: Engine, url: URL) -> None:
    """The same refusal for a database server: reading commands never create the schema."""
    tables = inspect(engine).get_table_names()
    if not set(tables) >= MARKER_TABLES:
        shown = url.render_as_string(hide_password=True)
        raise NotADiagscopeDatabase(
            f"{shown} is not a diagscope database ({_table_list(tables)})")


def open_engine(db: str = DEFAULT_DB, *, create: bool = True) -> Engine:
    """An engine with the schema in place (created or upgraded by migrations).

    `create=False` is for commands that read: a database that does not exist yet, or a
    file or database another program made, is refused (`NoSuchDatabase`,
    `NotADiagscopeDatabase`) and left untouched, rather than given diagscope's tables."""
    url = make_url(database_url(db))
    is_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if is_file:
        path = Path(str(url.database))
        if not create:
            check_sqlite_file(path)
        # Created 0600 before SQLite touches it; SQLite gives its -wal/-shm files the
        # same mode.
        ensure_private(path)
    engine = create_engine(url, json_serializer=dumps)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif not create:
        try:
            _check_server_database(engine, url)
        except BaseException:
            engine.dispose()
            raise
    upgrade(engine)
    return engine
