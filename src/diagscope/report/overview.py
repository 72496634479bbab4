"""Gather one run's numbers from the store into a `Report` (reports read only the store)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from diagscope.model import LEVEL_RANK, Level
from diagscope.policy.endpoints import destination_of
from diagscope.policy.model import Destinations, PersonalData
from diagscope.report.inventory import envelope_inventory
from diagscope.report.model import (
    BuildInfo,
    CaptureFile,
    Endpoint,
    EventName,
    FindingItem,
    PolicyInfo,
    Report,
    RunInfo,
    TimeBucket,
    Totals,
    Verdict,
)
from diagscope.store.tables import events, findings, requests, runs

_VERDICT_RANK = {"ok": 0, "review": 1, "violation": 2}
LEVEL_ORDER = [lvl.value for lvl in sorted(LEVEL_RANK, key=LEVEL_RANK.__getitem__)] + [
    Level.UNKNOWN.value
]
_BUCKETS = [timedelta(seconds=s) for s in (1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _run_info(row: Any) -> RunInfo:
    return RunInfo(
        id=row.id, label=row.label, source_kind=row.source_kind, status=row.status,
        started_at=iso(row.started_at), ended_at=iso(row.ended_at),
        tool_version=row.tool_version, mitmproxy_version=row.mitmproxy_version,
        command=row.command, chain_head=row.chain_head, chain_length=row.chain_length or 0,
        scenario=row.scenario, settings=row.settings,
    )


def _timeline(rows: list[tuple[datetime, str]]) -> list[TimeBucket]:
    if not rows:
        return []
    times = [_aware(t) for t, _ in rows]
    first, last = min(times), max(times)
    span = last - first
    size = next((b for b in _BUCKETS if span / b <= 60), _BUCKETS[-1])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    start = epoch + ((first - epoch) // size) * size
    count = int((last - start) // size) + 1
    buckets = [[0, 0] for _ in range(count)]
    for t, (_, verdict) in zip(times, rows, strict=True):
        slot = buckets[int((t - start) // size)]
        slot[0] += 1
        if verdict == "violation":
            slot[1] += 1
    return [
        TimeBucket(start=iso(start + i * size) or "", events=e, violations=v)
        for i, (e, v) in enumerate(buckets)
    ]


def build_report(engine: Engine, run_id: int) -> Report:
    with engine.connect() as conn:
        run = conn.execute(select(runs).where(runs.c.id == run_id)).one()
        destinations = Destinations.model_validate(run.policy_resolved["destinations"])

        office_versions = sorted(
            v for (v,) in conn.execute(
                select(events.c.app_ver).distinct()
                .where(events.c.run_id == run_id, events.c.product == "office",
                       events.c.app_ver.is_not(None))
            )
        )
        os_versions = sorted(
            v for (v,) in conn.execute(
                select(events.c.os_ver).distinct()
                .where(events.c.run_id == run_id, events.c.os_ver.is_not(None))
            )
        )
        window = conn.execute(
            select(func.min(events.c.time), func.max(events.c.time))
            .where(events.c.run_id == run_id)
        ).one()

        req = conn.execute(
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

        by_rule: dict[str, dict[str, int]] = defaultdict(dict)
        for rule, severity, n in conn.execute(
            select(findings.c.rule, findings.c.severity, func.count())
            .where(findings.c.run_id == run_id)
            .group_by(findings.c.rule, findings.c.severity)
        ):
            by_rule[rule][severity] = n
        violations = sum(s.get("violation", 0) for s in by_rule.values())
        reviews = sum(s.get("review", 0) for s in by_rule.values())

        names: dict[tuple[str, str, str, str], list[int]] = {}
        levels: Counter[str] = Counter()
        purposes: Counter[str] = Counter()
        for name, product, level, purpose, verdict, n in conn.execute(
            select(events.c.name, events.c.product, events.c.level, events.c.purpose,
                   events.c.verdict, func.count())
            .where(events.c.run_id == run_id)
            .group_by(events.c.name, events.c.product, events.c.level, events.c.purpose,
                      events.c.verdict)
        ):
            slot = names.setdefault((name, product, level, purpose), [0, 0])
            slot[0] += n
            slot[1] = max(slot[1], _VERDICT_RANK.get(verdict, 0))
            levels[level] += n
            purposes[purpose] += n
        verdict_names = {v: k for k, v in _VERDICT_RANK.items()}
        grouped: dict[str, list[EventName]] = {lvl: [] for lvl in LEVEL_ORDER}
        for (name, product, level, purpose), (count, worst) in sorted(names.items()):
            grouped.setdefault(level, []).append(EventName(
                name=name, count=count, product=product, level=level, purpose=purpose,
                verdict=verdict_names[worst],
            ))
        grouped = {k: v for k, v in grouped.items() if v}

        endpoints = []
        for host, scheme, n, size, n_events in conn.execute(
            select(requests.c.host, requests.c.scheme, func.count(),
                   func.sum(requests.c.body_size), func.sum(requests.c.event_count))
            .where(requests.c.run_id == run_id)
            .group_by(requests.c.host, requests.c.scheme)
            .order_by(requests.c.host)
        ):
            found = destination_of(host, destinations) if scheme not in ("ddv", "file") \
                else None
            endpoints.append(Endpoint(
                host=host, scheme=scheme, region=found.region if found else None,
                allowed=found.allowed if found else None, requests=n,
                events=n_events or 0, bytes=size or 0,
            ))

        personal_data = PersonalData.model_validate(run.policy_resolved["personal_data"])
        inventory = envelope_inventory(conn, run_id, personal_data)

        timeline_rows = [
            (t, v) for t, v in conn.execute(
                select(events.c.time, events.c.verdict)
                .where(events.c.run_id == run_id, events.c.time.is_not(None))
            )
        ]

        finding_items = [
            FindingItem(
                rule=r.rule, severity=r.severity, event_name=r.event_name, product=r.product,
                field=r.field, pii_kind=r.pii_kind, value=r.value, detail=r.detail,
                clause=r.clause, flow_id=r.flow_id, event_index=r.event_index,
                body_sha256=r.body_sha256,
            )
            for r in conn.execute(
                select(findings, requests.c.body_sha256)
                .join(requests, (requests.c.run_id == findings.c.run_id)
                      & (requests.c.flow_id == findings.c.flow_id))
                .where(findings.c.run_id == run_id)
                .order_by(requests.c.seq, findings.c.chain_seq)
            )
        ]

    policy = run.policy_resolved
    warnings = [f"Setting mismatch: {m}. This run does not test what the scenario describes."
                for m in ((run.settings or {}).get("mismatches") or [])]
    if run.status == "damaged":
        warnings.append("A capture file was damaged: flows after the damage are missing.")
    return Report(
        warnings=warnings,
        generated_at=iso(datetime.now(UTC)) or "",
        run=_run_info(run),
        build=BuildInfo(office_versions=office_versions, windows_versions=os_versions),
        policy=PolicyInfo(name=run.policy_name, version=run.policy_version,
                          sha256=run.policy_sha256, source=policy.get("source", "")),
        captures=[CaptureFile(**c) for c in run.captures or []],
        time_window={"first_event": iso(window[0]), "last_event": iso(window[1])},
        totals=Totals(telemetry_requests=req[0], events=req[2],
                      undecodable_requests=undecodable, request_bytes=req[1]),
        verdict=Verdict(result="FAIL" if violations else "PASS", violations=violations,
                        reviews=reviews, by_rule=dict(by_rule)),
        events_by_level=grouped,
        levels={lvl: levels[lvl] for lvl in LEVEL_ORDER if levels[lvl]},
        purposes=dict(purposes.most_common()),
        endpoints=endpoints,
        envelope_identifiers=inventory,
        timeline=_timeline(timeline_rows),
        findings=finding_items,
    )
