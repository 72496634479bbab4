"""Recompute a run's hash chain and name the first entry that was altered, inserted or
deleted; check that the run's own columns are what its chain recorded.

`check_chain` walks chain items from any source: the database (`verify_run`) or the rows
an evidence bundle carries (report/bundle_check.py), so both are checked the same way.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from diagscope.store.chain import (
    CURRENT_FORMAT,
    GENESIS,
    ROWS_ONLY_FORMAT,
    content_digest,
    entry_digest,
    link,
)
from diagscope.store.entries import (
    CLOSE,
    COUNTED,
    HEADER,
    KINDS,
    OPEN,
    differing_columns,
    run_state,
)
from diagscope.store.queries import request_mapping
from diagscope.store.tables import events, findings, requests, run_entries, runs

_TABLES = {"requests": requests, "events": events, "findings": findings}

#: What verify says of a run stored before run metadata was chained.
OLDER_FORMAT_NOTE = "run metadata not chained (older format)"


@dataclass(slots=True)
class ChainItem:
    """One chained entry, its content already digested by whoever read it."""

    table: str  # requests, events, findings, or an entry kind (run-header, ...)
    chain_seq: int
    seq: int | None  # a request's order in the run
    chain_hash: str
    digest: str
    label: str  # how a problem names it
    content: dict[str, Any] | None = None  # a run entry's content, parsed
    problem: str | None = None  # found while reading it (a raw body that does not match)


@dataclass(slots=True)
class ChainReport:
    run_id: int
    rows: int
    expected_rows: int
    head: str | None
    ok: bool
    problem: str | None = None
    chain_format: int = CURRENT_FORMAT
    open: bool = False  # still recording (or never closed): not broken
    notes: list[str] = field(default_factory=list)
    #: The chained run columns as the entries record them (empty in the older format).
    state: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    #: The problem is at the end: the recorded head or length disagrees with the entries.
    at_end: bool = False


def check_chain(run_id: int, items: Iterable[ChainItem], head: str | None, length: int,
                chain_format: int) -> ChainReport:
    """Walk `items` in chain order: positions, links, the header first, the counts each
    closing entry recorded, and the recorded head and length at the end."""
    previous = GENESIS
    count = 0  # items verified so far, which is also the next expected chain position
    counts = dict.fromkeys(COUNTED, 0)
    entries: list[tuple[str, dict[str, Any]]] = []

    def fail(problem: str) -> ChainReport:
        return ChainReport(run_id, count, length, head, False, problem, chain_format,
                           counts=counts)

    for item in items:
        label = item.label
        if item.chain_seq < count:
            return fail(f"{label} was inserted: its chain position is already taken")
        if item.chain_seq > count:
            return fail(f"the entry at chain position {count} was deleted (next present: "
                        f"{label})")
        if item.problem:
            return fail(item.problem)
        recomputed = link(previous, item.table, run_id, item.chain_seq, item.seq, item.digest)
        if recomputed != item.chain_hash:
            return fail(f"{label} was altered (or inserted): its hash does not match its "
                        "content")
        if item.table in KINDS:
            if chain_format < CURRENT_FORMAT:
                return fail(f"{label} is a run entry, but the run is marked as stored before "
                            "run metadata was chained: its chain format was altered")
            if (item.table == HEADER) != (count == 0):
                return fail(f"{label}: the run header must be the first entry, and the "
                            "only one")
            content = item.content or {}
            if item.table == CLOSE:
                stated = {name: content.get(name) for name in COUNTED}
                if stated != counts:
                    return fail(f"{label} says the run held {_counted(stated)} when it "
                                f"closed, but the chain holds {_counted(counts)} before it")
            entries.append((item.table, content))
        elif item.table in counts:
            if count == 0 and chain_format >= CURRENT_FORMAT:
                return fail("the run header at chain position 0 was deleted (first present: "
                            f"{label})")
            counts[item.table] += 1
        else:
            return fail(f"{label}: {item.table!r} is no kind of chain entry")
        previous = recomputed
        count += 1
    if chain_format >= CURRENT_FORMAT and not entries:
        return fail("the run header at chain position 0 was deleted")
    ending = None
    if count == length - 1:
        ending = f"the entry at chain position {count} was deleted"
    elif count < length:
        ending = f"the entries at chain positions {count} to {length - 1} were deleted"
    elif count > length:
        ending = f"entries were appended after the run's recorded chain head ({count} " \
                 f"entries, {length} recorded)"
    elif length and previous != head:
        ending = "the last entry's hash is not the run's recorded chain head"
    if ending:
        report = fail(ending)
        report.at_end = True
        return report
    report = ChainReport(run_id, count, length, head, True, None, chain_format,
                         counts=counts, state=run_state(entries))
    if chain_format < CURRENT_FORMAT:
        report.notes.append(OLDER_FORMAT_NOTE)
    return report


def _counted(counts: dict[str, Any]) -> str:
    return ", ".join(f"{counts[name]} {name}" for name in COUNTED)


# -- The database --------------------------------------------------------------------------


def _row_items(engine: Engine, name: str, run_id: int, chain_format: int,
               below: int | None) -> Iterator[ChainItem]:
    table = _TABLES[name]
    where = [table.c.run_id == run_id]
    if below is not None:
        where.append(table.c.chain_seq < below)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(
            select(table).where(*where).order_by(table.c.chain_seq, table.c.id)
        )
        for row in result:
            mapping = request_mapping(row._mapping) if name == "requests" else dict(row._mapping)
            seq = mapping["chain_seq"]
            label = f"{name} row id {mapping['id']} (chain position {seq}, flow " \
                    f"{mapping['flow_id']})"
            problem = None
            if name == "requests" and \
                    hashlib.sha256(mapping["body"]).hexdigest() != mapping["body_sha256"]:
                problem = f"{label} was altered: its raw body no longer matches body_sha256"
            yield ChainItem(name, seq, mapping.get("seq"), mapping["chain_hash"],
                            content_digest(mapping, chain_format=chain_format), label,
                            problem=problem)


def _entry_items(engine: Engine, run_id: int, below: int | None) -> Iterator[ChainItem]:
    where = [run_entries.c.run_id == run_id]
    if below is not None:
        where.append(run_entries.c.chain_seq < below)
    with engine.connect() as conn:
        rows = conn.execute(select(run_entries).where(*where)
                            .order_by(run_entries.c.chain_seq, run_entries.c.id)).all()
    for row in rows:
        label = f"{row.kind} entry id {row.id} (chain position {row.chain_seq})"
        try:
            content = json.loads(row.content)
        except ValueError:
            content = None
        yield ChainItem(row.kind, row.chain_seq, None, row.chain_hash,
                        entry_digest(row.content), label, content,
                        None if isinstance(content, dict) else f"{label} is not JSON")


def db_chain_items(engine: Engine, run_id: int, chain_format: int,
                   below: int | None = None) -> Iterator[ChainItem]:
    """Every chained entry of a run in chain order (those before position `below` only)."""
    return heapq.merge(
        _entry_items(engine, run_id, below),
        *(_row_items(engine, name, run_id, chain_format, below) for name in _TABLES),
        key=lambda item: item.chain_seq,
    )


def verify_run(engine: Engine, run_id: int) -> ChainReport:
    """The run's chain, and its columns against what the chain recorded. A run still
    recording is checked up to its recorded head and reported open."""
    with engine.connect() as conn:
        run = dict(conn.execute(select(runs).where(runs.c.id == run_id)).one()._mapping)
    head, length = run["chain_head"], run["chain_length"] or 0
    chain_format = run["chain_format"] or ROWS_ONLY_FORMAT
    is_open = run["status"] == OPEN
    # Rows of a run still recording may be committed while it is read: look no further
    # than the head it had when the run was read.
    below = length if is_open else None
    report = check_chain(run_id, db_chain_items(engine, run_id, chain_format, below), head,
                         length, chain_format)
    if report.ok and chain_format >= CURRENT_FORMAT:
        altered = differing_columns(run, report.state)
        if altered:
            report.ok = False
            report.problem = (f"the run's {', '.join(altered)} "
                              f"{'differs' if len(altered) == 1 else 'differ'} from what its "
                              "chain recorded (altered after it was written)")
    report.open = report.ok and report.state.get("status", run["status"]) == OPEN
    return report


def run_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [run_id for (run_id,) in conn.execute(select(runs.c.id).order_by(runs.c.id))]


def row_digests(engine: Engine, run_id: int) -> list[tuple[str, int, str]]:
    """The run's rows (requests, events, findings) in chain order as (table, position,
    content digest): what two runs of the same captures share, whatever their headers
    (start time, command) say."""
    with engine.connect() as conn:
        chain_format = conn.execute(select(runs.c.chain_format)
                                    .where(runs.c.id == run_id)).scalar_one()
    return [(item.table, item.chain_seq, item.digest)
            for item in db_chain_items(engine, run_id, chain_format)
            if item.table in _TABLES]
