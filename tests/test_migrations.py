"""Schema changes go through Alembic: the migrated schema is exactly tables.py."""

from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from diagscope.store.engine import open_engine
from diagscope.store.migrate import current_revision, head_revision
from diagscope.store.tables import metadata


def _drift(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def test_sqlite_is_migrated_to_head_and_matches_the_tables(db_path):
    engine = open_engine(db_path)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert _drift(engine) == [], "tables.py changed without a migration: add one"


def test_postgres_is_migrated_to_head_and_matches_the_tables(pg_url):
    engine = open_engine(pg_url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert _drift(engine) == [], "tables.py changed without a migration: add one"


def test_concurrent_first_opens_of_one_sqlite_file(tmp_path):
    db = tmp_path / "shared.sqlite"
    code = ("import sys; from diagscope.store.engine import open_engine; "
            "open_engine(sys.argv[1]).dispose()")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], stderr=subprocess.PIPE)
             for _ in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with open_engine(str(db)).connect() as conn:
        assert current_revision(conn) == head_revision()
