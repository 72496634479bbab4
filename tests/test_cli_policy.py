"""policy check / policy show / explain from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from diagscope.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_policy_check_summarises_a_valid_file(tmp_path: Path):
    lab = tmp_path / "lab.yaml"
    lab.write_text("extends: slm-rijk-2019\nname: lab\nproducts:\n  office:\n"
                   "    max_level: basic\n", encoding="utf-8")
    result = run("policy", "check", str(lab))
    assert result.exit_code == 0
    assert "valid policy" in result.output and "office: at most required" in result.output
    assert "forbidden purposes: advertising, analytics, market-research, profiling" in \
        result.output


def test_policy_check_reports_errors_without_a_traceback(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: slm-rijk-2019\ntransport:\n  plaintext_http_allowed: maybe\n",
                   encoding="utf-8")
    result = run("policy", "check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:3: transport.plaintext_http_allowed" in result.output
    assert "Traceback" not in result.output


def test_policy_show(tmp_path: Path):
    text = run("policy", "show").output
    assert text.startswith("# The 2019 agreement") and "max_level: neither" in text
    resolved = run("policy", "show", "slm-rijk-2019", "--resolved").output
    assert "max_level: service" in resolved
    assert run("policy", "show", "nope").exit_code == 1


def test_explain_tells_how_each_verdict_was_reached(capture, sample_flows, db_path):
    run("replay", capture(sample_flows), "--db", db_path)
    events = [json.loads(x) for x in run("events", "--db", db_path, "--format",
                                         "jsonl").output.splitlines()]
    ad = next(e for e in events if e["name"] == "Office.Feed.Recommendation.Shown")
    out = run("explain", ad["flow_id"], str(ad["event_index"]), "--db", db_path).output
    assert "Event 2: Office.Feed.Recommendation.Shown  -> verdict VIOLATION" in out
    assert "because data.EventInfo.Level = 2 (optional)" in out
    assert "name segment 'Recommendation' means advertising" in out
    assert "purpose violation" in out and "adverteren" in out
    assert "catalogue: not documented" in out
    whole = run("explain", ad["flow_id"], "--db", db_path).output
    assert whole.count("\nEvent ") == 3 and "request-level findings" in whole
    assert "has no event 9" in run("explain", ad["flow_id"], "9", "--db", db_path).output
    assert "no request with flow id" in run("explain", "nope", "--db", db_path).output
