"""The edges of the reading commands: refusals in one line that leave foreign files alone,
`purge` that asks, `show` that masks, filters, flow id prefixes, warnings when two runs do
not compare like with like, and the Markdown and Dutch reports."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT, telemetry_flow

from diagscope.cli import main
from diagscope.report.i18n import dutch_clauses, translator
from diagscope.report.render import markdown_code, markdown_text
from diagscope.sources.synthetic import json_stream

DIAGSCOPE = Path(sys.executable).with_name("diagscope")
CT = [("Content-Type", "application/x-json-stream")]
EU = "eu-office.events.data.microsoft.com"
EMAIL = "jan.jansen@minjenv.nl"
CANARY = "Ontslagbrief-Canary-7f3a"


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def jsonl(result: Result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def event(name: str, level: int = 110, **data: object) -> dict:
    return {"name": name, "ver": "4.0", "time": "2026-11-02T09:00:00Z",
            "data": {"EventInfo.Level": level, **data}}


def flow(flow_id: str, *events: dict, host: str = EU):
    made = telemetry_flow(flow_id, json_stream(list(events)), CT, host=host)
    made.id = flow_id  # ids a test can type a prefix of
    return made


def on_terminal(*argv: object, answer: str | None = None, timeout: float = 60) -> str:
    """Run diagscope with a pseudo-terminal as stdin and stdout; answer its prompt."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([str(DIAGSCOPE), *map(str, argv)], stdin=terminal,
                            stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    said, answered = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # EIO: the command ended and closed the terminal
                    break
                if not chunk:
                    break
                said += chunk
            if answer is not None and not answered and b"[y/N]" in said:
                os.write(controller, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    return said.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture
def personal_db(capture, db_path):
    """One request whose event sends an e-mail address (in a flat `User.Email` key) and a
    planted canary; run 1."""
    body = event("Office.Word.FileOpen", 1, **{"User.Email": EMAIL, "Doc": {"Title": CANARY}})
    path = capture([flow("0123abcd-personal", body)])
    assert run("replay", path, "--db", db_path, "--canary", f"doc={CANARY}").exit_code == 0
    return db_path


# -- purge ---------------------------------------------------------------------------------


def _run_ids(db: str) -> list[int]:
    return [r["run"] for r in jsonl(run("runs", "--db", db, "--format", "jsonl"))]


def test_purge_refuses_without_a_terminal_or_yes(personal_db):
    result = run("purge", "--db", personal_db, "--run", "1")
    assert result.exit_code == 2 and "--yes" in result.output
    assert _run_ids(personal_db) == [1]


def test_purge_refuses_run_together_with_older_than(personal_db):
    result = run("purge", "--db", personal_db, "--run", "1", "--older-than", "0d", "--yes")
    assert result.exit_code == 2 and "use one of them" in result.output
    assert _run_ids(personal_db) == [1]


def test_purge_asks_on_a_terminal(personal_db):
    kept = on_terminal("purge", "--db", personal_db, "--run", "1", answer="n")
    assert "Delete runs 1 and all their evidence?" in kept and "Aborted" in kept
    assert _run_ids(personal_db) == [1]
    gone = on_terminal("purge", "--db", personal_db, "--run", "1", answer="y")
    assert "purged runs 1" in gone
    assert _run_ids(personal_db) == []


# -- show masks what findings name -----------------------------------------------------------


def test_show_masks_the_values_findings_name(personal_db):
    shown = run("show", "0123abcd-personal", "--db", personal_db)
    assert shown.exit_code == 0, shown.output
    assert EMAIL not in shown.stdout and CANARY not in shown.stdout
    assert "--reveal" in shown.stdout  # the output says that it is masked
    email = next(f for f in jsonl(run("findings", "--db", personal_db, "--format", "jsonl"))
                 if f["pii_kind"] == "email")
    # Shown as the finding shows it, in the event's own place.
    assert f'"User.Email": "{email["value"]}"' in shown.stdout
    assert '"Title": "O*********************3a"' in shown.stdout
    assert '"name": "Office.Word.FileOpen"' in shown.stdout


def test_show_reveal_is_for_a_terminal_only(personal_db):
    refused = run("show", "0123abcd-personal", "--db", personal_db, "--reveal")
    assert refused.exit_code == 2 and "own terminal" in refused.output
    assert EMAIL not in refused.output
    masked = on_terminal("show", "0123", "--db", personal_db)
    assert EMAIL not in masked and '"name": "Office.Word.FileOpen"' in masked
    clear = on_terminal("show", "0123", "--db", personal_db, "--reveal")
    assert f'"User.Email": "{EMAIL}"' in clear and CANARY in clear


def test_show_masks_personal_data_in_a_damaged_bond_body(capture, db_path):
    from datetime import UTC, datetime

    from bondwriter import records_body

    from diagscope.sources.synthetic import raw_deflate

    when = datetime(2026, 11, 2, tzinfo=UTC)
    body = records_body([{"name": "Office.Word.FileOpen", "time": when,
                          "data": {"User.Email": EMAIL}},
                         {"name": "Office.Word.FileClose", "time": when}])
    damaged = raw_deflate(body[: len(body) - 3])  # the first record whole, the second cut
    made = telemetry_flow("bond", damaged, [("Content-Type", "application/bond-compact-binary"),
                                            ("Content-Encoding", "deflate")])
    run("replay", capture([made]), "--db", db_path)
    flow_id = jsonl(run("findings", "--db", db_path, "--format", "jsonl"))[0]["flow_id"]
    shown = run("show", flow_id, "--db", db_path).stdout
    assert "generic Bond tree" in shown and EMAIL not in shown and "j********@m" in shown


# -- reading commands leave what is not theirs alone -----------------------------------------


READING_COMMANDS = [
    ["runs"], ["events"], ["findings"], ["show", "0123"], ["explain", "0123"], ["report"],
    ["diff", "1", "2"], ["reconcile", "1", "2"], ["export", "--out", "{tmp}/x.zip"],
    ["verify"], ["attach", "{tmp}/settings.zip"], ["purge", "--run", "1", "--yes"],
]


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO accounts (name) VALUES ('somebody')")
    conn.close()


def _runs_table_only(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, pipeline TEXT)")
    conn.close()


FILES = {
    "missing": (None, "Error: no such database: {path}"),
    "foreign": (_foreign_sqlite,
                "Error: {path} is not a diagscope database (it has tables: accounts, orders)"),
    "runs-table": (_runs_table_only,
                   "Error: {path} is not a diagscope database (it has tables: runs)"),
    "text": (lambda p: p.write_text("a shopping list\n"),
             "Error: {path} is not a diagscope database (it is not an SQLite file)"),
    "empty": (lambda p: p.write_bytes(b""),
              "Error: {path} is not a diagscope database (it is empty)"),
}


@pytest.mark.parametrize("kind", list(FILES))
@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda c: c[0])
def test_reading_commands_refuse_what_is_not_a_diagscope_database(tmp_path, kind, command):
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "other.db"
    make, expected = FILES[kind]
    if make is not None:
        make(path)
    with zipfile.ZipFile(tmp_path / "settings.zip", "w") as zf:
        zf.writestr("settings.json", "{}")
    before = {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in folder.iterdir()}
    argv = [part.format(tmp=tmp_path) for part in command]
    result = run(*argv, "--db", path)
    assert result.exit_code == 1
    assert result.output.splitlines() == [expected.format(path=path)]
    after = {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in folder.iterdir()}
    assert after == before  # not a byte, mode or file (journal, -wal, -shm) changed


