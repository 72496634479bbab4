"""The same store on a real PostgreSQL server, with several writers at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from diagscope.cli import main
from diagscope.store.engine import open_engine
from diagscope.store.tables import events, findings, requests, runs

DIAGSCOPE = Path(sys.executable).with_name("diagscope")


def jsonl(args: list[str]) -> list[dict]:
    out = CliRunner().invoke(main, [*args, "--format", "jsonl"]).output
    return [json.loads(line) for line in out.splitlines()]


def test_replay_report_and_verify_on_postgres(pg_url, capture, sample_flows, tmp_path,
                                              db_path):
    path = capture(sample_flows)
    assert CliRunner().invoke(main, ["replay", path, "--db", pg_url]).exit_code == 0
    assert CliRunner().invoke(main, ["replay", path, "--db", db_path]).exit_code == 0
    strip = lambda rows: [{k: v for k, v in r.items() if k != "run"} for r in rows]  # noqa: E731
    for what in ("events", "findings"):
        assert strip(jsonl([what, "--db", pg_url])) == strip(jsonl([what, "--db", db_path]))
    result = CliRunner().invoke(main, ["verify", "--db", pg_url])
    assert result.exit_code == 0 and "chain intact" in result.output
    out = tmp_path / "r.html"
    assert CliRunner().invoke(main, ["report", "--db", pg_url, "--out", str(out)]).exit_code == 0
    assert "FAIL" in out.read_text()
    bundle = tmp_path / "b.zip"
    assert CliRunner().invoke(main, ["export", "--db", pg_url, "--out", str(bundle)]).exit_code == 0
    assert CliRunner().invoke(main, ["verify", str(bundle)]).exit_code == 0
    assert CliRunner().invoke(main, ["purge", "--db", pg_url, "--run", "1", "--yes"]).exit_code == 0


def test_concurrent_writers_lose_and_duplicate_nothing(pg_url, capture, sample_flows):
    from conftest import telemetry_flow

    from diagscope.sources.synthetic import json_stream

    paths = []
    for w in range(4):
        flows = [telemetry_flow(f"w{w}-{i}", json_stream(
            [{"name": f"Office.W{w}.E{i}", "data": {"EventInfo.Level": 110}}] * 3))
            for i in range(60)]
        paths.append(capture(flows))
    procs = [subprocess.Popen([str(DIAGSCOPE), "replay", p, "--db", pg_url, "--label", f"w{i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for i, p in enumerate(paths)]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out.decode()
    engine = open_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(runs)).scalar() == 4
        per_run = dict(conn.execute(select(requests.c.run_id, func.count())
                                    .group_by(requests.c.run_id)).all())
        assert sorted(per_run.values()) == [60, 60, 60, 60]
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 4 * 60 * 3
        distinct = conn.execute(select(func.count(func.distinct(requests.c.flow_id)))).scalar()
        assert distinct == 240
        assert conn.execute(select(func.count()).select_from(findings)).scalar() > 0
    for run_id in per_run:
        result = CliRunner().invoke(main, ["verify", "--db", pg_url, "--run", str(run_id)])
        assert result.exit_code == 0, result.output


def test_a_proxy_and_replays_write_to_one_database_at_once(pg_url, capture, tmp_path):
    import urllib.request

    from conftest import telemetry_flow
    from e2e_support import CollectorStub, ProxyProcess

    from diagscope.sources.synthetic import json_stream

    stub = CollectorStub(tmp_path)
    proxy = ProxyProcess(tmp_path, upstream_ca=stub.ca, db=pg_url)
    paths = [capture([telemetry_flow(f"r{w}-{i}", json_stream(
        [{"name": f"Office.R{w}.E{i}", "data": {"EventInfo.Level": 110}}])) for i in range(40)])
        for w in range(2)]
    try:
        replays = [subprocess.Popen([str(DIAGSCOPE), "replay", p, "--db", pg_url],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                   for p in paths]
        import ssl

        context = ssl.create_default_context(cafile=str(proxy.ca_cert))
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({"https": proxy.proxy_url}),
            urllib.request.HTTPSHandler(context=context))
        for i in range(20):
            body = json_stream([{"name": f"Office.Live.E{i}", "data": {"EventInfo.Level": 110}}])
            request = urllib.request.Request(stub.url, data=body, method="POST", headers={
                "Content-Type": "application/x-json-stream"})
            with opener.open(request, timeout=30) as response:
                assert response.status == 200
        for proc in replays:
            out, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, out.decode()
        proxy.wait_for("1 events", count=20)
    finally:
        proxy.stop()
        stub.close()
    engine = open_engine(pg_url)
    with engine.connect() as conn:
        per_run = dict(conn.execute(select(requests.c.run_id, func.count())
                                    .group_by(requests.c.run_id)).all())
    assert sorted(per_run.values()) == [20, 40, 40]
    for run_id in per_run:
        assert CliRunner().invoke(main, ["verify", "--db", pg_url, "--run",
                                         str(run_id)]).exit_code == 0
