"""Telemetry per scenario step: live (the addon's command, `diagscope step N`) and replayed
(a step file); every request stamped with its step, reports and queries per step."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from conftest import ROOT, telemetry_flow
from mitmproxy import exceptions
from mitmproxy.test import taddons

from diagscope.addon import DiagscopeAddon
from diagscope.cli import main
from diagscope.sources.synthetic import json_stream, make_flow
from diagscope.steps import StepFileError, StepMark, Steps, read_step_times

SCENARIO = ROOT / "scenarios" / "word-neither.yaml"
HEADERS = [("Content-Type", "application/x-json-stream")]
START = 1793610000.0  # the time telemetry_flow gives flows: 2026-11-02 09:00 UTC


def event(name: str, level: int) -> dict:
    return {"ver": "4.0", "name": name, "data": {"EventInfo.Level": level}}


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def jsonl(*args: str) -> list[dict]:
    result = run(*args, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def at(offset: float) -> str:
    return datetime.fromtimestamp(START + offset, UTC).isoformat()


def test_steps_know_which_step_was_current():
    steps = Steps([StepMark(datetime.fromtimestamp(START + 10, UTC), 2),
                   StepMark(datetime.fromtimestamp(START, UTC), 1)])
    assert steps.at(datetime.fromtimestamp(START - 1, UTC)) is None
    assert steps.at(datetime.fromtimestamp(START, UTC)) == 1
    assert steps.at(datetime.fromtimestamp(START + 9.9, UTC)) == 1
    assert steps.at(datetime.fromtimestamp(START + 60, UTC)) == 2
    assert steps.current == 2


def test_step_files_read_both_orders_and_name_their_mistakes(tmp_path):
    good = tmp_path / "steps.txt"
    good.write_text(f"# when each step began\n1 {at(0)}\n{at(20)} 2\n\n3 2026-11-02T09:01:00\n")
    marks = read_step_times(good)
    assert [m.step for m in marks] == [1, 2, 3]
    assert marks[2].at.tzinfo is not None  # a time without zone is UTC
    bad = tmp_path / "bad.txt"
    bad.write_text("1 yesterday\n")
    with pytest.raises(StepFileError, match=r"bad\.txt:1"):
        read_step_times(bad)


def test_replay_with_a_step_file_stamps_every_request(capture, db_path, tmp_path):
    flows = []
    for i, (name, level) in enumerate([("Office.Word.FileOpen", 1), ("Office.Word.Save", 2),
                                       ("Office.Licensing.Heartbeat", 110)]):
        flow = telemetry_flow(f"s{i}", json_stream([event(name, level)]), HEADERS)
        flow.request.timestamp_start = START + 10 * i + 5
        flows.append(flow)
    steps = tmp_path / "steps.txt"
    steps.write_text(f"1 {at(0)}\n4 {at(10)}\n")
    result = run("replay", capture(flows), "--db", db_path, "--scenario", str(SCENARIO),
                 "--steps", str(steps))
    assert result.exit_code == 0, result.output
    assert [e["name"] for e in jsonl("events", "--db", db_path, "--step", "4")] == [
        "Office.Word.Save", "Office.Licensing.Heartbeat"]
    assert [e["name"] for e in jsonl("events", "--db", db_path, "--step", "1")] == [
        "Office.Word.FileOpen"]
    on_step_4 = jsonl("findings", "--db", db_path, "--step", "4")
    assert on_step_4 and all(f["flow_id"] in (flows[1].id, flows[2].id) for f in on_step_4)
    report = tmp_path / "report.md"
    assert run("report", "--db", db_path, "--out", str(report)).exit_code == 0
    text = report.read_text()
    assert "## Per scenario step" in text
    assert "Step 4, Save the document to Documents as" in text
    assert "Step 1, Sign in to Windows" in text and ": 1 events" in text
    # The steps are in the chain: the run verifies, and so does its evidence bundle.
    assert run("verify", "--db", db_path).exit_code == 0
    bundle = tmp_path / "evidence.zip"
    assert run("export", "--db", db_path, "--out", str(bundle)).exit_code == 0
    checked = run("verify", str(bundle))
    assert checked.exit_code == 0, checked.output


def now_flow(name: str):
    return make_flow(name, time=time.time(), host="eu-office.events.data.microsoft.com",
                     path="/OneCollector/1.0/", headers=HEADERS,
                     body=json_stream([event("Office.Word.FileOpen", 1)]))


def test_live_steps_from_the_command_and_from_a_script(db_path):
    addon = DiagscopeAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, diagscope_db=db_path, diagscope_judge_process=False,
                       diagscope_scenario=str(SCENARIO))
        addon.running()
        before = now_flow("before")
        addon.response(before)
        time.sleep(0.01)
        addon.step()  # the next step: 1
        first = now_flow("first")
        addon.response(first)
        time.sleep(0.01)
        addon.step("3")
        third = now_flow("third")
        addon.response(third)
        time.sleep(0.01)
        # A script moves the running run on, as `diagscope step 5 --db ...` does.
        assert run("step", "5", "--db", db_path).exit_code == 0
        time.sleep(0.6)  # the recorder reads steps recorded elsewhere twice a second
        fifth = now_flow("fifth")
        addon.response(fifth)
        with pytest.raises(exceptions.CommandError):
            addon.step("0")
        addon.done()
    stamped = {e["flow_id"]: e for e in jsonl("events", "--db", db_path)}
    assert set(stamped) == {before.id, first.id, third.id, fifth.id}
    assert [e["flow_id"] for e in jsonl("events", "--db", db_path, "--step", "1")] == [first.id]
    assert [e["flow_id"] for e in jsonl("events", "--db", db_path, "--step", "3")] == [third.id]
    assert [e["flow_id"] for e in jsonl("events", "--db", db_path, "--step", "5")] == [fifth.id]
    assert run("verify", "--db", db_path).exit_code == 0


def test_step_needs_a_running_run(db_path, capture):
    run("replay", capture([telemetry_flow("x", json_stream([event("Office.A", 1)]), HEADERS)]),
        "--db", db_path)
    result = run("step", "2", "--db", db_path)
    assert result.exit_code == 1 and "no run is being recorded" in result.output
