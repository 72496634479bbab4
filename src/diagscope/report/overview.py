"""Gather one run's numbers from the store into a `Report` (reports read only the store).

The store counts and returns plain rows; this module turns them into the report's model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

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
    StepItem,
    TimeBucket,
    Totals,
    Verdict,
)
from diagscope.report.verdict import banner, verdict_of
from diagscope.store.queries import (
    iter_event_json,
    iter_event_times,
    iter_findings_with_body_hash,
    run_record,
    step_summary,
)
from diagscope.store.statistics import EventGroup, HostTraffic, run_statistics

_VERDICT_RANK = {"ok": 0, "review": 1, "violation": 2}
LEVEL_ORDER = [lvl.value for lvl in sorted(LEVEL_RANK, key=LEVEL_RANK.__getitem__)] + [
    Level.UNKNOWN.value
]
_BUCKETS = [timedelta(seconds=s) for s in (1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)]


def iso(value: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 in UTC with a Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _run_info(run: dict[str, Any]) -> RunInfo:
    return RunInfo(
        id=run["id"], label=run["label"], source_kind=run["source_kind"],
        status=run["status"], started_at=iso(run["started_at"]), ended_at=iso(run["ended_at"]),
        tool_version=run["tool_version"], mitmproxy_version=run["mitmproxy_version"],
        command=run["command"], chain_head=run["chain_head"],
        chain_length=run["chain_length"] or 0, scenario=run["scenario"],
        settings=run["settings"],
    )


def _timeline(first: datetime | None, last: datetime | None,
              rows: Iterable[tuple[datetime, str]]) -> list[TimeBucket]:
    """Events and violations per bucket, the bucket chosen so the run spans at most about
    60 of them; `rows` is streamed, so memory follows the buckets, not the events."""
    if first is None or last is None:
        return []
    span = last - first
    size = next((b for b in _BUCKETS if span / b <= 60), _BUCKETS[-1])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    start = epoch + ((first - epoch) // size) * size
    count = int((last - start) // size) + 1
    buckets = [[0, 0] for _ in range(count)]
    for t, verdict in rows:
        slot = buckets[int((t - start) // size)]
        slot[0] += 1
        if verdict == "violation":
            slot[1] += 1
    return [
        TimeBucket(start=iso(start + i * size) or "", events=e, violations=v)
        for i, (e, v) in enumerate(buckets)
    ]


def _events_by_level(groups: list[EventGroup]) -> dict[str, list[EventName]]:
    """Every event name once per (product, level, purpose), with its worst verdict, grouped
    by level in the order of the levels (as in the DPIA appendix)."""
    names: dict[tuple[str, str, str, str], list[int]] = {}
    for g in groups:
        slot = names.setdefault((g.name, g.product, g.level, g.purpose), [0, 0])
        slot[0] += g.count
        slot[1] = max(slot[1], _VERDICT_RANK.get(g.verdict, 0))
    verdict_names = {v: k for k, v in _VERDICT_RANK.items()}
    grouped: dict[str, list[EventName]] = {lvl: [] for lvl in LEVEL_ORDER}
    for (name, product, level, purpose), (count, worst) in sorted(names.items()):
        grouped.setdefault(level, []).append(EventName(
            name=name, count=count, product=product, level=level, purpose=purpose,
            verdict=verdict_names[worst],
        ))
    return {k: v for k, v in grouped.items() if v}


def _endpoints(hosts: list[HostTraffic], destinations: Destinations) -> list[Endpoint]:
    endpoints = []
    # Sorted here, not by the database: collations differ, and a report rebuilt from an
    # evidence bundle's rows must come out the same as the one exported.
    for h in sorted(hosts, key=lambda h: (h.host, h.scheme)):
        # Rows read from a viewer export or a file travelled nowhere: no destination.
        found = destination_of(h.host, destinations) if h.scheme not in ("ddv", "file") \
            else None
        endpoints.append(Endpoint(
            host=h.host, scheme=h.scheme, region=found.region if found else None,
            allowed=found.allowed if found else None, requests=h.requests,
            events=h.events, bytes=h.bytes,
        ))
    return endpoints


def _finding_item(row: dict[str, Any]) -> FindingItem:
    return FindingItem(
        rule=row["rule"], severity=row["severity"], event_name=row["event_name"],
        product=row["product"], field=row["field"], pii_kind=row["pii_kind"],
        value=row["value"], detail=row["detail"], clause=row["clause"],
        flow_id=row["flow_id"], event_index=row["event_index"],
        body_sha256=row["body_sha256"],
    )


def _finding_groups(rows: Iterable[dict[str, Any]]) -> list[FindingItem]:
    """One item per rule, verdict, event name, field and kind of personal data, in the order
    first found, counting its occurrences and the requests they came from. A run of half a
    million events repeats the same few findings in every request: the report lists each
    once, so its size follows what was found, not how often; every occurrence stays in
    the store (`diagscope findings`) and in an exported bundle."""
    groups: dict[tuple[Any, ...], FindingItem] = {}
    last_flow: dict[tuple[Any, ...], str] = {}
    for row in rows:
        key = (row["rule"], row["severity"], row["event_name"], row["field"], row["pii_kind"],
               row["product"])
        item = groups.get(key)
        if item is None:
            groups[key] = _finding_item(row)
            last_flow[key] = row["flow_id"]
            continue
        item.occurrences += 1
        # Rows come in request order, so one request's findings of a group are adjacent.
        if last_flow[key] != row["flow_id"]:
            item.flows += 1
            last_flow[key] = row["flow_id"]
    return list(groups.values())


def _steps(engine: Engine, run_id: int, scenario: dict[str, Any] | None) -> list[StepItem]:
    texts = list((scenario or {}).get("steps") or [])
    return [StepItem(step=step, title=texts[step - 1] if step and step <= len(texts) else None,
                     events=n_events, violations=n_violations, reviews=n_reviews)
            for step, n_events, n_violations, n_reviews in step_summary(engine, run_id)]


def build_report(engine: Engine, run_id: int, generated_at: str | None = None) -> Report:
    """The run's report; `generated_at` (ISO 8601) is now unless given, so a bundle's
    report can carry the export time and be rebuilt byte for byte."""
    run = run_record(engine, run_id)
    stats = run_statistics(engine, run_id)
    policy = run["policy_resolved"]
    destinations = Destinations.model_validate(policy["destinations"])
    personal_data = PersonalData.model_validate(policy["personal_data"])
    inventory = envelope_inventory(iter_event_json(engine, run_id), personal_data)
    finding_items = _finding_groups(iter_findings_with_body_hash(engine, run_id))
    levels: Counter[str] = Counter()
    purposes: Counter[str] = Counter()
    for g in stats.event_groups:
        levels[g.level] += g.count
        purposes[g.purpose] += g.count
    by_rule = {rule: dict(sorted(severities.items()))
               for rule, severities in sorted(stats.findings_by_rule.items())}
    violations = sum(s.get("violation", 0) for s in by_rule.values())
    reviews = sum(s.get("review", 0) for s in by_rule.values())
    result = verdict_of(status=run["status"], requests=stats.requests, violations=violations,
                        write_errors=run["write_errors"])
    warnings = [f"Setting mismatch: {m}. This run does not test what the scenario describes."
                for m in ((run["settings"] or {}).get("mismatches") or [])]
    if run["status"] == "damaged":
        warnings.append("A capture file was damaged: flows after the damage are missing.")
    if run["write_errors"]:
        warnings.append(f"{run['write_errors']} telemetry requests could not be stored: the "
                        "evidence is short by that many.")
    shown = banner(result, run["status"])
    if shown:
        warnings.insert(0, shown)
    return Report(
        warnings=warnings,
        generated_at=generated_at or iso(datetime.now(UTC)) or "",
        run=_run_info(run),
        build=BuildInfo(office_versions=sorted(stats.office_versions),
                        windows_versions=sorted(stats.os_versions)),
        policy=PolicyInfo(name=run["policy_name"], version=run["policy_version"],
                          sha256=run["policy_sha256"], source=policy.get("source", "")),
        captures=[CaptureFile(**c) for c in run["captures"] or []],
        time_window={"first_event": iso(stats.first_event),
                     "last_event": iso(stats.last_event)},
        totals=Totals(telemetry_requests=stats.requests, events=stats.events,
                      undecodable_requests=stats.undecodable_requests,
                      request_bytes=stats.request_bytes),
        verdict=Verdict(result=result, violations=violations, reviews=reviews,
                        by_rule=by_rule),
        events_by_level=_events_by_level(stats.event_groups),
        levels={lvl: levels[lvl] for lvl in LEVEL_ORDER if levels[lvl]},
        purposes=dict(sorted(purposes.items(), key=lambda item: (-item[1], item[0]))),
        endpoints=_endpoints(stats.hosts, destinations),
        steps=_steps(engine, run_id, run["scenario"]),
        envelope_identifiers=inventory,
        timeline=_timeline(stats.first_event, stats.last_event,
                           iter_event_times(engine, run_id)),
        findings=finding_items,
    )
