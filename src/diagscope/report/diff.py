"""What changed between two runs (two builds): events, findings, endpoints, volume."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine

from diagscope.report.model import DiffSection, Report


def _finding_key(f) -> tuple[str, str, str, str, str]:
    return (f.rule, f.severity, f.event_name or "", f.field or "", f.pii_kind or "")


def diff_reports(baseline: Report, current: Report) -> DiffSection:
    def names(report: Report) -> dict[str, tuple[set[str], set[str], int]]:
        out: dict[str, tuple[set[str], set[str], int]] = {}
        for group in report.events_by_level.values():
            for e in group:
                levels, purposes, count = out.get(e.name, (set(), set(), 0))
                out[e.name] = (levels | {e.level}, purposes | {e.purpose}, count + e.count)
        return out

    old, new = names(baseline), names(current)
    changed = []
    for name in sorted(set(old) & set(new)):
        (ol, op, _), (nl, np_, _) = old[name], new[name]
        if ol != nl or op != np_:
            changed.append({
                "name": name,
                "level": {"before": sorted(ol), "after": sorted(nl)},
                "purpose": {"before": sorted(op), "after": sorted(np_)},
            })
    old_f = Counter(_finding_key(f) for f in baseline.findings)
    new_f = Counter(_finding_key(f) for f in current.findings)
    appeared, resolved = new_f - old_f, old_f - new_f
    new_by_rule: Counter[str] = Counter()
    resolved_by_rule: Counter[str] = Counter()
    for key, n in appeared.items():
        new_by_rule[f"{key[0]}/{key[1]}"] += n
    for key, n in resolved.items():
        resolved_by_rule[f"{key[0]}/{key[1]}"] += n
    old_hosts = {e.host for e in baseline.endpoints}
    new_hosts = {e.host for e in current.endpoints}
    volume = {
        "events": {"before": baseline.totals.events, "after": current.totals.events},
        "requests": {"before": baseline.totals.telemetry_requests,
                     "after": current.totals.telemetry_requests},
        "bytes": {"before": baseline.totals.request_bytes, "after": current.totals.request_bytes},
    }
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name, (set(), set(), 0))[2], new.get(name, (set(), set(), 0))[2]
        if before != after:
            volume[f"event:{name}"] = {"before": before, "after": after}
    return DiffSection(
        baseline_run=baseline.run.id,
        new_events=sorted(set(new) - set(old)),
        gone_events=sorted(set(old) - set(new)),
        changed_events=changed,
        new_findings=dict(sorted(new_by_rule.items())),
        resolved_findings=dict(sorted(resolved_by_rule.items())),
        new_endpoints=sorted(new_hosts - old_hosts),
        gone_endpoints=sorted(old_hosts - new_hosts),
        volume=volume,
    )


def diff_text(diff: DiffSection, current_run: int) -> str:
    lines = [f"Changes from run {diff.baseline_run} to run {current_run}"]

    def section(title: str, items: list[str]) -> None:
        lines.append(f"{title}: {len(items)}")
        lines.extend(f"  + {i}" if title.startswith("new") else f"  - {i}" for i in items)

    section("new event names", diff.new_events)
    section("gone event names", diff.gone_events)
    lines.append(f"event names with a changed level or purpose: {len(diff.changed_events)}")
    for c in diff.changed_events:
        lines.append(
            f"  ~ {c['name']}: level {','.join(c['level']['before'])} -> "
            f"{','.join(c['level']['after'])}, purpose {','.join(c['purpose']['before'])} -> "
            f"{','.join(c['purpose']['after'])}"
        )
    lines.append("new findings per rule: " + (", ".join(
        f"{k} {v}" for k, v in diff.new_findings.items()) or "none"))
    lines.append("resolved findings per rule: " + (", ".join(
        f"{k} {v}" for k, v in diff.resolved_findings.items()) or "none"))
    section("new endpoints", diff.new_endpoints)
    section("gone endpoints", diff.gone_endpoints)
    lines.append("volume:")
    for key, v in diff.volume.items():
        delta = v["after"] - v["before"]
        lines.append(f"  {key}: {v['before']} -> {v['after']} ({delta:+d})")
    return "\n".join(lines)


def diff_runs(engine: Engine, baseline_run: int, run: int) -> DiffSection:
    """What changed from one stored run to another."""
    from diagscope.report.overview import build_report

    return diff_reports(build_report(engine, baseline_run), build_report(engine, run))
