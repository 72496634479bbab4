"""Evidence that holds up: every forgery below must fail `verify`, by name, and no run may
claim more than it saw (NO DATA, INCOMPLETE)."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import telemetry_flow
from finding_edits import edit_finding, edit_kinds
from sqlalchemy import Engine, delete, select, update

from diagscope.cli import main
from diagscope.report.overview import build_report
from diagscope.session import INTERRUPTED, RunSession, SessionSettings
from diagscope.sources.synthetic import json_stream
from diagscope.store.chain import GENESIS, ROWS_ONLY_FORMAT, content_digest, link
from diagscope.store.engine import open_engine
from diagscope.store.tables import (
    events,
    finding_kinds,
    finding_occurrences,
    findings,
    requests,
    run_entries,
    runs,
)

CT = [("Content-Type", "application/x-json-stream")]
DOC, MAIL = "Ontslagbrief-Canary-7f3a", "geheim.canary.9b1c@example.nl"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def office(name: str, level: int, **data: object) -> dict:
    return {"name": name, "ver": "4.0", "time": "2026-11-02T09:00:00Z",
            "ext": {"app": {"name": "Word", "ver": "16.0.1"}},
            "data": {"EventInfo.Level": level, "EventInfo.PrivTags": 0x01000000, **data}}


@pytest.fixture
def sample_db(capture, sample_flows, db_path) -> str:
    assert invoke("replay", capture(sample_flows), "--db", db_path).exit_code == 0
    return db_path


def export(db: str, out: Path, *flags: str) -> Path:
    result = invoke("export", "--db", db, "--out", str(out), *flags)
    assert result.exit_code == 0, result.output
    return out


def forge(bundle: Path, changes: dict[str, Callable[[bytes], bytes | None]]) -> None:
    """Change files of a bundle (None deletes one) and rewrite SHA256SUMS to match, as a
    careful forger would; the signature, if any, stays as it was."""
    with zipfile.ZipFile(bundle) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    for name, change in changes.items():
        changed = change(files[name])
        if changed is None:
            del files[name]
        else:
            files[name] = changed
    listed = {n: d for n, d in files.items() if n not in ("SHA256SUMS", "SHA256SUMS.sig")}
    files["SHA256SUMS"] = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n"
                                  for n, d in sorted(listed.items())).encode()
    with zipfile.ZipFile(bundle, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def edit_json(change: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        document = json.loads(data)
        change(document)
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    return apply


def edit_lines(change: Callable[[list[dict]], list[dict]]) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        rows = change([json.loads(line) for line in data.decode().splitlines() if line])
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    return apply


def fails(bundle: Path, expected: str, *flags: str) -> str:
    result = invoke("verify", str(bundle), *flags)
    assert result.exit_code == 1, result.output
    assert expected in result.output, result.output
    assert "Traceback" not in result.output
    return result.output


def passes(bundle: Path, *flags: str) -> str:
    result = invoke("verify", str(bundle), *flags)
    assert result.exit_code == 0, result.output
    return result.output


# -- Bundles: what they say must follow from the chain --------------------------------------


def test_untouched_bundle_passes_and_warns_about_a_whole_rewrite(sample_db, tmp_path):
    output = passes(export(sample_db, tmp_path / "b.zip"))
    assert "manifest, policy, captures and report agree" in output
    assert "reproduce exactly" in output
    assert "rewritten as a whole cannot be told from the original" in output


def test_bundle_report_is_the_report_of_the_database(sample_db, tmp_path):
    """The report a bundle holds is rebuilt from its rows; it is the report the database
    gives for the export time."""
    from diagscope.report.build import build_for_run
    from diagscope.report.render import render_html, render_json

    bundle = zipfile.ZipFile(export(sample_db, tmp_path / "b.zip"))
    exported_at = json.loads(bundle.read("manifest.json"))["exported"]["at"]
    built = build_for_run(open_engine(sample_db), 1, generated_at=exported_at)
    assert bundle.read("report.json").decode() == render_json(built.report)
    assert bundle.read("report.html").decode() == render_html(built.report, "en",
                                                              built.forbidden_purposes)


def test_report_html_saying_pass_instead_of_fail(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "b.zip")
    forge(bundle, {"report.html": lambda d: d.replace(b'class="verdict FAIL"', b'class="verdict'
                                                      b' PASS"').replace(b"FAIL:", b"PASS:")})
    fails(bundle, "report.html does not match the report rebuilt from the enclosed rows")


def test_report_json_saying_pass_instead_of_fail(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "b.zip")

    def to_pass(report: dict) -> None:
        assert report["verdict"]["result"] == "FAIL"
        report["verdict"].update(result="PASS", violations=0)

    forge(bundle, {"report.json": edit_json(to_pass)})
    fails(bundle, "report.json does not match the report rebuilt from the enclosed rows")


def test_manifest_verdict_changed(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "b.zip")
    forge(bundle, {"manifest.json": edit_json(
        lambda m: m["verdict"].update(result="PASS"))})
    fails(bundle, 'manifest.json does not match the enclosed rows: verdict.result is "PASS", '
                  'the rows give "FAIL"')


def test_manifest_chain_length_changed(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "b.zip")
    forge(bundle, {"manifest.json": edit_json(
        lambda m: m["run"].update(chain_length=m["run"]["chain_length"] + 1))})
    fails(bundle, "(or manifest.json's chain head or length was altered)")


def test_capture_file_edited(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "b.zip")
    with zipfile.ZipFile(bundle) as zf:
        [capture] = [n for n in zf.namelist() if n.startswith("captures/")]
    forge(bundle, {capture: lambda d: d[:-10]})
    fails(bundle, f"{capture} does not match the SHA-256 the run stored for capture")


def test_a_capture_that_changes_while_it_is_enclosed_is_not_exported(sample_db, tmp_path,
                                                                     monkeypatch):
    """A capture is hashed, then copied into the bundle; if it changed in between, the copy
    is not the file the run recorded, and no bundle is written."""
    from diagscope.report import bundle as bundle_module

    checked = bundle_module._file_sha256

    def check_then_change(path: Path) -> str:
        digest = checked(path)
        path.write_bytes(path.read_bytes() + b"appended after the check")
        return digest

    monkeypatch.setattr(bundle_module, "_file_sha256", check_then_change)
    out = tmp_path / "b.zip"
    result = invoke("export", "--db", sample_db, "--out", str(out))
    assert result.exit_code != 0
    assert "changed while it was being enclosed" in result.output
    assert not out.exists() and not list(tmp_path.glob(".b.zip-*"))


def test_policy_file_edited(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "b.zip")
    forge(bundle, {"policy/policy.yaml": lambda d: d + b"\n# every purpose is permitted\n"})
    fails(bundle, "policy/policy.yaml is not the policy the run recorded")


def test_policy_and_its_resolved_form_edited_together(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "b.zip")

    def permit_everything(policy: dict) -> None:
        for purpose in policy["purposes"].values():
            purpose["permitted"] = True

    forge(bundle, {"policy/policy.resolved.json": edit_json(permit_everything)})
    fails(bundle, "policy/policy.resolved.json is not the resolved policy the run recorded")


def _first_violation(rows: list[dict]) -> int:
    return next(i for i, r in enumerate(rows) if r["severity"] == "violation")


def test_redacted_bundle_with_a_violation_deleted(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "r.zip", "--redact")
    passes(bundle)

    def drop(rows: list[dict]) -> list[dict]:
        del rows[_first_violation(rows)]
        return rows

    forge(bundle, {"rows/findings.jsonl": edit_lines(drop), "findings.jsonl": edit_lines(drop)})
    fails(bundle, "the chain in rows/ does not verify: the entry at chain position")


def test_redacted_bundle_with_a_violation_downgraded(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "r.zip", "--redact")

    def downgrade(rows: list[dict]) -> list[dict]:
        rows[_first_violation(rows)]["severity"] = "review"
        return rows

    forge(bundle, {"rows/findings.jsonl": edit_lines(downgrade),
                   "findings.jsonl": edit_lines(downgrade)})
    fails(bundle, "was altered (or inserted): its hash does not match its content")


def test_redacted_bundle_hides_personal_columns_and_still_recomputes(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "r.zip", "--redact")
    with zipfile.ZipFile(bundle) as zf:
        event = json.loads(zf.read("rows/events.jsonl").decode().splitlines()[0])
        request = json.loads(zf.read("rows/requests.jsonl").decode().splitlines()[0])
        names = zf.namelist()
    assert len(event["cs"]) == 64 and "{" not in event["cs"]
    assert isinstance(request["headers"], str) and len(request["headers"]) == 64
    assert "flows.mitm" not in names and not any(n.startswith("captures/") for n in names)
    assert "Redacted bundle" in passes(bundle)


def test_unredacted_row_edit_is_caught_too(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "b.zip")

    def rename(rows: list[dict]) -> list[dict]:
        rows[0]["name"] = "Office.Harmless"
        return rows

    forge(bundle, {"rows/events.jsonl": edit_lines(rename)})
    fails(bundle, "events row at chain position")


def test_rezipped_unchanged_bundle_passes(sample_db, tmp_path):
    """`zip -r` adds an entry for every folder; they carry nothing and are ignored."""
    bundle = export(sample_db, tmp_path / "b.zip")
    rezipped = tmp_path / "rezipped.zip"
    with zipfile.ZipFile(bundle) as old, zipfile.ZipFile(rezipped, "w") as new:
        for folder in ("captures/", "policy/", "rows/"):
            new.writestr(zipfile.ZipInfo(folder), b"")
        for name in old.namelist():
            new.writestr(name, old.read(name))
    assert "policy/" in zipfile.ZipFile(rezipped).namelist()
    passes(rezipped)


# -- The database: run metadata is chained, every run is checked ----------------------------


def test_forged_policy_text_in_the_database(sample_db):
    engine = open_engine(sample_db)
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == 1).values(
            policy_text="name: lenient\n# nothing is forbidden\n"))
    result = invoke("verify", "--db", sample_db)
    assert result.exit_code == 1
    assert "run 1: chain broken: the run's policy_text differs from what its chain recorded" \
        in result.output


@pytest.mark.parametrize(("column", "value"), [
    ("label", "another build"), ("status", "complete-ish"),
    ("settings", {"configured": {"office_level": "required"}}),
    ("scenario", {"id": "other"}), ("command", "diagscope replay other.mitm"),
])
def test_forged_run_metadata_in_the_database(sample_db, column, value):
    engine = open_engine(sample_db)
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == 1).values({column: value}))
    result = invoke("verify", "--db", sample_db)
    assert result.exit_code == 1 and f"the run's {column} differs" in result.output


def test_forged_header_entry_is_caught(sample_db):
    engine = open_engine(sample_db)
    with engine.begin() as conn:
        header = conn.execute(select(run_entries).where(run_entries.c.chain_seq == 0)).one()
        conn.execute(update(run_entries).where(run_entries.c.id == header.id).values(
            content=header.content.replace('"label":""', '"label":"forged"')))
        conn.execute(update(runs).values(label="forged"))
    result = invoke("verify", "--db", sample_db)
    assert result.exit_code == 1 and "run-header entry id" in result.output
    assert "was altered" in result.output


def test_run_marked_older_format_to_hide_its_header(sample_db):
    engine = open_engine(sample_db)
    with engine.begin() as conn:
        conn.execute(update(runs).values(chain_format=ROWS_ONLY_FORMAT, label="forged"))
    result = invoke("verify", "--db", sample_db)
    assert result.exit_code == 1 and "its chain format was altered" in result.output


def test_tampered_older_run_among_several(capture, sample_flows, db_path):
    for _ in range(3):
        assert invoke("replay", capture(sample_flows), "--db", db_path).exit_code == 0
    engine = open_engine(db_path)
    with engine.begin() as conn:
        target = conn.execute(select(findings.c.id).where(
            findings.c.run_id == 1, findings.c.severity == "violation").limit(1)).scalar()
        edit_finding(conn, target, severity="review")
    result = invoke("verify", "--db", db_path)
    assert result.exit_code == 1
    assert "run 1: chain broken" in result.output
    assert "run 2: chain intact" in result.output and "run 3: chain intact" in result.output
    assert "checked 3 runs: 2 intact; failed: 1" in result.output
    assert invoke("verify", "--db", db_path, "--run", "3").exit_code == 0


def test_redacted_export_of_a_tampered_run_is_refused(sample_db, tmp_path):
    engine = open_engine(sample_db)
    with engine.begin() as conn:
        edit_kinds(conn, finding_kinds.c.severity == "violation", severity="review")
    out = tmp_path / "r.zip"
    result = invoke("export", "--db", sample_db, "--out", str(out), "--redact")
    assert result.exit_code == 1
    assert "run 1 does not verify, so it is not exported" in result.output
    assert not out.exists()


def test_open_run_is_reported_open_not_broken(loaded_policy, db_path, capture):
    engine = open_engine(db_path)
    session = RunSession(SessionSettings(), engine=engine, loaded=loaded_policy)
    session.start()
    result = invoke("verify", "--db", db_path)
    assert result.exit_code == 0, result.output
    assert "run 1: open (still recording, or never closed)" in result.output


def test_settings_attached_after_the_run_are_chained(sample_db, tmp_path):
    settings = tmp_path / "collect.zip"
    with zipfile.ZipFile(settings, "w") as zf:
        zf.writestr("settings.json", json.dumps({"office": {"sendtelemetry": 3},
                                                 "windows": {"allowtelemetry": 0}}))
    assert invoke("attach", str(settings), "--db", sample_db).exit_code == 0
    assert invoke("verify", "--db", sample_db).exit_code == 0
    engine = open_engine(sample_db)
    with engine.connect() as conn:
        kinds = [k for (k,) in conn.execute(select(run_entries.c.kind)
                                            .order_by(run_entries.c.chain_seq))]
    assert kinds == ["run-header", "run-close", "run-settings"]
    assert passes(export(sample_db, tmp_path / "b.zip"))
    with engine.begin() as conn:
        conn.execute(update(runs).values(settings={"configured": {"office_level": "neither"}}))
    assert "settings differs" in invoke("verify", "--db", sample_db).output


def _rechain_the_old_way(engine: Engine, run_id: int) -> None:
    """What the previous chain format stored: rows only, linked from the genesis hash,
    request headers in the clear; no run entries."""
    tables = {"requests": requests, "events": events, "findings": findings}
    with engine.begin() as conn:
        conn.execute(delete(run_entries).where(run_entries.c.run_id == run_id))
        rows = sorted(((dict(r._mapping), name) for name, table in tables.items()
                       for r in conn.execute(select(table).where(table.c.run_id == run_id))),
                      key=lambda item: item[0]["chain_seq"])
        head = GENESIS
        for position, (row, name) in enumerate(rows):
            digest = content_digest(row, chain_format=ROWS_ONLY_FORMAT)
            head = link(head, name, run_id, position, row.get("seq"), digest)
            table = finding_occurrences if name == "findings" else tables[name]  # not the view
            conn.execute(update(table).where(table.c.id == row["id"])
                         .values(chain_seq=position, chain_hash=head))
        conn.execute(update(runs).where(runs.c.id == run_id).values(
            chain_format=ROWS_ONLY_FORMAT, chain_head=head, chain_length=len(rows)))


def test_older_format_database_still_verifies_with_a_note(sample_db, tmp_path):
    engine = open_engine(sample_db)
    _rechain_the_old_way(engine, 1)
    result = invoke("verify", "--db", sample_db)
    assert result.exit_code == 0, result.output
    assert "run 1: chain intact" in result.output
    assert "run metadata not chained (older format)" in result.output
    output = passes(export(sample_db, tmp_path / "old.zip"))
    assert "run metadata not chained (older format)" in output
    # Its rows are still chained the old way: an edit is caught.
    with engine.begin() as conn:
        edit_finding(conn, 3, detail="forged")
    assert "chain broken" in invoke("verify", "--db", sample_db).output


# -- Signed bundles --------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path) -> tuple[Path, Path]:
    result = invoke("key", "new", "--out", str(tmp_path / "lab.key"))
    assert result.exit_code == 0, result.output
    private, public = tmp_path / "lab.key", tmp_path / "lab.pub"
    assert os.stat(private).st_mode & 0o777 == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert invoke("key", "new", "--out", str(private)).exit_code == 1  # never overwritten
    return private, public


def test_signed_bundle_passes_with_its_key(sample_db, tmp_path, keys):
    private, public = keys
    bundle = export(sample_db, tmp_path / "s.zip", "--sign-key", str(private))
    output = passes(bundle, "--trusted-key", str(public))
    assert "signed by the trusted key sha256:" in output
    assert "rewritten as a whole" not in output
    manifest = json.loads(zipfile.ZipFile(bundle).read("manifest.json"))
    assert manifest["signature"]["public_key"] in output


def test_signed_bundle_checked_with_a_wrong_key(sample_db, tmp_path, keys):
    private, _ = keys
    assert invoke("key", "new", "--out", str(tmp_path / "other.key")).exit_code == 0
    bundle = export(sample_db, tmp_path / "s.zip", "--sign-key", str(private))
    fails(bundle, "SHA256SUMS.sig is not a signature of SHA256SUMS by the trusted key",
          "--trusted-key", str(tmp_path / "other.pub"))


def test_unsigned_bundle_checked_with_a_trusted_key(sample_db, tmp_path, keys):
    _, public = keys
    bundle = export(sample_db, tmp_path / "b.zip")
    fails(bundle, "the bundle is not signed (no SHA256SUMS.sig)", "--trusted-key", str(public))


def test_signature_removed_from_a_signed_bundle(sample_db, tmp_path, keys):
    private, public = keys
    bundle = export(sample_db, tmp_path / "s.zip", "--sign-key", str(private))
    forge(bundle, {"SHA256SUMS.sig": lambda d: None})
    fails(bundle, "the bundle is not signed", "--trusted-key", str(public))


def test_signed_bundle_with_tampered_sums(sample_db, tmp_path, keys):
    private, public = keys
    bundle = export(sample_db, tmp_path / "s.zip", "--sign-key", str(private))
    forge(bundle, {"report.json": lambda d: d.replace(b'"FAIL"', b'"PASS"')})
    fails(bundle, "SHA256SUMS.sig is not a signature of SHA256SUMS by the trusted key",
          "--trusted-key", str(public))


def test_expected_chain_head(sample_db, tmp_path):
    bundle = export(sample_db, tmp_path / "b.zip")
    head = json.loads(zipfile.ZipFile(bundle).read("manifest.json"))["run"]["chain_head"]
    report = json.loads(zipfile.ZipFile(bundle).read("report.json"))
    assert report["run"]["chain_head"] == head  # what a tester copies into the test log
    assert "the chain head is the one expected" in passes(bundle, "--expect-head", head)
    fails(bundle, f"the chain head is {head}, not the expected", "--expect-head", "0" * 64)


def test_row_files_out_of_chain_order_are_put_in_order_and_verify(sample_db, tmp_path):
    """Rows are read as streams in the order diagscope writes them (chain order); a bundle
    whose row files were re-sorted otherwise holds the same chain, and still verifies."""
    bundle = export(sample_db, tmp_path / "b.zip")
    forge(bundle, {"rows/findings.jsonl": edit_lines(lambda rows: rows[::-1]),
                   "rows/events.jsonl": edit_lines(lambda rows: rows[1:] + rows[:1])})
    assert "reproduce exactly" in passes(bundle)


def test_line_separators_inside_values_do_not_split_rows(capture, db_path, tmp_path):
    """A bundle's JSON lines end at line feeds only: U+2028, U+2029 and U+0085 in a value
    (which JSON leaves as they are) are part of it."""
    odd = "regel\u2028twee\u2029drie\x85vier\x0bvijf\x1czes"
    body = json_stream([office("Office.Word.Save", 120, **{"Doc.Note": odd})])
    path = capture([telemetry_flow("separators", body, CT,
                                   host="eu-office.events.data.microsoft.com")])
    assert invoke("replay", path, "--db", db_path).exit_code in (0, 1)
    bundle = export(db_path, tmp_path / "s.zip")
    with zipfile.ZipFile(bundle) as zf:
        assert "\u2028".encode() in zf.read("rows/events.jsonl")
    assert "reproduce exactly" in passes(bundle)


# -- Canaries --------------------------------------------------------------------------------


@pytest.fixture
def canary_bundle(capture, db_path, tmp_path) -> Path:
    body = json_stream([office("Office.Word.Save", 120, **{"Doc.Title": DOC}),
                        office("Office.Outlook.Send", 120, **{"Mail.To": MAIL}),
                        office("Office.Word.Crash", 120)])
    path = capture([telemetry_flow("canaries", body, CT,
                                   host="eu-office.events.data.microsoft.com")])
    result = invoke("replay", path, "--db", db_path, "--canary", f"doc={DOC}",
                    "--canary", f"mail={MAIL}")
    assert result.exit_code == 0, result.output
    return export(db_path, tmp_path / "c.zip")


def test_all_canaries_given(canary_bundle):
    output = passes(canary_bundle, "--canary", f"doc={DOC}", "--canary", f"mail={MAIL}")
    assert "reproduce exactly" in output and "canaries not given" not in output


def test_partial_canaries_pass_and_the_missing_are_named(canary_bundle):
    output = passes(canary_bundle, "--canary", f"doc={DOC}")
    assert "canaries not given: mail" in output and "reproduce exactly" in output


def test_no_canaries_pass_and_all_are_named(canary_bundle):
    assert "canaries not given: doc, mail" in passes(canary_bundle)


@pytest.mark.parametrize(("given", "expected"), [
    ("wrong=foo", "canary 'wrong' is not one of the run's canaries (doc, mail)"),
    ("doc=Ontslagbrief-Canary-0000",
     "canary 'doc' does not match the run's salted hash: that is not the value planted"),
])
def test_a_wrong_canary_is_one_line(canary_bundle, given, expected):
    result = invoke("verify", str(canary_bundle), "--canary", given)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {expected}"]


# -- Export: every capture it leaves out is named ---------------------------------------------


def test_export_names_captures_it_cannot_enclose(capture, sample_flows, db_path, tmp_path,
                                                 monkeypatch):
    kept, changed, gone = (capture(sample_flows[:2]), capture(sample_flows[2:4]),
                           capture(sample_flows[4:]))
    assert invoke("replay", kept, changed, gone, "--db", db_path).exit_code == 0
    Path(changed).write_bytes(Path(changed).read_bytes() + b"\0")
    Path(gone).unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # captures are found by the absolute path the run stored
    result = invoke("export", "--db", db_path, "--out", "b.zip")
    assert result.exit_code == 0, result.output
    assert f"warning: capture {changed} not included: it changed since the run" \
        in result.output
    assert f"warning: capture {gone} not included: it no longer exists" in result.output
    with zipfile.ZipFile(elsewhere / "b.zip") as zf:
        assert [n for n in zf.namelist() if n.startswith("captures/")] == \
            [f"captures/0-{Path(kept).name}"]
    passes(elsewhere / "b.zip")


def test_relative_capture_paths_are_stored_absolute(capture, sample_flows, db_path,
                                                    monkeypatch):
    path = Path(capture(sample_flows))
    monkeypatch.chdir(path.parent)
    assert invoke("replay", path.name, "--db", db_path).exit_code == 0
    report = build_report(open_engine(db_path), 1)
    assert report.captures[0].path == str(path)


# -- Honest verdicts -----------------------------------------------------------------------


def _verdict(db_path: str, tmp_path: Path) -> tuple[str, str, dict]:
    engine = open_engine(db_path)
    report = build_report(engine, 1)
    bundle = export(db_path, tmp_path / "v.zip")
    manifest = json.loads(zipfile.ZipFile(bundle).read("manifest.json"))
    passes(bundle)
    html = zipfile.ZipFile(bundle).read("report.html").decode()
    return report.verdict.result, html, manifest


def test_empty_capture_is_no_data(tmp_path, db_path):
    empty = tmp_path / "empty.mitm"
    empty.write_bytes(b"")
    result = invoke("replay", str(empty), "--db", db_path)
    assert "verdict:             NO DATA" in result.output
    verdict, html, manifest = _verdict(db_path, tmp_path)
    assert verdict == manifest["verdict"]["result"] == "NO DATA"
    assert "No telemetry was seen in this run" in html


def test_capture_of_random_bytes_is_damaged_and_no_data(tmp_path, db_path):
    noise = tmp_path / "noise.mitm"
    noise.write_bytes(hashlib.sha512(b"noise").digest() * 64)
    result = invoke("replay", str(noise), "--db", db_path)
    assert result.exit_code == 2 and "damaged" in result.output
    assert "verdict:             NO DATA" in result.output
    verdict, html, manifest = _verdict(db_path, tmp_path)
    assert verdict == manifest["verdict"]["result"] == "NO DATA"
    assert manifest["run"]["status"] == "damaged"
    assert "A capture file was damaged" in html


def test_interrupted_replay_is_incomplete(loaded_policy, db_path, tmp_path, sample_flows,
                                          capture):
    from diagscope.replay import replay

    engine = open_engine(db_path)
    session = RunSession(SessionSettings(), engine=engine, loaded=loaded_policy)

    def ctrl_c(_done: int) -> None:
        if session.stats.flows_read == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replay([capture(sample_flows)], session, on_flow=ctrl_c)
    assert session.status == INTERRUPTED and session.stats.telemetry_requests
    assert session.verdict() == "INCOMPLETE"
    verdict, html, manifest = _verdict(db_path, tmp_path)
    assert verdict == manifest["verdict"]["result"] == "INCOMPLETE"
    assert manifest["run"]["status"] == "interrupted"
    assert "This run ended interrupted: evidence is missing" in html
