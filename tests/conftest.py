"""Shared fixtures: the default policy, temporary databases and capture files."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import configuration as hypothesis_configuration

from diagscope.policy.load import LoadedPolicy, load_policy
from diagscope.sources.synthetic import make_flow, write_capture

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "captures"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Hypothesis keeps its example database and caches in the working directory unless told
# otherwise; tests never write into the checkout (nor does pytest: see `addopts`).
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="diagscope-hypothesis-")
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)
hypothesis_configuration.set_hypothesis_home_dir(_HYPOTHESIS_HOME)


def unavailable(why: str) -> None:
    """Skip a test whose outside tool is missing; in CI, where .ci/run installs it, fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI installs it: see .ci/run)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def loaded_policy() -> LoadedPolicy:
    return load_policy()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "diagscope.sqlite")


@pytest.fixture
def capture(tmp_path: Path):
    """Write flows to a capture file and return its path."""
    counter = iter(range(1000))

    def write(flows: list) -> str:
        path = tmp_path / f"capture-{next(counter)}.mitm"
        write_capture(str(path), flows)
        return str(path)

    return write


@pytest.fixture(scope="session")
def sample_flows() -> list:
    import make_samples

    return make_samples.office_json_flows()


def telemetry_flow(name: str, body: bytes, headers=(), path="/OneCollector/1.0/",
                   host="self.events.data.microsoft.com", **kw):
    return make_flow(name, time=1793610000.0, host=host, path=path, headers=list(headers),
                     body=body, **kw)


@pytest.fixture(scope="session")
def pg_server():
    from pg_support import postgres_cluster

    with postgres_cluster() as (url, why):
        if url is None:
            unavailable(f"PostgreSQL tests skipped: {why}")
        yield url


@contextmanager
def fresh_pg_database(server: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL `server`, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the session's PostgreSQL server."""
    with fresh_pg_database(pg_server) as url:
        yield url