# -- filters and flow id prefixes ----------------------------------------------------------


def test_findings_filters(capture, sample_flows, db_path):
    run("replay", capture(sample_flows), "--db", db_path)
    everything = jsonl(run("findings", "--db", db_path, "--format", "jsonl"))
    chosen = jsonl(run("findings", "--db", db_path, "--format", "jsonl", "--rule", "level",
                       "--rule", "personal-data", "--severity", "violation"))
    assert chosen and chosen == [f for f in everything if f["rule"] in ("level", "personal-data")
                                 and f["severity"] == "violation"]
    reviews = jsonl(run("findings", "--db", db_path, "--format", "jsonl", "--severity",
                        "review"))
    assert reviews and {f["severity"] for f in reviews} == {"review"}
    unknown = run("findings", "--db", db_path, "--rule", "loudness")
    assert unknown.exit_code == 2 and "loudness" in unknown.output


def test_events_filters(capture, sample_flows, db_path):
    run("replay", capture(sample_flows), "--db", db_path)
    everything = jsonl(run("events", "--db", db_path, "--format", "jsonl"))
    windows = jsonl(run("events", "--db", db_path, "--format", "jsonl", "--product", "windows"))
    assert windows and windows == [e for e in everything if e["product"] == "windows"]
    both = jsonl(run("events", "--db", db_path, "--format", "jsonl", "--product", "office",
                     "--verdict", "violation", "--verdict", "review"))
    assert both == [e for e in everything if e["product"] == "office"
                    and e["verdict"] in ("violation", "review")]
    found = jsonl(run("findings", "--db", db_path, "--format", "jsonl"))
    purpose = {(f["flow_id"], f["event_index"]) for f in found if f["rule"] == "purpose"}
    by_rule = jsonl(run("events", "--db", db_path, "--format", "jsonl", "--rule", "purpose"))
    assert by_rule and {(e["flow_id"], e["event_index"]) for e in by_rule} == purpose
    # A request-level finding is about every event of its request.
    sent_to = {f["flow_id"] for f in found if f["rule"] == "transport"}
    transport = jsonl(run("events", "--db", db_path, "--format", "jsonl", "--rule", "transport"))
    assert transport == [e for e in everything if e["flow_id"] in sent_to]


