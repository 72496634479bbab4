"""The addon inside mitmproxy: through taddons, and through a real `mitmdump -nr`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, telemetry_flow
from mitmproxy import exceptions
from mitmproxy.test import taddons

from diagscope.addon import DiagscopeAddon
from diagscope.cli import main
from diagscope.sources.synthetic import json_stream

MITMDUMP = Path(sys.executable).with_name("mitmdump")
EVENT = {"ver": "4.0", "name": "Office.Word.FileOpen", "data": {"EventInfo.Level": 1}}


def exported(db: str, what: str) -> list[dict]:
    out = CliRunner().invoke(main, [what, "--db", db, "--format", "jsonl"]).output
    return [json.loads(line) for line in out.splitlines()]


def without_run(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "run"} for r in rows]


async def test_addon_records_flows_through_taddons(db_path, sample_flows):
    addon = DiagscopeAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, diagscope_db=db_path, diagscope_label="lab")
        addon.running()
        for flow in sample_flows:
            await addon.request(flow)
            addon.response(flow)
        addon.response(sample_flows[0])  # a repeated hook must not store twice
        addon.done()
    assert len(exported(db_path, "events")) == 14
    assert addon.telemetry_requests == 7


async def test_unfinished_flows_are_recorded_at_shutdown(db_path):
    flow = telemetry_flow("pending", json_stream([EVENT]),
                          [("Content-Type", "application/x-json-stream")], status=None)
    addon = DiagscopeAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, diagscope_db=db_path)
        await addon.request(flow)
        addon.done()
    assert [e["name"] for e in exported(db_path, "events")] == ["Office.Word.FileOpen"]


def test_error_hook_records_telemetry_that_got_no_response(db_path):
    flow = telemetry_flow("err", json_stream([EVENT]),
                          [("Content-Type", "application/x-json-stream")], status=None,
                          error="server disconnected")
    addon = DiagscopeAddon()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, diagscope_db=db_path)
        addon.error(flow)
        addon.done()
    assert len(exported(db_path, "events")) == 1


def test_bad_options_raise_options_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default database is created in the working directory
    addon = DiagscopeAddon()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="diagscope_policy"):
            tctx.configure(addon, diagscope_policy="no-such-policy")
        with pytest.raises(exceptions.OptionsError, match="diagscope_db"):
            tctx.configure(addon, diagscope_db=str(tmp_path / "file.txt" / "sub.sqlite")
                           if (tmp_path / "file.txt").write_text("x") else "")


def test_a_flow_whose_judging_fails_is_stored_with_the_error(db_path, monkeypatch):
    addon = DiagscopeAddon()
    good = telemetry_flow("good", json_stream([EVENT]),
                          [("Content-Type", "application/x-json-stream")])
    bad = telemetry_flow("bad", json_stream([EVENT]),
                         [("Content-Type", "application/x-json-stream")])
    with taddons.context(addon) as tctx:
        # Judged in this process, so that the failure can be injected here.
        tctx.configure(addon, diagscope_db=db_path, diagscope_judge_process=False)
        assert addon.session is not None
        inspector = addon.session.inspector
        original = inspector.inspect

        def explode(request):
            if request.flow_id == bad.id:
                raise RuntimeError("boom")
            return original(request)

        monkeypatch.setattr(inspector, "inspect", explode)
        addon.response(bad)
        addon.response(good)
        addon.done()
    # The good flow is judged as usual; the bad one is kept, raw body and error, for review.
    assert [e["flow_id"] for e in exported(db_path, "events")] == [good.id]
    (failed,) = [f for f in exported(db_path, "findings") if f["flow_id"] == bad.id]
    assert failed["rule"] == "undecodable" and failed["severity"] == "review"
    assert "RuntimeError: boom" in failed["detail"]
    runs = exported(db_path, "runs")
    assert runs[0]["requests"] == 2


@pytest.mark.e2e
def test_mitmdump_and_replay_store_the_same(capture, sample_flows, tmp_path):
    path = capture(sample_flows)
    via_replay = str(tmp_path / "replay.sqlite")
    via_addon = str(tmp_path / "addon.sqlite")
    assert CliRunner().invoke(main, ["replay", path, "--db", via_replay]).exit_code == 0
    env = {**os.environ, "HOME": str(tmp_path)}  # keep mitmproxy's CA files out of ~
    proc = subprocess.run(
        [str(MITMDUMP), "-q", "-nr", path, "-s", str(ROOT / "addons" / "diagscope_addon.py"),
         "--set", f"diagscope_db={via_addon}", "--set", "diagscope_label=mitmdump"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    for what in ("events", "findings"):
        a, b = exported(via_replay, what), exported(via_addon, what)
        assert a, what
        assert without_run(a) == without_run(b)
