"""`replay --jobs N` gives exactly the results of `--jobs 1`, damage included."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import telemetry_flow
from sqlalchemy import select

from diagscope import replay as replay_module
from diagscope import session as session_module
from diagscope.replay import replay
from diagscope.session import RunSession, SessionSettings
from diagscope.sources.flows import CaptureReader, frame_offsets
from diagscope.sources.synthetic import gzip_bytes, json_stream, raw_deflate
from diagscope.store.engine import open_engine
from diagscope.store.queries import iter_events, iter_findings
from diagscope.store.tables import runs
from diagscope.store.verify import row_digests


def flows(prefix: str, n: int) -> list:
    out = []
    for i in range(n):
        events = [{"name": f"Office.Test.E{i % 7}", "time": "2026-11-02T09:00:00Z",
                   "data": {"EventInfo.Level": [1, 2, 110, 120][i % 4]}} for _ in range(1 + i % 3)]
        body = json_stream(events)
        body, enc = (raw_deflate(body), "deflate") if i % 2 else (gzip_bytes(body), "gzip")
        out.append(telemetry_flow(f"{prefix}{i}", body, [("Content-Encoding", enc)]))
    return out


def run_with(paths, loaded_policy, db, jobs):
    engine = open_engine(db)
    session = RunSession(SessionSettings(), engine=engine, loaded=loaded_policy)
    replay(paths, session, jobs=jobs)
    run_id = session.run_id or 0
    with engine.connect() as conn:
        length = conn.execute(select(runs.c.chain_length)).scalar_one()
    strip = lambda rows: [{k: v for k, v in r.items() if k != "run"} for r in rows]  # noqa: E731
    # The same rows in the same order (the heads differ: each run's header records its own
    # start time and command).
    return (session.stats, (length, row_digests(engine, run_id)),
            strip(iter_events(engine, run_id)), strip(iter_findings(engine, run_id)))


@pytest.fixture
def small_units(monkeypatch):
    monkeypatch.setattr(replay_module, "UNIT_FLOWS", 7)


def test_frame_offsets_and_ranges(capture):
    path = capture(flows("r", 20))
    offsets, end = frame_offsets(path)
    assert len(offsets) == 20 and end == Path(path).stat().st_size
    ids = [f.id for f in CaptureReader(path, offsets[5], offsets[9])]
    assert ids == [f.id for f in flows("r", 20)[5:9]]
    assert len(list(CaptureReader(path, offsets[15], None))) == 5


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_jobs_give_identical_results(capture, tmp_path, loaded_policy, small_units, method,
                                     monkeypatch):
    monkeypatch.setattr(session_module, "start_method", lambda background=False: method)
    paths = [capture(flows("a", 30)), capture(flows("b", 5)), capture(flows("c", 16))]
    one = run_with(paths, loaded_policy, str(tmp_path / "one.sqlite"), 1)
    two = run_with(paths, loaded_policy, str(tmp_path / "two.sqlite"), 2)
    assert one[0].telemetry_requests == two[0].telemetry_requests == 51
    assert one[1] == two[1]  # same hash chain: same rows in the same order
    assert one[2] == two[2] and one[3] == two[3]
    assert one[0].findings == two[0].findings


def test_jobs_with_a_damaged_file(capture, tmp_path, loaded_policy, small_units):
    good = capture(flows("g", 10))
    path = capture(flows("d", 30))
    data = Path(path).read_bytes()
    offsets, _ = frame_offsets(path)
    damaged = tmp_path / "damaged.mitm"
    damaged.write_bytes(data[: offsets[17] + 40])  # cut inside flow 17
    paths = [str(damaged), good]
    one = run_with(paths, loaded_policy, str(tmp_path / "one.sqlite"), 1)
    two = run_with(paths, loaded_policy, str(tmp_path / "two.sqlite"), 2)
    assert one[0].telemetry_requests == two[0].telemetry_requests == 27
    assert [(d.flows_read, d.path) for d in one[0].damage] == \
        [(d.flows_read, d.path) for d in two[0].damage] == [(17, str(damaged))]
    assert one[1:] == two[1:]


def test_replay_forks_its_judges_and_a_proxy_spawns_them(monkeypatch):
    import sys
    import threading

    monkeypatch.setattr(sys, "platform", "linux")
    assert session_module.start_method() == "fork"
    assert session_module.start_method(background=True) == "spawn"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert session_module.start_method() == "spawn"  # a fork could inherit held locks
    finally:
        stop.set()
        thread.join()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert session_module.start_method() == "spawn"
