"""Open a database: a file path means SQLite (private to the user), else any SQLAlchemy URL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from diagscope.files import ensure_private
from diagscope.store.jsoncodec import dumps
from diagscope.store.migrate import upgrade

DEFAULT_DB = "diagscope.sqlite"


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


def open_engine(db: str = DEFAULT_DB, *, create: bool = True) -> Engine:
    """An engine with the schema in place. `create=False` refuses to create a new file."""
    url = make_url(database_url(db))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if not create and not path.exists():
            raise FileNotFoundError(f"database {path} does not exist")
        # Created 0600 before SQLite touches it; SQLite gives its -wal/-shm files the
        # same mode.
        ensure_private(path)
    engine = create_engine(url, json_serializer=dumps)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    upgrade(engine)
    return engine
