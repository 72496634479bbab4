"""Reports, diffs, evidence bundles and purge."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import telemetry_flow, unavailable
from sqlalchemy import select

from diagscope.cli import main
from diagscope.report.overview import build_report
from diagscope.sources.synthetic import json_stream
from diagscope.store.engine import open_engine
from diagscope.store.tables import requests

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CT = [("Content-Type", "application/x-json-stream")]
EU = "eu-office.events.data.microsoft.com"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def office(name: str, level: int) -> dict:
    return {"name": name, "ver": "4.0", "time": "2026-11-02T09:00:00Z",
            "ext": {"app": {"name": "Word", "ver": "16.0.1"}},
            "data": {"EventInfo.Level": level, "EventInfo.PrivTags": 0x01000000}}


@pytest.fixture
def sample_db(capture, sample_flows, db_path):
    assert run("replay", capture(sample_flows), "--db", db_path, "--label", "build A")
    return db_path


def test_verdict_pass_only_without_violations(capture, db_path):
    clean = capture([telemetry_flow("ok", json_stream([office("Office.Word.Crash", 120)]), CT,
                                    host=EU)])
    bad = capture([telemetry_flow("bad", json_stream([office("Office.Word.Crash", 2)]), CT,
                                  host=EU)])
    run("replay", clean, "--db", db_path)
    run("replay", bad, "--db", db_path)
    engine = open_engine(db_path)
    passed, failed = build_report(engine, 1), build_report(engine, 2)
    assert passed.verdict.result == "PASS" and passed.verdict.violations == 0
    assert passed.verdict.reviews > 0  # reviews alone do not fail a build
    assert failed.verdict.result == "FAIL" and failed.verdict.by_rule["level"]["violation"] == 1


def test_report_contents(sample_db):
    report = build_report(open_engine(sample_db), 1)
    assert report.run.label == "build A"
    assert report.build.office_versions == ["16.0.17328.20162"]
    assert report.totals.telemetry_requests == 7 and report.totals.events == 14
    assert list(report.events_by_level)[:2] == ["essential", "service"]
    hosts = {e.host: e for e in report.endpoints}
    assert hosts["us-mobile.events.data.microsoft.com"].region == "us"
    assert hosts["eu-v10c.events.data.microsoft.com"].allowed is True
    assert all(len(f.body_sha256) == 64 and f.clause for f in report.findings)
    assert sum(b.events for b in report.timeline) == 14
    assert len(report.captures) == 1 and len(report.captures[0].sha256) == 64


@pytest.mark.parametrize(("fmt", "marker"), [("html", "<svg"), ("json", '"format_version"'),
                                             ("md", "## Findings per rule")])
def test_report_formats(sample_db, tmp_path, fmt, marker):
    out = tmp_path / f"report.{fmt}"
    result = run("report", "--db", sample_db, "--out", str(out))
    assert result.exit_code == 0 and "verdict FAIL" in result.output
    text = out.read_text(encoding="utf-8")
    assert marker in text
    assert out.stat().st_mode & 0o077 == 0
    if fmt == "json":
        assert json.loads(text)["verdict"]["result"] == "FAIL"


def test_html_is_self_contained(sample_db, tmp_path):
    out = tmp_path / "r.html"
    run("report", "--db", sample_db, "--out", str(out))
    html = out.read_text(encoding="utf-8")
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "").replace(
        "http://browser.pipe.aria.microsoft.com", "")
    assert "<script" not in html and "src=" not in html and "<link" not in html


def test_dutch_report(sample_db, tmp_path):
    out = tmp_path / "r.html"
    run("report", "--db", sample_db, "--out", str(out), "--lang", "nl")
    html = out.read_text(encoding="utf-8")
    assert 'lang="nl"' in html and "NIET GESLAAGD" in html and "Bevindingen per regel" in html


def test_json_schema_documents_the_report(sample_db):
    schema = json.loads(run("report", "--schema").output)
    assert {"verdict", "findings", "endpoints", "events_by_level"} <= set(schema["properties"])


def test_diff_between_builds(capture, db_path):
    a = capture([telemetry_flow("a", json_stream([office("Office.Word.Crash", 120),
                                                  office("Office.Word.Gone", 120)]), CT, host=EU)])
    b = capture([telemetry_flow("b", json_stream([office("Office.Word.Crash", 2),
                                                  office("Office.Feed.Ad.Shown", 120)]), CT,
                                host="us-mobile.events.data.microsoft.com")])
    run("replay", a, "--db", db_path)
    run("replay", b, "--db", db_path)
    data = json.loads(run("diff", "1", "2", "--db", db_path, "--format", "json").output)
    assert data["new_events"] == ["Office.Feed.Ad.Shown"]
    assert data["gone_events"] == ["Office.Word.Gone"]
    assert data["changed_events"][0]["name"] == "Office.Word.Crash"
    assert data["changed_events"][0]["level"] == {"before": ["essential"], "after": ["optional"]}
    assert data["new_findings"]["level/violation"] == 1
    assert data["new_findings"]["purpose/violation"] == 1
    assert data["new_endpoints"] == ["us-mobile.events.data.microsoft.com"]
    text = run("diff", "1", "2", "--db", db_path).output
    assert "+ Office.Feed.Ad.Shown" in text and "- Office.Word.Gone" in text
    html = run("report", "--db", db_path, "--run", "2", "--baseline", "1", "--format",
               "html").output
    assert "Changes since the baseline run" in html and "Office.Feed.Ad.Shown" in html


def test_bundle_round_trip_and_sha256sum(sample_db, tmp_path):
    bundle = tmp_path / "bundle.zip"
    result = run("export", "--db", sample_db, "--out", str(bundle))
    assert result.exit_code == 0 and "personal data" in result.output
    names = set(zipfile.ZipFile(bundle).namelist())
    assert {"flows.mitm", "events.jsonl", "findings.jsonl", "report.html", "report.json",
            "policy/policy.yaml", "manifest.json", "SHA256SUMS"} <= names
    result = run("verify", str(bundle))
    assert result.exit_code == 0 and "reproduce exactly" in result.output
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(bundle).extractall(unpacked)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=unpacked,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    manifest = json.loads((unpacked / "manifest.json").read_text())
    assert "personal data" in manifest["warning"]
    assert manifest["run"]["chain_head"] and manifest["policy"]["sha256"]


def _rewrite(bundle: Path, name: str, change) -> None:
    with zipfile.ZipFile(bundle) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    files[name] = change(files[name])
    with zipfile.ZipFile(bundle, "w") as zf:
        for n, data in files.items():
            zf.writestr(n, data)


def test_bundle_with_modified_file_fails(sample_db, tmp_path):
    bundle = tmp_path / "b.zip"
    run("export", "--db", sample_db, "--out", str(bundle))
    _rewrite(bundle, "report.html", lambda d: d.replace(b"FAIL", b"PASS"))
    result = CliRunner().invoke(main, ["verify", str(bundle)])
    assert result.exit_code == 1
    assert "report.html was modified" in result.output


def test_bundle_with_modified_finding_and_fixed_sums_fails_reclassification(sample_db, tmp_path):
    import hashlib

    bundle = tmp_path / "b.zip"
    run("export", "--db", sample_db, "--out", str(bundle))

    def soften(data: bytes) -> bytes:
        return data.replace(b'"severity": "violation"', b'"severity": "review"', 1)

    _rewrite(bundle, "findings.jsonl", soften)
    # A careful forger also fixes SHA256SUMS; re-classification still catches it.
    with zipfile.ZipFile(bundle) as zf:
        new_sum = hashlib.sha256(zf.read("findings.jsonl")).hexdigest()

    def fix_sums(data: bytes) -> bytes:
        lines = [f"{new_sum}  findings.jsonl" if line.endswith("  findings.jsonl") else line
                 for line in data.decode().splitlines()]
        return ("\n".join(lines) + "\n").encode()

    _rewrite(bundle, "SHA256SUMS", fix_sums)
    result = CliRunner().invoke(main, ["verify", str(bundle)])
    assert result.exit_code == 1
    assert "findings.jsonl does not reproduce" in result.output


def test_redacted_bundle_has_no_raw_telemetry(sample_db, tmp_path):
    bundle = tmp_path / "r.zip"
    run("export", "--db", sample_db, "--out", str(bundle), "--redact")
    names = zipfile.ZipFile(bundle).namelist()
    assert "flows.mitm" not in names and not any(n.startswith("captures/") for n in names)
    result = run("verify", str(bundle))
    assert result.exit_code == 0 and "Redacted bundle" in result.output


def test_verify_rejects_a_non_bundle(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    result = CliRunner().invoke(main, ["verify", str(junk)])
    assert result.exit_code == 1 and "not a readable zip" in result.output
    assert "Traceback" not in result.output


def test_purge_removes_everything_of_a_run(sample_db, capture, sample_flows):
    run("replay", capture(sample_flows), "--db", sample_db)
    result = run("purge", "--db", sample_db, "--run", "1", "--yes")
    assert "purged runs 1" in result.output
    engine = open_engine(sample_db)
    with engine.connect() as conn:
        assert {r for (r,) in conn.execute(select(requests.c.run_id).distinct())} == {2}
    raw = Path(sample_db).read_bytes()
    assert raw.count(b"self.events.data.microsoft.com") > 0  # run 2 is still there
    assert "no runs to purge" in run("purge", "--db", sample_db, "--older-than", "30d",
                                     "--yes").output
    assert run("purge", "--db", sample_db, "--older-than", "0d", "--yes").exit_code == 0
    assert "holds no runs" in CliRunner().invoke(main, ["events", "--db", sample_db]).output


def test_missing_run_is_a_clean_error(sample_db):
    for command in (["report"], ["export", "--out", "x.zip"], ["verify"]):
        result = CliRunner().invoke(main, [*command, "--db", sample_db, "--run", "99"])
        assert result.exit_code == 1 and "there is no run 99" in result.output


def _chromium(url: str, tmp_path: Path, shot: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
         "--v=0", f"--screenshot={shot}", "--window-size=1200,1600", url],
        capture_output=True, text=True, timeout=120,
    )


def test_html_renders_in_headless_chromium_without_console_errors(sample_db, tmp_path):
    if CHROMIUM is None:
        unavailable("chromium is not installed")
    out = tmp_path / "report.html"
    run("report", "--db", sample_db, "--out", str(out))
    shot = tmp_path / "report.png"
    proc = _chromium(out.as_uri(), tmp_path, shot)
    assert shot.exists() and shot.stat().st_size > 20_000, proc.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1200, 1600)
    assert "CONSOLE" not in proc.stderr, proc.stderr
    # The same check does see a console error when a page has one.
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('broken')</script></body></html>")
    assert "CONSOLE" in _chromium(bad.as_uri(), tmp_path, tmp_path / "bad.png").stderr


def test_repeated_findings_are_listed_once_with_their_counts(capture, db_path, monkeypatch):
    # The same too-detailed event in five requests, twice in the last: one line in the
    # report, counted seven times in five requests, evidence pointing at the first.
    flows = [telemetry_flow(f"r{i}", json_stream([office("Office.Word.Crash", 2)] *
                                                 (2 if i == 4 else 1)), CT, host=EU)
             for i in range(5)]
    flows.append(telemetry_flow("other", json_stream([office("Office.Excel.Crash", 2)]), CT,
                                host=EU))
    run("replay", capture(flows[:1]), "--db", db_path)
    run("replay", capture(flows), "--db", db_path)
    engine = open_engine(db_path)
    report = build_report(engine, 2)
    (word,) = [f for f in report.findings
               if f.rule == "level" and f.event_name == "Office.Word.Crash"]
    assert (word.occurrences, word.flows) == (6, 5)
    assert word.flow_id == report.findings[0].flow_id  # the first request's
    assert report.verdict.by_rule["level"]["violation"] == 7  # every occurrence counted
    assert len({(f.rule, f.severity, f.event_name, f.field, f.pii_kind, f.product)
                for f in report.findings}) == len(report.findings)
    markdown = run("report", "--db", db_path, "--run", "2", "--format", "md").output
    assert "6 times in 5 requests, first in flow" in markdown
    html = run("report", "--db", db_path, "--run", "2", "--format", "html").output
    assert "6 times in 5 requests, first in" in html
    # The diff counts occurrences, not lines.
    data = json.loads(run("diff", "1", "2", "--db", db_path, "--format", "json").output)
    assert data["new_findings"]["level/violation"] == 6
    # Past the cap, HTML and Markdown say how many they leave out.
    monkeypatch.setattr("diagscope.report.render.FINDINGS_LIMIT", 1)
    markdown = run("report", "--db", db_path, "--run", "2", "--format", "md").output
    total = len(report.findings)
    assert f"Only the first 1 of {total} distinct findings are shown" in markdown
    assert markdown.count(" (Evidence: ") == 1
