"""Read runs, requests, events and findings back, as plain rows (dicts) for the CLI, the
reports and the evidence bundle; nothing outside the store builds a query."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from diagscope.store.tables import events, findings, requests, runs


class NoSuchRun(LookupError):
    pass


def resolve_run(engine: Engine, run_id: int | None) -> int:
    """The given run if it exists, else the latest run; NoSuchRun when there is none."""
    with engine.connect() as conn:
        if run_id is None:
            latest = conn.execute(select(func.max(runs.c.id))).scalar()
            if latest is None:
                raise NoSuchRun("the database holds no runs yet")
            return int(latest)
        found = conn.execute(select(runs.c.id).where(runs.c.id == run_id)).scalar()
        if found is None:
            raise NoSuchRun(f"there is no run {run_id}")
        return run_id


def run_record(engine: Engine, run_id: int) -> dict[str, Any]:
    """The run's row: every column, by name."""
    with engine.connect() as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
    if row is None:
        raise NoSuchRun(f"there is no run {run_id}")
    return dict(row._mapping)


def run_policy(engine: Engine, run_id: int) -> dict[str, Any] | None:
    """The policy the run was judged by, with everything it extends merged (as JSON)."""
    with engine.connect() as conn:
        policy: dict[str, Any] | None = conn.execute(
            select(runs.c.policy_resolved).where(runs.c.id == run_id)).scalar()
    return policy


def list_runs(engine: Engine) -> list[dict[str, Any]]:
    req_count = (
        select(requests.c.run_id, func.count().label("n"))
        .group_by(requests.c.run_id)
        .subquery()
    )
    ev_count = (
        select(events.c.run_id, func.count().label("n")).group_by(events.c.run_id).subquery()
    )
    viol_count = (
        select(findings.c.run_id, func.count().label("n"))
        .where(findings.c.severity == "violation")
        .group_by(findings.c.run_id)
        .subquery()
    )
    stmt = (
        select(
            runs.c.id,
            runs.c.label,
            runs.c.policy_name,
            runs.c.source_kind,
            runs.c.status,
            runs.c.started_at,
            runs.c.ended_at,
            func.coalesce(req_count.c.n, 0).label("requests"),
            func.coalesce(ev_count.c.n, 0).label("events"),
            func.coalesce(viol_count.c.n, 0).label("violations"),
        )
        .outerjoin(req_count, req_count.c.run_id == runs.c.id)
        .outerjoin(ev_count, ev_count.c.run_id == runs.c.id)
        .outerjoin(viol_count, viol_count.c.run_id == runs.c.id)
        .order_by(runs.c.id)
    )
    with engine.connect() as conn:
        return [
            {
                "run": r.id,
                "label": r.label,
                "policy": r.policy_name,
                "source": r.source_kind,
                "status": r.status,
                "started_at": _iso(r.started_at),
                "ended_at": _iso(r.ended_at),
                "requests": r.requests,
                "events": r.events,
                "violations": r.violations,
            }
            for r in conn.execute(stmt)
        ]


def _iso(value: datetime | None) -> str | None:
    # The store hands back aware UTC datetimes (UtcDateTime): written with a Z.
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def iter_events(engine: Engine, run_id: int) -> Iterator[dict[str, Any]]:
    """Events in capture order, with exactly the keys of the `events` export contract."""
    stmt = (
        select(
            events.c.run_id,
            events.c.flow_id,
            events.c.event_index,
            events.c.name,
            events.c.product,
            events.c.time,
            events.c.level,
            events.c.purpose,
            events.c.verdict,
        )
        .join(
            requests,
            (requests.c.run_id == events.c.run_id) & (requests.c.flow_id == events.c.flow_id),
        )
        .where(events.c.run_id == run_id)
        .order_by(requests.c.seq, events.c.event_index)
    )
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            yield {
                "run": r.run_id,
                "flow_id": r.flow_id,
                "event_index": r.event_index,
                "name": r.name,
                "product": r.product,
                "time": _iso(r.time),
                "level": r.level,
                "purpose": r.purpose,
                "verdict": r.verdict,
            }


