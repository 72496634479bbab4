"""The run writer: each request once, in order, the same chain whether batches are written
in the caller's thread or in the background, and failures surfaced, not swallowed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from diagscope.pipeline import Inspector
from diagscope.sources.flows import CaptureReader
from diagscope.store.engine import open_engine
from diagscope.store.rows import rows_of
from diagscope.store.tables import events, findings, requests, runs
from diagscope.store.verify import verify_run
from diagscope.store.writer import RunWriter, start_run


def _rows(path: str, loaded_policy):  # type: ignore[no-untyped-def]
    inspector = Inspector(loaded_policy.policy)
    inspections = [inspector.inspect(r) for r in CaptureReader(path).requests()]
    return [rows_of(i) for i in inspections if i is not None]


def _store(engine, loaded_policy, rows, *, background: bool) -> int:  # type: ignore[no-untyped-def]
    run_id = start_run(engine, loaded=loaded_policy, label="w", source_kind="replay")
    writer = RunWriter(engine, run_id, batch_size=2, background=background)
    for r in rows:
        assert writer.add_rows(r)
    assert not writer.add_rows(rows[0])  # the same flow again is not stored twice
    writer.close()
    writer.close()
    return run_id


def _content(engine, run_id: int) -> list:  # type: ignore[type-arg]
    with engine.connect() as conn:
        out = []
        for table in (requests, events, findings):
            # chain_hash covers the run id, so it differs between two runs by design
            cols = [c for c in table.c if c.name not in ("id", "run_id", "chain_hash")]
            out.append(conn.execute(select(*cols).where(table.c.run_id == run_id)
                                    .order_by(table.c.chain_seq)).all())
        out.append(conn.execute(select(runs.c.chain_length).where(runs.c.id == run_id))
                   .scalar_one())
        return out


def test_background_writing_stores_what_direct_writing_stores(capture, sample_flows,
                                                              loaded_policy, db_path):
    engine = open_engine(db_path)
    path = capture(sample_flows)
    direct = _store(engine, loaded_policy, _rows(path, loaded_policy), background=False)
    background = _store(engine, loaded_policy, _rows(path, loaded_policy), background=True)
    assert _content(engine, background) == _content(engine, direct)
    assert verify_run(engine, background).ok and verify_run(engine, direct).ok
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(requests)
                              .where(requests.c.run_id == background)).scalar_one()
    assert stored == 7


def test_a_failed_background_write_is_raised_by_close(capture, sample_flows, loaded_policy,
                                                      db_path):
    engine = open_engine(db_path)
    rows = _rows(capture(sample_flows), loaded_policy)
    run_id = start_run(engine, loaded=loaded_policy, label="w", source_kind="replay")
    writer = RunWriter(engine, run_id, batch_size=2, background=True)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_events_run_name")
        conn.exec_driver_sql("ALTER TABLE events RENAME TO events_gone")
    for r in rows:
        writer.add_rows(r)
    with pytest.raises(OperationalError, match="events"):
        writer.close()
    writer.close()  # the failure is raised once; closing again is quiet
