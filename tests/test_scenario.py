"""Scenarios, lab scripts and collected settings as evidence."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from diagscope.cli import main
from diagscope.lab.scripts import render
from diagscope.scenario import ScenarioError, load_scenario

SCENARIO = ROOT / "scenarios" / "word-neither.yaml"
GOLDEN = Path(__file__).resolve().parent / "golden" / "lab"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_example_scenarios_are_valid():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        result = run("scenario", "check", str(path))
        assert result.exit_code == 0 and "valid scenario" in result.output


def test_scenario_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntitle: t\nproducts: [office]\nsettings:\n  office_level: loud\n"
                   "  windows_level: security\nsteps:\n  - text: go {c}\n    plants: [c]\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(bad)
    assert f"{bad}:5: settings.office_level" in str(err.value)
    bad.write_text("id: x\ntitle: t\nproducts: [office]\nsettings:\n  office_level: neither\n"
                   "  windows_level: security\nsteps:\n  - text: go {c}\n    plants: [c]\n")
    with pytest.raises(ScenarioError, match="not defined"):
        load_scenario(bad)
    result = run("scenario", "check", str(bad))
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_checklist():
    out = run("scenario", "checklist", str(SCENARIO)).output
    assert out.startswith("# Word and Outlook at level Neither")
    assert "- [ ] Office diagnostic level is **neither** (`sendtelemetry` = 3)" in out
    assert "- [ ] Windows diagnostic level is **security** (`AllowTelemetry` = 0)" in out
    assert "- [ ] 4. Save the document to Documents as \"`Ontslagbrief-Canary-7f3a`.docx\"." in out


def test_scenario_is_stored_with_the_run_and_shown(capture, sample_flows, db_path, tmp_path):
    result = run("replay", capture(sample_flows), "--db", db_path, "--scenario", str(SCENARIO))
    assert result.exit_code == 0
    from diagscope.store.engine import open_engine
    from diagscope.store.tables import runs

    with open_engine(db_path).connect() as conn:
        stored = conn.execute(runs.select()).one()
    assert stored.scenario["id"] == "word-neither"
    assert stored.scenario["sha256"] == load_scenario(SCENARIO).sha256
    assert "Ontslagbrief-Canary-7f3a" not in json.dumps(stored.scenario)
    assert {c["label"] for c in stored.canaries["canaries"]} == {"account", "doc-title",
                                                                 "sentence", "subject"}
    findings = run("findings", "--db", db_path, "--format", "jsonl").output
    assert '"pii_kind": "canary"' in findings  # the scenario's canaries were searched for
    html = tmp_path / "r.html"
    run("report", "--db", db_path, "--out", str(html))
    text = html.read_text()
    assert "Word and Outlook at level Neither" in text and stored.scenario["sha256"] in text


def _settings_zip(path: Path, sendtelemetry: int, allowtelemetry: int, ddv: bool = False) -> None:
    settings = {"scenario": "word-neither", "collected_at": "2026-11-02T10:00:00Z",
                "computer": "LAB-VM-01",
                "office": {"sendtelemetry": sendtelemetry, "version": "16.0.17328.20162"},
                "windows": {"allowtelemetry": allowtelemetry, "build": "22631.4460"}}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("settings.json", "\ufeff" + json.dumps(settings))
        if ddv:
            zf.writestr("diagnostic-data.json", "[]")


def test_collected_settings_match(capture, sample_flows, db_path, tmp_path):
    good = tmp_path / "collect-ok.zip"
    _settings_zip(good, 3, 0, ddv=True)
    result = run("replay", capture(sample_flows), "--db", db_path, "--scenario", str(SCENARIO),
                 "--settings", str(good))
    assert "configured Office neither (sendtelemetry=3), Windows security (AllowTelemetry=0)" \
        in result.output
    assert "WARNING" not in result.output and "diagnostic-data.json" in result.output
    html = tmp_path / "r.html"
    run("report", "--db", db_path, "--out", str(html))
    assert "Office neither (sendtelemetry=3), Windows security (AllowTelemetry=0)" in \
        html.read_text()


def test_setting_mismatch_is_flagged(capture, sample_flows, db_path, tmp_path):
    wrong = tmp_path / "collect-wrong.zip"
    _settings_zip(wrong, 2, 1)
    run("replay", capture(sample_flows), "--db", db_path, "--scenario", str(SCENARIO))
    result = run("attach", str(wrong), "--db", db_path)
    assert "WARNING: Office was set to optional, the scenario tests neither" in result.output
    md = tmp_path / "r.md"
    run("report", "--db", db_path, "--out", str(md))
    text = md.read_text()
    assert "Setting mismatch: Office was set to optional" in text
    assert "Windows was set to required, the scenario tests security" in text
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"nope")
    assert run("attach", str(junk), "--db", db_path).exit_code == 1


def test_lab_scripts_match_the_golden_files(tmp_path):
    scripts = render(load_scenario(SCENARIO), "192.0.2.1:8080")
    for name, text in scripts.items():
        golden = GOLDEN / name
        if os.environ.get("DIAGSCOPE_UPDATE_GOLDEN"):
            golden.write_bytes(text.encode("utf-8"))
        assert text.encode("utf-8") == golden.read_bytes(), (
            f"{name} changed; review and regenerate with DIAGSCOPE_UPDATE_GOLDEN=1")
    ca = tmp_path / "ca.cer"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    result = run("lab", "script", "--scenario", str(SCENARIO), "--proxy", "192.0.2.1:8080",
                 "--out", str(tmp_path / "out"), "--ca", str(ca))
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "collect.ps1", "diagscope-ca.cer", "setup.ps1", "teardown.ps1"]
    bad = run("lab", "script", "--scenario", str(SCENARIO), "--proxy", "nope", "--out",
              str(tmp_path / "x"))
    assert bad.exit_code == 2


def _balanced(text: str) -> bool:
    # Strip strings and comments, then check brackets: a cheap stand-in for a parser.
    code = re.sub(r"#[^\r\n]*", "", re.sub(r"'[^']*'", "''", text))
    code = re.sub(r'"(?:[^"`]|`.)*"', '""', code)
    stack = []
    pairs = {")": "(", "}": "{", "]": "["}
    for ch in code:
        if ch in "({[":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack


def test_lab_scripts_are_well_formed_and_teardown_restores_setup():
    scripts = render(load_scenario(SCENARIO), "192.0.2.1:8080")
    for name, text in scripts.items():
        assert _balanced(text), name
        assert text.startswith("#Requires -RunAsAdministrator")
        assert "IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)" in text
        assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    setup, teardown = scripts["setup.ps1"], scripts["teardown.ps1"]
    assert "'sendtelemetry' 3" in setup and "'AllowTelemetry' 0" in setup
    assert "'usercontentdisabled' 2" in setup and "'disconnectedstate' 1" in setup
    # Every registry value setup changes goes through Set-Policy, which records it for
    # teardown; teardown restores every recorded value and removes the CA it imported.
    assert setup.count("New-ItemProperty") == 1  # inside Set-Policy, which saves first
    assert "Save-Previous $Path $Name" in setup
    assert len(re.findall(r"^Set-Policy ", setup, re.M)) == 9
    assert "Remove-Item" in teardown and "ca_thumbprint" in teardown
    assert "netsh winhttp reset proxy" in teardown
