"""Read runs, requests, events and findings back, as plain rows (dicts) for the CLI, the
reports and the evidence bundle; nothing outside the store builds a query."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, or_, select, tuple_

from diagscope.store.bodies import restore_body
from diagscope.store.tables import events, findings, requests, run_entries, runs


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
    """The findings of one request. A request's findings are chained right after it and
    its events, so they are the findings that follow its chain position for as long as
    they name its flow: read through the chain index, without an index by flow (which cost
    a tenth of a run's database)."""
    with engine.connect() as conn:
        position = conn.execute(
            select(requests.c.chain_seq)
            .where(requests.c.run_id == run_id, requests.c.flow_id == flow_id)
        ).scalar()
    if position is None:
        return  # no such request; findings are only ever stored with theirs
    stmt = (
        select(findings)
        .where(findings.c.run_id == run_id, findings.c.chain_seq > position)
        .order_by(findings.c.chain_seq, findings.c.id)
        .execution_options(yield_per=100)
    )
    following = _finding_dicts(engine, stmt)
    try:
        for finding in following:
            if finding["flow_id"] != flow_id:
                return
            yield finding
    finally:
        following.close()  # gives the connection back at once


def _finding_dicts(engine: Engine, stmt: Any) -> Generator[dict[str, Any], None, None]:
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
        return request_mapping(row._mapping) if row else None


def request_mapping(row: Any) -> dict[str, Any]:
    """A stored request as a dict, its raw body as it was sent (see `store/bodies.py`)."""
    mapping = dict(row)
    mapping["body"] = restore_body(mapping["body"], mapping["body_size"])
    return mapping


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


def iter_request_rows(engine: Engine, run_id: int, below: int | None = None
                      ) -> Iterator[dict[str, Any]]:
    """Every stored request of a run with all its columns (raw body included), in the
    order they were seen (those before chain position `below` only); read a few hundred at
    a time, since bodies can be large."""
    stmt = select(requests).where(requests.c.run_id == run_id).order_by(requests.c.seq)
    if below is not None:
        stmt = stmt.where(requests.c.chain_seq < below)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=500).execute(stmt):
            yield request_mapping(row._mapping)


def iter_event_json(engine: Engine, run_id: int) -> Iterator[str]:
    """Every stored event of a run as its Common Schema JSON text, streamed."""
    # In chain order, so whatever counts them breaks ties the same way on every database.
    stmt = select(events.c.cs).where(events.c.run_id == run_id).order_by(events.c.chain_seq)
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


def iter_findings_with_body_hash(engine: Engine, run_id: int) -> Iterator[dict[str, Any]]:
    """A run's findings (every column) in chain order within capture order, each with the
    SHA-256 of the raw request body it was found in: the evidence a report points at.
    Streamed, so a run of millions of findings is read in constant memory."""
    stmt = (
        select(findings, requests.c.body_sha256)
        .join(requests, (requests.c.run_id == findings.c.run_id)
              & (requests.c.flow_id == findings.c.flow_id))
        .where(findings.c.run_id == run_id)
        .order_by(requests.c.seq, findings.c.chain_seq)
    )
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(stmt)
        for row in result:
            yield dict(row._mapping)


def iter_event_times(engine: Engine, run_id: int) -> Iterator[tuple[datetime, str]]:
    """(time, verdict) of every event of a run that has a time, streamed."""
    stmt = select(events.c.time, events.c.verdict).where(
        events.c.run_id == run_id, events.c.time.is_not(None))
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(stmt)
        yield from ((time, verdict) for time, verdict in result)


class NoSuchFlow(LookupError):
    pass


