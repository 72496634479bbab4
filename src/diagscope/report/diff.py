"""What changed between two runs (two builds): events, findings, endpoints, volume."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Engine

from diagscope.report.model import DiffSection, Report
from diagscope.store.queries import run_record


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
    old_f: Counter[tuple[str, ...]] = Counter()
    new_f: Counter[tuple[str, ...]] = Counter()
    for counter, report in ((old_f, baseline), (new_f, current)):
        for f in report.findings:
            counter[_finding_key(f)] += f.occurrences
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


def _policy(run: dict[str, Any]) -> str:
    return f"{run['policy_name']} (sha256 {run['policy_sha256'][:12]})"


def _scenario(run: dict[str, Any]) -> tuple[str, str] | None:
    scenario = run["scenario"] or None
    return (str(scenario.get("id", "")), str(scenario.get("sha256", ""))) if scenario else None


def _scenario_text(scenario: tuple[str, str] | None) -> str:
    return f"{scenario[0]} (sha256 {scenario[1][:12]})" if scenario else "none"


def _canary_labels(run: dict[str, Any]) -> list[str]:
    # Canaries are compared by label: their stored hashes are salted per run.
    return sorted(c["label"] for c in (run["canaries"] or {}).get("canaries", []))


def setup_warnings(engine: Engine, run_a: int, run_b: int) -> list[str]:
    """Why two runs may not compare like with like, one line each: they were judged by
    different policies, played different scenarios or searched for different canaries."""
    a, b = run_record(engine, run_a), run_record(engine, run_b)
    warnings = []
    if a["policy_sha256"] != b["policy_sha256"]:
        warnings.append(f"runs {run_a} and {run_b} were judged by different policies: "
                        f"{_policy(a)} and {_policy(b)}")
    if _scenario(a) != _scenario(b):
        warnings.append(f"runs {run_a} and {run_b} played different scenarios: "
                        f"{_scenario_text(_scenario(a))} and {_scenario_text(_scenario(b))}")
    if _canary_labels(a) != _canary_labels(b):
        warnings.append(f"runs {run_a} and {run_b} searched for different canaries: "
                        f"{', '.join(_canary_labels(a)) or 'none'} and "
                        f"{', '.join(_canary_labels(b)) or 'none'}")
    return warnings


def diff_warnings(engine: Engine, baseline_run: int, run: int) -> list[str]:
    """`setup_warnings`, and a baseline that is newer than the run compared with it: the
    runs were most likely given the wrong way round."""
    warnings = setup_warnings(engine, baseline_run, run)
    baseline_started = run_record(engine, baseline_run)["started_at"]
    started = run_record(engine, run)["started_at"]
    if baseline_started > started:
        warnings.append(f"the baseline run {baseline_run} is newer than run {run}; the new "
                        f"build comes second: diagscope diff {run} {baseline_run}")
    return warnings
