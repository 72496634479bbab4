"""Recompute a run's hash chain and name the first row that was altered, inserted or deleted."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from diagscope.store.chain import GENESIS, content_digest, link
from diagscope.store.tables import events, findings, requests, runs

_TABLES = {"requests": requests, "events": events, "findings": findings}


@dataclass(slots=True)
class ChainReport:
    run_id: int
    rows: int
    expected_rows: int
    head: str | None
    ok: bool
    problem: str | None = None


def _rows(engine: Engine, name: str, run_id: int) -> Iterator[tuple[int, str, dict[str, Any]]]:
    table = _TABLES[name]
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(
            select(table).where(table.c.run_id == run_id).order_by(table.c.chain_seq, table.c.id)
        )
        for row in result:
            mapping = dict(row._mapping)
            yield mapping["chain_seq"], name, mapping


def verify_run(engine: Engine, run_id: int) -> ChainReport:
    with engine.connect() as conn:
        head, length = conn.execute(
            select(runs.c.chain_head, runs.c.chain_length).where(runs.c.id == run_id)
        ).one()
    length = length or 0
    merged = heapq.merge(
        *(_rows(engine, name, run_id) for name in _TABLES), key=lambda item: item[0]
    )
    previous = GENESIS
    count = 0  # rows verified so far, which is also the next expected chain position

    def fail(problem: str) -> ChainReport:
        return ChainReport(run_id, count, length, head, False, problem)

    for seq, name, row in merged:
        label = f"{name} row id {row['id']} (chain position {seq}, flow {row['flow_id']})"
        if seq < count:
            return fail(f"{label} was inserted: its chain position is already taken")
        if seq > count:
            return fail(
                f"the row at chain position {count} was deleted (next present: {label})"
            )
        if name == "requests" and hashlib.sha256(row["body"]).hexdigest() != row["body_sha256"]:
            return fail(f"{label} was altered: its raw body no longer matches body_sha256")
        recomputed = link(previous, name, run_id, seq, row.get("seq"), content_digest(row))
        if recomputed != row["chain_hash"]:
            return fail(f"{label} was altered (or inserted): its hash does not match its content")
        previous = recomputed
        count += 1
    if count < length:
        return fail(f"the rows at chain positions {count} to {length - 1} were deleted")
    if count > length or (length and previous != head):
        return fail("rows were appended after the run's recorded chain head")
    return ChainReport(run_id, count, length, head, True)
