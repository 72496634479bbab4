"""Replay end to end: capture file -> decode -> classify -> store -> query, via the CLI."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import telemetry_flow

from diagscope.cli import main
from diagscope.sources.synthetic import json_stream, raw_deflate

EVENT = {"ver": "4.0", "name": "Office.Word.FileOpen", "time": "2026-11-02T09:00:00Z",
         "data": {"EventInfo.Level": 1}}


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def jsonl(result) -> list[dict]:
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_sample_capture_end_to_end(capture, sample_flows, db_path):
    path = capture(sample_flows)
    result = run("replay", path, "--db", db_path, "--label", "t")
    assert result.exit_code == 0, result.output
    assert "flows read:          10" in result.output
    assert "telemetry requests:  7" in result.output
    events = jsonl(run("events", "--db", db_path, "--format", "jsonl"))
    assert len(events) == 14
    assert {e["name"] for e in events} >= {"Office.Licensing.Heartbeat", "Census.App"}
    assert run("runs", "--db", db_path).output.count("\n") == 2
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600


def test_jsonl_contract_keys(capture, sample_flows, db_path):
    run("replay", capture(sample_flows), "--db", db_path)
    findings = jsonl(run("findings", "--db", db_path, "--format", "jsonl"))
    assert findings
    for f in findings:
        assert list(f) == ["run", "flow_id", "event_index", "event_name", "product", "rule",
                           "severity", "field", "pii_kind", "detail", "value", "clause"]
        assert f["rule"] in {"level", "purpose", "unknown-event", "undocumented-field",
                             "personal-data", "destination", "transport", "undecodable"}
        assert f["severity"] in {"violation", "review"}
        assert isinstance(f["run"], int)
    events = jsonl(run("events", "--db", db_path, "--format", "jsonl"))
    for e in events:
        assert list(e) == ["run", "flow_id", "event_index", "name", "product", "time", "level",
                           "purpose", "verdict"]
        assert e["time"].endswith("Z")
        assert e["level"] in {"essential", "service", "required", "enhanced", "optional",
                              "unknown"}
        assert e["verdict"] in {"ok", "review", "violation"}


def test_csv_output(capture, sample_flows, db_path):
    run("replay", capture(sample_flows), "--db", db_path)
    lines = run("events", "--db", db_path, "--format", "csv").output.splitlines()
    assert lines[0] == "run,flow_id,event_index,name,product,time,level,purpose,verdict"
    assert len(lines) == 15


def test_fail_on_violation(capture, db_path):
    path = capture([telemetry_flow("v", json_stream([EVENT]),
                                   [("Content-Type", "application/x-json-stream")])])
    assert run("replay", path, "--db", db_path).exit_code == 0
    assert run("replay", path, "--db", db_path, "--fail-on-violation").exit_code == 1


def test_runs_do_not_mix(capture, db_path):
    path = capture([telemetry_flow("v", json_stream([EVENT]),
                                   [("Content-Type", "application/x-json-stream")])])
    run("replay", path, "--db", db_path)
    run("replay", path, "--db", db_path)
    for run_id in ("1", "2"):
        events = jsonl(run("events", "--db", db_path, "--run", run_id, "--format", "jsonl"))
        assert [(e["run"], e["name"]) for e in events] == [(int(run_id), "Office.Word.FileOpen")]
    assert "there is no run 3" in run("events", "--db", db_path, "--run", "3").output


def test_undecodable_bodies_are_findings_with_raw_bytes_kept(capture, db_path):
    from sqlalchemy import select

    from diagscope.store.engine import open_engine
    from diagscope.store.tables import requests

    truncated = raw_deflate(json_stream([EVENT] * 50))[:40]
    bomb = gzip.compress(b"{" + b" " * (80 * 1024 * 1024))
    flows = [
        telemetry_flow("trunc", truncated, [("Content-Encoding", "deflate")]),
        telemetry_flow("bomb", bomb, [("Content-Encoding", "gzip")]),
        telemetry_flow("garbage", b"\x00\x01\x02 not json",
                       [("Content-Type", "application/x-json-stream")]),
    ]
    run("replay", capture(flows), "--db", db_path)
    findings = [f for f in jsonl(run("findings", "--db", db_path, "--format", "jsonl"))
                if f["rule"] != "destination"]
    assert [f["rule"] for f in findings] == ["undecodable"] * 3
    assert "truncated" in findings[0]["detail"]
    assert "bound" in findings[1]["detail"]
    with open_engine(db_path).connect() as conn:
        rows = conn.execute(select(requests.c.body, requests.c.decode_status)).all()
    assert [r.body for r in rows] == [truncated, bomb, b"\x00\x01\x02 not json"]
    assert {r.decode_status for r in rows} == {"undecodable"}


def test_non_telemetry_flows_are_ignored(capture, db_path):
    from diagscope.sources.synthetic import make_flow

    flows = [
        make_flow("get", time=1.0, host="self.events.data.microsoft.com",
                  path="/OneCollector/1.0/", method="GET"),
        make_flow("other", time=1.0, host="example.org", path="/upload", body=b"{}"),
    ]
    result = run("replay", capture(flows), "--db", db_path)
    assert "flows read:          2" in result.output
    assert "telemetry requests:  0" in result.output


def test_flow_without_response_is_still_recorded(capture, db_path):
    body = json_stream([EVENT])
    flows = [telemetry_flow("noresp", body, [("Content-Type", "application/x-json-stream")],
                            status=None, error="connection reset by peer")]
    run("replay", capture(flows), "--db", db_path)
    assert len(jsonl(run("events", "--db", db_path, "--format", "jsonl"))) == 1


def test_corrupt_capture_keeps_flows_before_the_damage(capture, tmp_path, db_path):
    good = [telemetry_flow(f"ok{i}", json_stream([EVENT]),
                           [("Content-Type", "application/x-json-stream")]) for i in range(3)]
    path = capture(good)
    data = Path(path).read_bytes()
    damaged = tmp_path / "damaged.mitm"
    # Cut the file in the middle of the third flow.
    damaged.write_bytes(data[: len(data) - 200])
    result = CliRunner().invoke(main, ["replay", str(damaged), "--db", db_path])
    assert result.exit_code == 2
    assert "damaged after 2 flows" in result.output
    assert len(jsonl(run("events", "--db", db_path, "--format", "jsonl"))) == 2
    assert "damaged" in run("runs", "--db", db_path).output


def test_missing_capture_and_missing_db_are_clean_errors(tmp_path):
    result = CliRunner().invoke(main, ["replay", str(tmp_path / "nope.mitm")])
    assert result.exit_code != 0 and "no such capture file" in result.output
    result = CliRunner().invoke(main, ["events", "--db", str(tmp_path / "none.sqlite")])
    assert result.exit_code != 0 and "no such database" in result.output


def test_show_prints_common_schema_json(capture, sample_flows, db_path):
    run("replay", capture(sample_flows), "--db", db_path)
    events = jsonl(run("events", "--db", db_path, "--format", "jsonl"))
    mail = next(e for e in events if e["name"].endswith("SendMail"))
    output = run("show", mail["flow_id"], "--db", db_path).output
    assert '"name": "Office.Outlook.Desktop.Compose.SendMail"' in output
    assert '"pii_kind": "SmtpAddress"' in output


def test_hostile_text_is_stored_not_fatal(capture, db_path):
    body = (b'{"name":"Office.\\u0000Evil\\ud800","iKey":"o:\\u0000","data":'
            b'{"EventInfo.Level":1,"k\\u0000":"v\\udfff"}}')
    flows = [telemetry_flow("hostile", body, [("Content-Type", "application/x-json-stream")]),
             telemetry_flow("after", json_stream([EVENT]),
                            [("Content-Type", "application/x-json-stream")])]
    assert run("replay", capture(flows), "--db", db_path).exit_code == 0
    events = jsonl(run("events", "--db", db_path, "--format", "jsonl"))
    assert [e["name"] for e in events] == ["Office.\ufffdEvil\ufffd", "Office.Word.FileOpen"]
    assert run("verify", "--db", db_path).exit_code == 0
    shown = run("show", events[0]["flow_id"], "--db", db_path).output
    assert "Evil" in shown


def test_sample_captures_are_reproducible(tmp_path):
    from conftest import ROOT

    for out in (tmp_path / "a", tmp_path / "b"):
        subprocess.run([sys.executable, str(ROOT / "captures" / "make_samples.py"), "--out",
                        str(out)], check=True, capture_output=True)
    for produced in sorted((tmp_path / "a").glob("*.mitm")):
        assert produced.read_bytes() == (tmp_path / "b" / produced.name).read_bytes()
        committed = ROOT / "captures" / produced.name
        assert committed.read_bytes() == produced.read_bytes(), f"regenerate {committed.name}"
