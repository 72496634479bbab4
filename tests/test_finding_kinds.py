"""Each kind of finding is stored once per run, and every finding refers to it: through a
refused batch, a writer that picks a run up again, and a purge of another run."""

from __future__ import annotations

import pytest
from conftest import telemetry_flow
from sqlalchemy import Engine, func, select

from diagscope.pipeline import Inspector
from diagscope.policy.load import LoadedPolicy
from diagscope.sources.flows import request_from_flow
from diagscope.sources.synthetic import json_stream
from diagscope.store import kinds
from diagscope.store.engine import open_engine
from diagscope.store.purge import purge_runs
from diagscope.store.queries import iter_findings
from diagscope.store.tables import finding_kinds, finding_occurrences
from diagscope.store.verify import verify_run
from diagscope.store.writer import RunWriter, finish_run, start_run

CT = [("Content-Type", "application/x-json-stream")]


def _event(i: int) -> dict:
    return {"name": "Office.Word.FileOpen", "ver": "4.0", "time": "2026-11-02T09:00:00Z",
            "data": {"EventInfo.Level": 1, "User.Email": f"jan{i % 2}@minjenv.nl"}}


def _add(writer: RunWriter, inspector: Inspector, flows: range) -> None:
    for i in flows:
        body = json_stream([_event(i), _event(i + 1)])
        inspection = inspector.inspect(request_from_flow(telemetry_flow(f"f{i}", body, CT)))
        assert inspection is not None and inspection.findings
        assert writer.add(inspection)


def _kinds_of(engine: Engine, run_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(finding_kinds)
                            .where(finding_kinds.c.run_id == run_id)).scalar_one()


def _distinct(engine: Engine, run_id: int) -> set[tuple]:
    return {tuple(v for k, v in f.items() if k not in ("run", "flow_id", "event_index"))
            for f in iter_findings(engine, run_id)}


@pytest.fixture
def engine(db_path: str) -> Engine:
    return open_engine(db_path)


@pytest.fixture
def inspector(loaded_policy: LoadedPolicy) -> Inspector:
    return Inspector(loaded_policy.policy)


def _run(engine: Engine, loaded_policy: LoadedPolicy) -> int:
    return start_run(engine, loaded=loaded_policy, label="kinds", source_kind="replay")


def test_kinds_repeat_across_requests_and_are_stored_once(engine, inspector, loaded_policy):
    run_id = _run(engine, loaded_policy)
    writer = RunWriter(engine, run_id)
    _add(writer, inspector, range(6))
    writer.flush()
    _add(writer, inspector, range(6, 12))  # a second batch: all its kinds are known
    writer.flush()
    finish_run(engine, run_id, status="complete")
    findings = list(iter_findings(engine, run_id))
    assert len(findings) > 2 * _kinds_of(engine, run_id)
    assert _kinds_of(engine, run_id) == len(_distinct(engine, run_id))
    assert verify_run(engine, run_id).ok


def test_kinds_of_a_refused_batch_are_stored_with_its_retry(engine, inspector, loaded_policy,
                                                             monkeypatch):
    run_id = _run(engine, loaded_policy)
    writer = RunWriter(engine, run_id)
    _add(writer, inspector, range(4))
    real_insert = kinds._INSERT_PLACES.insert
    calls = []

    def refuse_once(conn, rows):
        calls.append(len(rows))
        if len(calls) == 1:
            raise OSError("disk full")  # after the batch's kinds were inserted
        real_insert(conn, rows)

    monkeypatch.setattr(kinds._INSERT_PLACES, "insert", refuse_once)
    with pytest.raises(OSError):
        writer.flush()
    assert _kinds_of(engine, run_id) == 0  # rolled back with the batch
    writer.flush()  # the same batch again: its kinds are inserted again, and referred to
    finish_run(engine, run_id, status="complete")
    assert len(calls) == 2 and calls[0] == calls[1]
    assert len(list(iter_findings(engine, run_id))) == calls[1]
    assert _kinds_of(engine, run_id) == len(_distinct(engine, run_id))
    assert verify_run(engine, run_id).ok


def test_a_writer_picking_a_run_up_again_reuses_its_kinds(engine, inspector, loaded_policy):
    run_id = _run(engine, loaded_policy)
    first = RunWriter(engine, run_id)
    _add(first, inspector, range(4))
    first.flush()
    stored = _kinds_of(engine, run_id)
    again = RunWriter(engine, run_id)
    _add(again, inspector, range(4, 8))
    again.flush()
    finish_run(engine, run_id, status="complete")
    assert _kinds_of(engine, run_id) == stored
    assert len(list(iter_findings(engine, run_id))) > stored
    assert verify_run(engine, run_id).ok


def test_each_run_has_its_own_kinds_and_a_purge_takes_only_its_own(engine, inspector,
                                                                    loaded_policy):
    runs = []
    for _ in range(2):
        run_id = _run(engine, loaded_policy)
        writer = RunWriter(engine, run_id)
        _add(writer, inspector, range(3))
        writer.flush()
        finish_run(engine, run_id, status="complete")
        runs.append(run_id)
    assert _kinds_of(engine, runs[0]) == _kinds_of(engine, runs[1]) > 0
    kept = list(iter_findings(engine, runs[1]))
    counts = purge_runs(engine, [runs[0]])
    assert counts["findings"] == len(kept)
    assert _kinds_of(engine, runs[0]) == 0
    with engine.connect() as conn:
        places = conn.execute(select(finding_occurrences.c.run_id).distinct()).scalars().all()
    assert places == [runs[1]]
    assert list(iter_findings(engine, runs[1])) == kept and verify_run(engine, runs[1]).ok
