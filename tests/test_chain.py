"""The hash chain catches an edited, a deleted and an inserted row."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, update

from diagscope.cli import main
from diagscope.store.engine import open_engine
from diagscope.store.tables import events, findings, requests
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
        conn.execute(update(findings).where(findings.c.id == target)
                     .values({column: value}))
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
        conn.execute(delete(findings).where(findings.c.id == last))
    assert "deleted" in verify_run(stored, 1).problem


def test_inserted_finding_is_named(stored):
    with stored.begin() as conn:
        row = dict(conn.execute(select(findings).where(findings.c.id == 2)).one()._mapping)
        row.pop("id")
        row["detail"] = "forged"
        new_id = conn.execute(insert(findings).values(**row)).inserted_primary_key[0]
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
