"""Delete runs completely (storage limitation applies to the evidence too) and compact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, select, text

from diagscope.store.tables import events, finding_kinds, finding_occurrences, requests, runs


def runs_older_than(engine: Engine, age: timedelta) -> list[int]:
    cutoff = datetime.now(UTC) - age
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.id, runs.c.started_at)).all()
    return [run_id for run_id, started in rows if started < cutoff]


def purge_runs(engine: Engine, run_ids: list[int]) -> dict[str, int]:
    """Delete the runs, every row and every capture file diagscope wrote for them (a proxy
    session's `.mitm`); then reclaim the space. Capture files a user replayed are theirs."""
    counts = {"runs": 0, "requests": 0, "events": 0, "findings": 0, "capture files": 0}
    with engine.connect() as conn:
        owned = [c["path"] for (captures,) in conn.execute(
                     select(runs.c.captures).where(runs.c.id.in_(run_ids)))
                 for c in captures or [] if c.get("owned")]
    for path in owned:
        try:
            Path(path).unlink()
            counts["capture files"] += 1
        except FileNotFoundError:
            pass
    with engine.begin() as conn:
        for table, key in ((finding_occurrences, "findings"), (events, "events"),
                           (requests, "requests")):
            counts[key] += conn.execute(delete(table).where(table.c.run_id.in_(run_ids))).rowcount
        conn.execute(delete(finding_kinds).where(finding_kinds.c.run_id.in_(run_ids)))
        counts["runs"] = conn.execute(delete(runs).where(runs.c.id.in_(run_ids))).rowcount
    compact(engine)
    return counts


def compact(engine: Engine) -> None:
    """Give deleted pages back so purged raw bodies do not linger in the file."""
    backend = engine.url.get_backend_name()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if backend == "sqlite":
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        elif backend == "postgresql":
            conn.execute(text("VACUUM"))