class AmbiguousFlow(LookupError):
    """A flow id prefix that more than one request of the run starts with."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


#: How many candidates an ambiguous flow id prefix names.
FLOW_CANDIDATES = 5


def resolve_flow_id(engine: Engine, run_id: int, flow_id: str) -> str:
    """The run's flow id that is `flow_id` or, failing that, starts with it: a tester types
    the eight characters the console and tables show. NoSuchFlow when none does,
    AmbiguousFlow (naming up to five) when several do."""
    # substr rather than LIKE: exact and case-sensitive on every database, and a flow id's
    # `_` or `%` needs no escaping.
    starts = func.substr(requests.c.flow_id, 1, len(flow_id)) == flow_id
    with engine.connect() as conn:
        exact = conn.execute(select(requests.c.flow_id).where(
            requests.c.run_id == run_id, requests.c.flow_id == flow_id)).scalar()
        if exact is not None:
            return str(exact)
        found = [str(f) for (f,) in conn.execute(
            select(requests.c.flow_id).where(requests.c.run_id == run_id, starts)
            .order_by(requests.c.seq).limit(FLOW_CANDIDATES + 1))]
        if len(found) > FLOW_CANDIDATES:
            total = conn.execute(select(func.count()).select_from(requests).where(
                requests.c.run_id == run_id, starts)).scalar_one()
        else:
            total = len(found)
    if not found:
        raise NoSuchFlow(f"run {run_id} has no request with flow id {flow_id} "
                         "(nor one starting with it)")
    if len(found) == 1:
        return found[0]
    shown = found[:FLOW_CANDIDATES]
    more = f" and {total - len(shown)} more" if total > len(shown) else ""
    raise AmbiguousFlow(f"flow id {flow_id} is ambiguous in run {run_id}: {total} requests "
                        f"start with it: {', '.join(shown)}{more}", shown)


def iter_events_matching(engine: Engine, run_id: int, *, rules: tuple[str, ...] = (),
                         products: tuple[str, ...] = (), verdicts: tuple[str, ...] = (),
                         steps: tuple[int, ...] = ()) -> Iterator[dict[str, Any]]:
    """`iter_events`, narrowed: events of any of the `products`, with any of the `verdicts`,
    that a finding of any of the `rules` is about (an empty filter lets everything
    through)."""
    stmt = (
        select(events.c.run_id, events.c.flow_id, events.c.event_index, events.c.name,
               events.c.product, events.c.time, events.c.level, events.c.purpose,
               events.c.verdict)
        .join(requests, (requests.c.run_id == events.c.run_id)
              & (requests.c.flow_id == events.c.flow_id))
        .where(events.c.run_id == run_id)
        .order_by(requests.c.seq, events.c.event_index)
    )
    if products:
        stmt = stmt.where(events.c.product.in_(products))
    if verdicts:
        stmt = stmt.where(events.c.verdict.in_(verdicts))
    if steps:
        stmt = stmt.where(requests.c.step.in_(steps))
    if rules:
        # A request-level finding (destination, transport) is about every event it carried.
        # The run's matching findings are read once (not once per event, which without an
        # index by flow would read them all for every event).
        matching = select(findings.c.flow_id).where(findings.c.run_id == run_id,
                                                    findings.c.rule.in_(rules))
        stmt = stmt.where(or_(
            tuple_(events.c.flow_id, events.c.event_index).in_(
                matching.add_columns(findings.c.event_index)
                .where(findings.c.event_index.is_not(None))),
            events.c.flow_id.in_(matching.where(findings.c.event_index.is_(None))),
        ))
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            yield {"run": r.run_id, "flow_id": r.flow_id, "event_index": r.event_index,
                   "name": r.name, "product": r.product, "time": _iso(r.time),
                   "level": r.level, "purpose": r.purpose, "verdict": r.verdict}


def iter_findings_matching(engine: Engine, run_id: int, *, rules: tuple[str, ...] = (),
                           severities: tuple[str, ...] = (), steps: tuple[int, ...] = ()
                           ) -> Iterator[dict[str, Any]]:
    """`iter_findings`, narrowed to any of the `rules` and any of the `severities` (an empty
    filter lets everything through)."""
    stmt = (
        select(findings)
        .join(requests, (requests.c.run_id == findings.c.run_id)
              & (requests.c.flow_id == findings.c.flow_id))
        .where(findings.c.run_id == run_id)
        .order_by(requests.c.seq, findings.c.id)
    )
    if rules:
        stmt = stmt.where(findings.c.rule.in_(rules))
    if severities:
        stmt = stmt.where(findings.c.severity.in_(severities))
    if steps:
        stmt = stmt.where(requests.c.step.in_(steps))
    yield from _finding_dicts(engine, stmt)


def step_summary(engine: Engine, run_id: int) -> list[tuple[int | None, int, int, int]]:
    """Per scenario step (None: before the first), in step order: (step, events,
    violations, reviews)."""
    with engine.connect() as conn:
        event_counts: dict[int | None, int] = {step: n for step, n in conn.execute(
            select(requests.c.step, func.count())
            .select_from(events.join(requests, (requests.c.run_id == events.c.run_id)
                                     & (requests.c.flow_id == events.c.flow_id)))
            .where(events.c.run_id == run_id).group_by(requests.c.step))}
        finding_counts: dict[tuple[int | None, str], int] = {
            (step, severity): n for step, severity, n in conn.execute(
                select(requests.c.step, findings.c.severity, func.count())
                .select_from(findings.join(requests, (requests.c.run_id == findings.c.run_id)
                                           & (requests.c.flow_id == findings.c.flow_id)))
                .where(findings.c.run_id == run_id)
                .group_by(requests.c.step, findings.c.severity))}
    steps = set(event_counts) | {step for step, _ in finding_counts}
    if steps == {None}:
        return []
    return [(step, event_counts.get(step, 0), finding_counts.get((step, "violation"), 0),
             finding_counts.get((step, "review"), 0))
            for step in sorted(steps, key=lambda s: -1 if s is None else s)]


def request_schemes(engine: Engine, run_id: int) -> set[str]:
    """The schemes of a run's requests: `ddv` alone marks a Diagnostic Data Viewer import."""
    with engine.connect() as conn:
        return {str(s) for (s,) in conn.execute(
            select(requests.c.scheme).where(requests.c.run_id == run_id).distinct())}


CHAINED_TABLES = {"requests": requests, "events": events, "findings": findings}


def iter_chained_rows(engine: Engine, table_name: str, run_id: int, below: int
                      ) -> Iterator[dict[str, Any]]:
    """A run's rows of one table before chain position `below`, in chain order, with every
    column but a request's raw body (its body_sha256 stands for it)."""
    table = CHAINED_TABLES[table_name]
    columns = [c for c in table.columns if c.name != "body"]
    stmt = (select(*columns)
            .where(table.c.run_id == run_id, table.c.chain_seq < below)
            .order_by(table.c.chain_seq, table.c.id))
    with engine.connect() as conn:
        for row in conn.execution_options(stream_results=True, yield_per=2000).execute(stmt):
            yield dict(row._mapping)


def run_entry_rows(engine: Engine, run_id: int, below: int) -> list[dict[str, Any]]:
    """The run's own chain entries (header, settings, close) before position `below`."""
    stmt = (select(run_entries)
            .where(run_entries.c.run_id == run_id, run_entries.c.chain_seq < below)
            .order_by(run_entries.c.chain_seq))
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]