def test_flow_id_prefixes(capture, db_path):
    heartbeat = event("Office.Licensing.Heartbeat")
    flows = [flow("0123abcd-only", heartbeat)] + [flow(f"feedcafe-{i:04d}", heartbeat)
                                                   for i in range(7)]
    run("replay", capture(flows), "--db", db_path)
    assert '"name": "Office.Licensing.Heartbeat"' in run("show", "0123", "--db", db_path).stdout
    assert run("explain", "0123a", "--db", db_path).stdout.startswith(
        "Request 0123abcd-only (run 1)")
    assert run("explain", "feedcafe-0003", "0", "--db", db_path).exit_code == 0
    for command in ("show", "explain"):
        ambiguous = run(command, "feedcafe", "--db", db_path)
        assert ambiguous.exit_code == 1
        assert ambiguous.output.splitlines() == [
            "Error: flow id feedcafe is ambiguous in run 1: 7 requests start with it: "
            "feedcafe-0000, feedcafe-0001, feedcafe-0002, feedcafe-0003, feedcafe-0004 "
            "and 2 more"]
    missing = run("explain", "0124", "--db", db_path)
    assert missing.exit_code == 1 and "no request with flow id 0124" in missing.output


# -- warnings when two runs do not compare like with like ----------------------------------


def test_diff_warns_about_different_setups_and_a_newer_baseline(tmp_path, capture, db_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text("extends: slm-rijk-2019\nname: lab\n", encoding="utf-8")
    path = capture([flow("a", event("Office.Word.FileOpen"))])
    run("replay", path, "--db", db_path, "--canary", "doc=Canary-1")
    scenario = ROOT / "scenarios" / "word-neither.yaml"
    for _ in range(2):
        run("replay", path, "--db", db_path, "--policy", lab, "--scenario", scenario)
    result = run("diff", "1", "2", "--db", db_path)
    assert result.exit_code == 0 and result.stdout.startswith("Changes from run 1 to run 2")
    warnings = result.stderr.splitlines()
    assert len(warnings) == 3
    assert warnings[0].startswith("warning: runs 1 and 2 were judged by different policies: "
                                  "slm-rijk-2019 (sha256 ")
    assert warnings[1].startswith("warning: runs 1 and 2 played different scenarios: none and "
                                  "word-neither (sha256 ")
    assert warnings[2] == ("warning: runs 1 and 2 searched for different canaries: doc and "
                           "account, doc-title, sentence, subject")
    assert run("diff", "2", "3", "--db", db_path).stderr == ""
    backwards = run("diff", "3", "2", "--db", db_path).stderr.splitlines()
    assert backwards == ["warning: the baseline run 3 is newer than run 2; the new build comes "
                         "second: diagscope diff 2 3"]
    report = run("report", "--db", db_path, "--run", "2", "--baseline", "3", "--format", "md")
    assert "the baseline run 3 is newer than run 2" in report.stderr


def test_reconcile_warns_when_the_roles_look_swapped(capture, db_path):
    run("replay", capture([flow("wire", event("Census.OS"))]), "--db", db_path)
    run("replay", ROOT / "captures" / "ddv-export.json", "--db", db_path)
    assert run("reconcile", "1", "2", "--db", db_path).stderr == ""
    swapped = run("reconcile", "2", "1", "--db", db_path)
    assert swapped.exit_code == 0
    assert swapped.stderr.splitlines() == [
        "warning: run 2, given as the wire run, is a Diagnostic Data Viewer import and run 1 "
        "is not; the wire run comes first: diagscope reconcile 1 2"]


# -- the Markdown and Dutch reports --------------------------------------------------------


@pytest.fixture
def two_builds(capture, db_path):
    a = capture([flow("a", event("Office.Word.Crash", 120), event("Office.Word.Gone", 120))])
    b = capture([flow("b", event("Office.Word.Crash", 2), event("Office.Feed.Ad.Shown", 120),
                      host="us-mobile.events.data.microsoft.com")])
    run("replay", a, "--db", db_path, "--label", "build A & co's <first>")
    run("replay", b, "--db", db_path, "--label", "build B | \"second\"")
    return db_path


def test_markdown_report_has_the_comparison_and_no_html_escapes(two_builds):
    md = run("report", "--db", two_builds, "--run", "2", "--baseline", "1", "--format",
             "md").stdout
    assert "## Changes since the baseline run (Run 1)" in md
    assert "| New event names | `Office.Feed.Ad.Shown` |" in md
    assert "| Event names no longer seen | `Office.Word.Gone` |" in md
    assert "| New endpoints | `us-mobile.events.data.microsoft.com` |" in md
    assert "`Office.Word.Crash`: Level essential → optional" in md
    assert "# Verification report: build B \\| \"second\"" in md
    for entity in ("&amp;", "&#39;", "&#34;", "&quot;", "&lt;", "&gt;"):
        assert entity not in md
    first = run("report", "--db", two_builds, "--run", "1", "--format", "md").stdout
    assert "# Verification report: build A & co's \\<first\\>" in first
    assert "Changes since" not in first


def test_dutch_report_translates_rules_verdicts_purposes_and_clauses(two_builds):
    nl = run("report", "--db", two_builds, "--run", "2", "--format", "md", "--lang",
             "nl").stdout
    assert "| niveau | 1 | 0 |" in nl and "| doel | 1 | 0 |" in nl
    assert "| `Office.Feed.Ad.Shown` | 1 | office | adverteren | schending |" in nl
    assert "- **niveau schending** `Office.Word.Crash`" in nl
    assert 'Bepaling: Verwerkersovereenkomst, verboden doel (c): "adverteren' in nl
    assert "forbidden purpose (c)" not in nl
    en = run("report", "--db", two_builds, "--run", "2", "--format", "md").stdout
    assert "| `Office.Feed.Ad.Shown` | 1 | office | advertising | violation |" in en
    assert "Clause: Verwerkersovereenkomst, forbidden purpose (c)" in en
    html = run("report", "--db", two_builds, "--run", "2", "--format", "html", "--lang",
               "nl").stdout
    assert "verboden doel (c)" in html and "niveau<br>schending" in html


def test_a_clause_is_cited_as_written_without_dutch_text():
    policy = {"transport": {"clause": "Encrypt.", "clause_nl": "Versleutel."},
              "destinations": {"clause": "Stay in the EEA.", "clause_nl": ""},
              "catalogue_clause": "Documented.", "catalogue_clause_nl": "Gedocumenteerd."}
    clauses = dutch_clauses(policy)
    assert clauses == {"Encrypt.": "Versleutel.", "Documented.": "Gedocumenteerd."}
    t = translator("nl", clauses)
    assert t.clause("Encrypt.") == "Versleutel." and t.clause("Stay in the EEA.") == \
        "Stay in the EEA."
    assert t.clause("Documented.\n") == "Gedocumenteerd."  # line breaks do not matter
    assert translator("en", clauses).clause("Encrypt.") == "Encrypt."
    assert t.rule("personal-data") == "persoonsgegevens" and t.rule("a-lab-rule") == "a-lab-rule"


def test_markdown_escaping():
    assert markdown_text("a | b <i>*x*</i>\nnext") == "a \\| b \\<i\\>\\*x\\*\\</i\\> next"
    assert markdown_code("a`b") == "``a`b``"
    assert markdown_code("`x`") == "`` `x` ``"
    assert markdown_code("a|b", in_table=True) == "`a\\|b`"


# -- the proxy's port -------------------------------------------------------------------


@pytest.mark.e2e
def test_a_port_in_use_is_named_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(DIAGSCOPE), "proxy", "--listen-port", str(port), "--db",
             str(tmp_path / "live.sqlite"), "--confdir", str(tmp_path / "mitmproxy")],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert (result.stdout + result.stderr).splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use; choose "
        "another with --listen-port (0 picks a free one)"]
    assert not list(tmp_path.glob("diagscope-proxy-*.mitm"))  # no empty capture left behind


def test_a_server_database_without_diagscope_tables_is_refused(pg_url):
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    result = run("findings", "--db", pg_url)
    assert result.exit_code == 1
    shown = make_url(pg_url).render_as_string(hide_password=True)
    assert result.output.splitlines() == [
        f"Error: {shown} is not a diagscope database (it has no tables)"]
    engine = create_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == []  # no schema was created
    finally:
        engine.dispose()