FINDING_KEYS = (
    "run",
    "flow_id",
    "event_index",
    "event_name",
    "product",
    "rule",
    "severity",
    "field",
    "pii_kind",
    "detail",
    "value",
    "clause",
)


def iter_findings(engine: Engine, run_id: int) -> Iterator[dict[str, Any]]:
    """Findings in capture order, with exactly the keys of the `findings` export contract."""
    stmt = (
        select(findings)
        .join(
            requests,
            (requests.c.run_id == findings.c.run_id) & (requests.c.flow_id == findings.c.flow_id),
        )
        .where(findings.c.run_id == run_id)
        .order_by(requests.c.seq, findings.c.id)
    )
    yield from _finding_dicts(engine, stmt)


def iter_findings_of_flow(engine: Engine, run_id: int, flow_id: str) -> Iterator[dict[str, Any]]:
    stmt = (
        select(findings)
        .where(findings.c.run_id == run_id, findings.c.flow_id == flow_id)
        .order_by(findings.c.id)
    )
    yield from _finding_dicts(engine, stmt)


def _finding_dicts(engine: Engine, stmt: Any) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            yield {
                "run": r.run_id,
                "flow_id": r.flow_id,
                "event_index": r.event_index,
                "event_name": r.event_name,
                "product": r.product,
                "rule": r.rule,
                "severity": r.severity,
                "field": r.field,
                "pii_kind": r.pii_kind,
                "detail": r.detail,
                "value": r.value,
                "clause": r.clause,
            }


def request_row(engine: Engine, run_id: int, flow_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(requests).where(requests.c.run_id == run_id, requests.c.flow_id == flow_id)
        ).first()
        return dict(row._mapping) if row else None


def event_documents(engine: Engine, run_id: int, flow_id: str) -> list[dict[str, Any]]:
    """Stored events of one request, with `cs` and `marks` parsed back from JSON."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(events)
            .where(events.c.run_id == run_id, events.c.flow_id == flow_id)
            .order_by(events.c.event_index)
        )
        docs = []
        for r in rows:
            doc = dict(r._mapping)
            doc["cs"] = json.loads(doc["cs"])
            doc["marks"] = json.loads(doc["marks"])
            docs.append(doc)
        return docs


def iter_request_rows(engine: Engine, run_id: int) -> Iterator[dict[str, Any]]:
    """Every stored request of a run with all its columns (raw body included), in the
    order they were seen; read a few hundred at a time, since bodies can be large."""
    stmt = select(requests).where(requests.c.run_id == run_id).order_by(requests.c.seq)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=500).execute(stmt):
            yield dict(row._mapping)


def iter_event_json(engine: Engine, run_id: int) -> Iterator[str]:
    """Every stored event of a run as its Common Schema JSON text, streamed."""
    stmt = select(events.c.cs).where(events.c.run_id == run_id)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(stmt)
        for (cs,) in result:
            yield cs


def events_by_time(engine: Engine, run_id: int) -> list[dict[str, Any]]:
    """A run's events ordered by their own time (then as stored): name, time, flow_id,
    event_index and the Common Schema JSON text `cs`."""
    stmt = (
        select(events.c.name, events.c.time, events.c.flow_id, events.c.event_index,
               events.c.cs)
        .where(events.c.run_id == run_id)
        .order_by(events.c.time, events.c.id)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]


def findings_with_body_hash(engine: Engine, run_id: int) -> list[dict[str, Any]]:
    """A run's findings (every column) in chain order within capture order, each with the
    SHA-256 of the raw request body it was found in: the evidence a report points at."""
    stmt = (
        select(findings, requests.c.body_sha256)
        .join(requests, (requests.c.run_id == findings.c.run_id)
              & (requests.c.flow_id == findings.c.flow_id))
        .where(findings.c.run_id == run_id)
        .order_by(requests.c.seq, findings.c.chain_seq)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]
