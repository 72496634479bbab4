"""A throw-away PostgreSQL cluster on 127.0.0.1 for the test session.

Uses DIAGSCOPE_TEST_PG_URL when set; otherwise starts a cluster with the distribution's
`initdb`/`pg_ctl` (as the `postgres` user when running as root, since PostgreSQL refuses
root). Returns None when neither is possible, and the tests that need it skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_cluster() -> Iterator[tuple[str | None, str]]:
    """(url or None, why not)."""
    if os.environ.get("DIAGSCOPE_TEST_PG_URL"):
        yield os.environ["DIAGSCOPE_TEST_PG_URL"], ""
        return
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        yield None, "PostgreSQL is not installed (initdb/pg_ctl not found)"
        return
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            yield None, "running as root and there is no postgres user to run the server"
            return
        prefix = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="diagscope-pg-"))
    data = base / "data"
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                        "-E", "UTF8", "--no-instructions"], check=True, capture_output=True,
                       timeout=120)
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60",
             "-o", f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=50",
             "start"], check=True, capture_output=True, timeout=120)
    except (subprocess.SubprocessError, OSError) as exc:
        log = (base / "log").read_text() if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        yield None, f"could not start PostgreSQL: {exc} {log[-500:]}"
        return
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", ""
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
