"""The driver-level bulk insert stores exactly what SQLAlchemy's own insert stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from diagscope.store.bulk import BulkInserter
from diagscope.store.engine import open_engine
from diagscope.store.tables import requests, runs


def _run(conn) -> int:
    return conn.execute(insert(runs).values(
        policy_name="p", policy_version="1", policy_sha256="0" * 64, policy_text="",
        policy_resolved={}, tool_version="t", mitmproxy_version="m", source_kind="replay",
        started_at=datetime.now(UTC),
    )).inserted_primary_key[0]


def _rows(run_id: int, first_seq: int) -> list[dict]:
    base = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    return [{
        "run_id": run_id, "seq": first_seq + i, "flow_id": f"f{first_seq + i}",
        "time": base + timedelta(seconds=i), "method": "POST", "scheme": "https",
        "host": "eu-mobile.events.data.microsoft.com", "port": 443,
        "path": "/OneCollector/1.0/", "http_version": "HTTP/1.1",
        "headers": [["Content-Type", "application/bond-compact-binary"], ["X", "é\u2028"]],
        "body": bytes(range(256)) * (i + 1), "body_sha256": "a" * 64, "body_size": 256,
        "content_type": None if i % 2 else "application/x-json-stream",
        "content_encoding": "gzip", "decode_status": "ok", "decode_error": None,
        "decode_offset": None, "decoded_size": 10 * i, "event_count": i,
        "response_status": 200, "error": None, "source": "mitm", "action": "forwarded",
        "chain_seq": i, "chain_hash": "b" * 64,
    } for i in range(5)]


def _stored(conn, run_id: int) -> list[dict]:
    result = conn.execute(select(requests).where(requests.c.run_id == run_id)
                          .order_by(requests.c.seq))
    return [{k: v for k, v in row._mapping.items() if k not in ("id", "run_id", "seq",
                                                                 "flow_id")}
            for row in result]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, db_path):
    if request.param == "sqlite":
        return open_engine(db_path)
    return open_engine(request.getfixturevalue("pg_url"))


def test_bulk_rows_read_back_like_sqlalchemy_inserted_rows(engine):
    with engine.begin() as conn:
        run_a, run_b = _run(conn), _run(conn)
        conn.execute(insert(requests), _rows(run_a, 0))
        BulkInserter(requests).insert(conn, _rows(run_b, 100))
    with engine.connect() as conn:
        expected, got = _stored(conn, run_a), _stored(conn, run_b)
    assert len(got) == 5
    assert got == expected
    assert got[2]["headers"][1] == ["X", "é\u2028"]
    assert got[4]["body"] == bytes(range(256)) * 5


def _outcome(engine, write, batch) -> object:
    """What storing a batch leaves behind: the rows read back, or the kind of refusal."""
    with engine.connect() as conn:
        with conn.begin():
            run_id = _run(conn)
        for row in batch:
            row["run_id"] = run_id
        try:
            with conn.begin():
                write(conn, batch)
        except Exception as exc:  # the refusal itself is the outcome
            return type(exc).__name__
        return _stored(conn, run_id)


@pytest.mark.parametrize("odd", ["fewer columns", "unknown column", "mixed column sets"])
def test_odd_batches_end_like_they_do_through_sqlalchemy(engine, odd):
    def batch() -> list[dict]:
        rows = _rows(0, 0)
        if odd == "fewer columns":
            for row in rows:
                del row["error"]
        elif odd == "unknown column":
            rows[2]["no_such_column"] = rows[2].pop("source")
        else:
            del rows[3]["error"]
        return rows

    through_sqlalchemy = _outcome(engine, lambda c, rows: c.execute(insert(requests), rows),
                                  batch())
    bulk = _outcome(engine, BulkInserter(requests).insert, batch())
    assert bulk == through_sqlalchemy
    if odd == "fewer columns":
        assert len(bulk) == 5 and all(r["error"] is None for r in bulk)
