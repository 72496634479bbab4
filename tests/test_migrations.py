"""Schema changes go through Alembic: the migrated schema is exactly tables.py."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import fresh_pg_database
from sqlalchemy import create_engine, inspect

from diagscope.store.engine import open_engine
from diagscope.store.migrate import HEAD_REVISION, current_revision, head_revision, migrate
from diagscope.store.tables import metadata


def _drift(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def _migrated_from_scratch(url: str):
    """A database built the long way: every migration from the first."""
    engine = create_engine(url)
    with engine.begin() as conn:
        migrate(conn)
    return engine


def _schema(engine) -> dict:
    """Everything the store relies on, as the database itself reports it."""
    found: dict[str, Any] = {}
    with engine.connect() as conn:
        inspector = inspect(conn)
        for table in sorted(inspector.get_table_names()):
            found[table] = {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"])
                                  for c in inspector.get_columns(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in inspector.get_indexes(table)),
                "unique": sorted(tuple(u["column_names"])
                                 for u in inspector.get_unique_constraints(table)),
                "foreign": sorted((tuple(f["constrained_columns"]), f["referred_table"])
                                  for f in inspector.get_foreign_keys(table)),
                "primary": inspector.get_pk_constraint(table)["constrained_columns"],
            }
        for view in sorted(inspector.get_view_names()):
            found[f"view {view}"] = sorted(c["name"] for c in inspector.get_columns(view))
    return found


def test_the_head_revision_constant_is_the_newest_migration():
    assert head_revision() == HEAD_REVISION


def test_sqlite_is_migrated_to_head_and_matches_the_tables(tmp_path):
    engine = _migrated_from_scratch(f"sqlite:///{tmp_path / 'migrated.sqlite'}")
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert _drift(engine) == [], "tables.py changed without a migration: add one"


def test_a_new_sqlite_database_is_created_as_the_migrations_would_build_it(tmp_path, db_path):
    created = open_engine(db_path)
    with created.connect() as conn:
        assert current_revision(conn) == HEAD_REVISION
    assert _drift(created) == []
    migrated = _migrated_from_scratch(f"sqlite:///{tmp_path / 'migrated.sqlite'}")
    assert _schema(created) == _schema(migrated)


def test_postgres_is_migrated_to_head_and_matches_the_tables(pg_url):
    engine = _migrated_from_scratch(pg_url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert _drift(engine) == [], "tables.py changed without a migration: add one"


@pytest.fixture
def second_pg_url(pg_server):
    """Another fresh, empty database on the session's PostgreSQL server."""
    with fresh_pg_database(pg_server) as url:
        yield url


def test_a_new_postgres_database_is_created_as_the_migrations_would_build_it(pg_url,
                                                                             second_pg_url):
    created = open_engine(pg_url)
    with created.connect() as conn:
        assert current_revision(conn) == HEAD_REVISION
    assert _drift(created) == []
    migrated = _migrated_from_scratch(second_pg_url)
    with migrated.connect() as conn:
        assert current_revision(conn) == HEAD_REVISION
    assert _schema(created) == _schema(migrated)
    created.dispose()
    migrated.dispose()


def test_creating_or_opening_a_current_database_does_not_load_alembic(db_path):
    code = ("import sys; from diagscope.store.engine import open_engine; "
            f"open_engine({db_path!r}).dispose(); print('alembic' in sys.modules)")
    for _ in ("create", "open"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
        assert done.stdout.strip() == "False", done.stderr
    with open_engine(db_path).connect() as conn:
        assert current_revision(conn) == HEAD_REVISION


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
