"""The hash chain catches an edited, a deleted and an inserted row."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from finding_edits import delete_findings, edit_finding, insert_finding
from sqlalchemy import delete, select, update

from diagscope.cli import main
from diagscope.store.engine import open_engine
from diagscope.store.tables import events, finding_occurrences, findings, requests
from diagscope.store.verify import verify_run


@pytest.fixture
def stored(capture, sample_flows, db_path):
    result = CliRunner().invoke(main, ["replay", capture(sample_flows), "--db", db_path])
    assert result.exit_code == 0
    return open_engine(db_path)


def test_untouched_run_verifies(stored, db_path):
    report = verify_run(stored, 1)
    assert report.ok and report.rows == report.expected_rows > 20
    result = CliRunner().invoke(main, ["verify", "--db", db_path])
    assert result.exit_code == 0 and "chain intact" in result.output


# The clause case matters on its own: clause digests are remembered between rows.
@pytest.mark.parametrize(("column", "value"), [
    ("detail", "nothing to see here"),
    ("clause", "Nothing in the agreement forbids this."),
])
def test_edited_finding_is_named(stored, db_path, column, value):
    with stored.begin() as conn:
        target = conn.execute(select(findings.c.id).order_by(findings.c.id).limit(1)
                              .offset(3)).scalar()
        edit_finding(conn, target, **{column: value})
    report = verify_run(stored, 1)
    assert not report.ok
    assert f"findings row id {target} " in report.problem and "altered" in report.problem
    result = CliRunner().invoke(main, ["verify", "--db", db_path])
    assert result.exit_code == 1 and "chain broken" in result.output


def test_edited_raw_body_is_caught(stored):
    with stored.begin() as conn:
        conn.execute(update(requests).where(requests.c.id == 2).values(body=b"{}"))
    report = verify_run(stored, 1)
    assert "requests row id 2 " in report.problem and "raw body" in report.problem


def test_deleted_event_is_named(stored):
    with stored.begin() as conn:
        row = conn.execute(select(events.c.id, events.c.chain_seq).where(events.c.id == 5)).one()
        conn.execute(delete(events).where(events.c.id == 5))
    report = verify_run(stored, 1)
    assert not report.ok
    assert f"chain position {row.chain_seq} was deleted" in report.problem


def test_deleted_tail_is_caught(stored):
    with stored.begin() as conn:
        last = conn.execute(select(findings.c.id).order_by(findings.c.chain_seq.desc())
                            .limit(1)).scalar()
        delete_findings(conn, finding_occurrences.c.id == last)
    assert "deleted" in verify_run(stored, 1).problem


def test_inserted_finding_is_named(stored):
    with stored.begin() as conn:
        row = dict(conn.execute(select(findings).where(findings.c.id == 2)).one()._mapping)
        row.pop("id")
        row["detail"] = "forged"
        new_id = insert_finding(conn, row)
    report = verify_run(stored, 1)
    assert not report.ok
    assert "inserted" in report.problem
    assert f"id {new_id} " in report.problem or "id 2 " in report.problem


def test_content_digest_format_is_stable():
    """Digests of stored rows must not change between versions, or old evidence stops
    verifying: sorted compact JSON, UTC times, long texts and bodies as their SHA-256."""
    import hashlib
    import json
    from datetime import UTC, datetime, timedelta, timezone

    from diagscope.store.chain import content_digest

    clause = "Verwerkersovereenkomst: only the three purposes. " * 3
    row = {
        "id": 7, "run_id": 1, "chain_seq": 3, "chain_hash": "x" * 64,
        "flow_id": "f-1", "event_index": 0, "rule": "purpose", "value": "ë",
        "clause": clause, "marks": "{}", "cs": '{"name":"Office.X"}',
        "time": datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=1))),
    }

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    expected_content = {
        "flow_id": "f-1", "event_index": 0, "rule": "purpose", "value": "ë",
        "clause": sha(clause), "marks": sha("{}"), "cs": sha('{"name":"Office.X"}'),
        "time": datetime(2026, 11, 2, 9, 0, tzinfo=UTC).isoformat(),
    }
    expected = sha(json.dumps(expected_content, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False))
    assert content_digest(row) == expected
    assert content_digest(dict(row)) == expected  # the second time from remembered digests
    longer = {**row, "clause": clause * 100}
    assert content_digest(longer) != expected


def test_request_digest_of_the_current_format_is_stable():
    """From chain format 2 a request's headers enter its digest as the SHA-256 of their
    canonical JSON (so a redacted bundle can leave them out); format 1 keeps them in clear."""
    import hashlib
    import json

    from diagscope.store.chain import CURRENT_FORMAT, ROWS_ONLY_FORMAT, content_digest

    headers = [["Content-Type", "application/x-json-stream"], ["tickets", "t=secret"]]
    row = {"id": 1, "run_id": 1, "seq": 1, "chain_seq": 1, "chain_hash": "x" * 64,
           "flow_id": "f-1", "body": b"{}", "body_sha256": "y" * 64, "headers": headers}

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def canonical(value) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    content = {"flow_id": "f-1", "body_sha256": "y" * 64}
    assert content_digest(row, chain_format=CURRENT_FORMAT) == \
        sha(canonical({**content, "headers": sha(canonical(headers))}))
    assert content_digest(row, chain_format=ROWS_ONLY_FORMAT) == \
        sha(canonical({**content, "headers": headers}))


def test_run_metadata_is_chained_from_the_first_entry(stored):
    from diagscope.store.tables import run_entries

    with stored.connect() as conn:
        entries = conn.execute(select(run_entries.c.kind, run_entries.c.chain_seq)
                               .order_by(run_entries.c.chain_seq)).all()
        first_row = conn.execute(select(requests.c.chain_seq).order_by(requests.c.seq)
                                 .limit(1)).scalar()
    report = verify_run(stored, 1)
    assert entries[0] == ("run-header", 0) and first_row == 1
    assert entries[-1] == ("run-close", report.expected_rows - 1)
    assert report.state["status"] == "complete" and report.counts["requests"] == 7


def test_deleted_header_is_named(stored):
    from diagscope.store.tables import run_entries

    with stored.begin() as conn:
        conn.execute(delete(run_entries).where(run_entries.c.kind == "run-header"))
    assert "chain position 0 was deleted" in verify_run(stored, 1).problem


def test_a_relinked_deletion_is_caught_by_the_closing_counts(stored):
    """A forger who deletes a finding and links every later entry again still leaves the
    closing entry counting the row that is gone."""
    from diagscope.store.chain import content_digest, entry_digest, link
    from diagscope.store.tables import run_entries, runs

    tables = {"requests": requests, "events": events, "findings": findings}
    with stored.begin() as conn:
        victim = conn.execute(select(findings).order_by(findings.c.chain_seq.desc())
                              .limit(1)).one()
        delete_findings(conn, finding_occurrences.c.id == victim.id)
        later = sorted([(dict(r._mapping), name) for name, table in tables.items()
                        for r in conn.execute(select(table)
                                              .where(table.c.chain_seq > victim.chain_seq))]
                       + [(dict(r._mapping), r.kind) for r in conn.execute(
                           select(run_entries).where(run_entries.c.chain_seq
                                                     > victim.chain_seq))],
                       key=lambda item: item[0]["chain_seq"])
        head = conn.execute(select(findings.c.chain_hash)
                            .where(findings.c.chain_seq == victim.chain_seq - 1)).scalar()
        head = head or conn.execute(select(events.c.chain_hash).where(
            events.c.chain_seq == victim.chain_seq - 1)).scalar()
        position = victim.chain_seq
        for row, name in later:
            table = tables.get(name, run_entries)
            digest = entry_digest(row["content"]) if table is run_entries else \
                content_digest(row)
            head = link(head, name, 1, position, row.get("seq"), digest)
            written = finding_occurrences if table is findings else table  # not the view
            conn.execute(update(written).where(written.c.id == row["id"])
                         .values(chain_seq=position, chain_hash=head))
            position += 1
        conn.execute(update(runs).values(chain_head=head, chain_length=position))
    problem = verify_run(stored, 1).problem
    assert "run-close entry" in problem and "when it closed" in problem


def test_settings_attached_while_a_run_records_are_linked_in(loaded_policy, db_path,
                                                             capture, sample_flows):
    """`diagscope attach` during a live run: the writer's next batch links onto the
    settings entry instead of taking its chain position."""
    from diagscope.replay import replay
    from diagscope.session import RunSession, SessionSettings
    from diagscope.store.settings import attach_settings
    from diagscope.store.tables import run_entries

    engine = open_engine(db_path)
    session = RunSession(SessionSettings(), engine=engine, loaded=loaded_policy)
    attached = False

    def attach_midway(_done: int) -> None:
        nonlocal attached
        if session.stats.telemetry_requests == 3 and not attached:
            assert session.writer is not None and session.writer.pending == 3
            attach_settings(engine, session.run_id or 0, {"configured": {}, "mismatches": []})
            attached = True

    replay([capture(sample_flows)], session, on_flow=attach_midway)
    assert attached
    report = verify_run(engine, 1)
    assert report.ok, report.problem
    with engine.connect() as conn:
        kinds = [k for (k,) in conn.execute(select(run_entries.c.kind)
                                            .order_by(run_entries.c.chain_seq))]
    assert kinds == ["run-header", "run-settings", "run-close"]
    assert report.state["settings"] == {"configured": {}, "mismatches": []}
