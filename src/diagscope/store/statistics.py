"""A run's numbers, counted by the database: what the verification report summarises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, func, select

from diagscope.store.tables import events, findings, requests


@dataclass(frozen=True, slots=True)
class EventGroup:
    """Events of one name with the same product, level, purpose and verdict."""

    name: str
    product: str
    level: str
    purpose: str
    verdict: str
    count: int


@dataclass(frozen=True, slots=True)
class HostTraffic:
    """Telemetry requests to one host over one scheme."""

    host: str
    scheme: str
    requests: int
    events: int
    bytes: int


@dataclass(slots=True)
class RunStatistics:
    office_versions: list[str]  # distinct ext.app.ver of Office events, unordered
    os_versions: list[str]  # distinct ext.os.ver, unordered
    first_event: datetime | None
    last_event: datetime | None
    requests: int
    request_bytes: int  # on the wire
    events: int  # as the requests counted them
    undecodable_requests: int  # undecodable or only partly decodable
    findings_by_rule: dict[str, dict[str, int]]  # rule -> severity -> count
    event_groups: list[EventGroup]
    hosts: list[HostTraffic]  # by host name


def _distinct(conn: Connection, column: ColumnElement[Any], *where: ColumnElement[bool]
              ) -> list[str]:
    return [v for (v,) in conn.execute(select(column).distinct().where(*where))]


def run_statistics(engine: Engine, run_id: int) -> RunStatistics:
    with engine.connect() as conn:
        office_versions = _distinct(
            conn, events.c.app_ver, events.c.run_id == run_id, events.c.product == "office",
            events.c.app_ver.is_not(None))
        os_versions = _distinct(
            conn, events.c.os_ver, events.c.run_id == run_id, events.c.os_ver.is_not(None))
        first_event, last_event = conn.execute(
            select(func.min(events.c.time), func.max(events.c.time))
            .where(events.c.run_id == run_id)
        ).one()
        request_count, request_bytes, event_count = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(requests.c.body_size), 0),
                func.coalesce(func.sum(requests.c.event_count), 0),
            ).where(requests.c.run_id == run_id)
        ).one()
        undecodable = conn.execute(
            select(func.count()).where(
                requests.c.run_id == run_id,
                requests.c.decode_status.in_(("undecodable", "partial")),
            )
        ).scalar_one()
        by_rule: dict[str, dict[str, int]] = {}
        for rule, severity, n in conn.execute(
            select(findings.c.rule, findings.c.severity, func.count())
            .where(findings.c.run_id == run_id)
            .group_by(findings.c.rule, findings.c.severity)
        ):
            by_rule.setdefault(rule, {})[severity] = n
        groups = [
            EventGroup(name, product, level, purpose, verdict, n)
            for name, product, level, purpose, verdict, n in conn.execute(
                select(events.c.name, events.c.product, events.c.level, events.c.purpose,
                       events.c.verdict, func.count())
                .where(events.c.run_id == run_id)
                .group_by(events.c.name, events.c.product, events.c.level, events.c.purpose,
                          events.c.verdict)
            )
        ]
        hosts = [
            HostTraffic(host, scheme, n, n_events or 0, size or 0)
            for host, scheme, n, size, n_events in conn.execute(
                select(requests.c.host, requests.c.scheme, func.count(),
                       func.sum(requests.c.body_size), func.sum(requests.c.event_count))
                .where(requests.c.run_id == run_id)
                .group_by(requests.c.host, requests.c.scheme)
                .order_by(requests.c.host)
            )
        ]
    return RunStatistics(
        office_versions=office_versions, os_versions=os_versions,
        first_event=first_event, last_event=last_event,
        requests=request_count, request_bytes=request_bytes, events=event_count,
        undecodable_requests=undecodable, findings_by_rule=by_rule,
        event_groups=groups, hosts=hosts,
    )
