"""Seen on the wire versus shown by the Diagnostic Data Viewer: the "verify" promise, checked.

Events are paired by name and time (within a tolerance, since the viewer's timestamp and
the event's own time can differ slightly); where both carry a sequence number
(`ext.utc.seq` or `ext.sdk.seq`) it must agree as well.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from diagscope.report.diff import setup_warnings
from diagscope.sources.ddv import DDV_SCHEME
from diagscope.store.queries import events_by_time, request_schemes


@dataclass(slots=True)
class Seen:
    name: str
    time: datetime | None
    flow_id: str
    event_index: int
    seq: int | None


@dataclass
class Reconciliation:
    matched: int = 0
    wire_only: list[Seen] = field(default_factory=list)
    viewer_only: list[Seen] = field(default_factory=list)


def _seq(cs: dict[str, Any]) -> int | None:
    ext = cs.get("ext") or {}
    for name in ("utc", "sdk"):
        part = ext.get(name)
        if isinstance(part, dict) and isinstance(part.get("seq"), int):
            return part["seq"]
    return None


def _events(engine: Engine, run_id: int) -> list[Seen]:
    return [Seen(e["name"], e["time"], e["flow_id"], e["event_index"], _seq(json.loads(e["cs"])))
            for e in events_by_time(engine, run_id)]


def reconcile(engine: Engine, wire_run: int, viewer_run: int,
              tolerance: timedelta = timedelta(seconds=2)) -> Reconciliation:
    wire = _events(engine, wire_run)
    pending: dict[str, list[Seen]] = defaultdict(list)
    for seen in _events(engine, viewer_run):
        pending[seen.name].append(seen)
    result = Reconciliation()
    for seen in wire:
        candidates = pending.get(seen.name, [])
        match = None
        for i, other in enumerate(candidates):
            if seen.seq is not None and other.seq is not None and seen.seq != other.seq:
                continue
            if seen.time is None or other.time is None or abs(seen.time - other.time) <= tolerance:
                match = i
                break
        if match is None:
            result.wire_only.append(seen)
        else:
            candidates.pop(match)
            result.matched += 1
    result.viewer_only = sorted((s for group in pending.values() for s in group),
                                key=lambda s: (s.time or datetime.min.replace(tzinfo=UTC)))
    return result


def reconciliation_json(result: Reconciliation) -> dict[str, Any]:
    def rows(items: list[Seen]) -> list[dict[str, Any]]:
        return [{"name": s.name, "time": s.time.isoformat().replace("+00:00", "Z")
                 if s.time else None, "flow_id": s.flow_id, "event_index": s.event_index}
                for s in items]

    return {"matched": result.matched, "wire_only": rows(result.wire_only),
            "viewer_only": rows(result.viewer_only)}


def reconciliation_text(result: Reconciliation, wire_run: int, viewer_run: int) -> str:
    """The reconciliation as `diagscope reconcile` prints it."""
    def line(seen: Seen, flow: bool) -> str:
        if seen.time is None:
            return f"  -  {seen.name}"
        tail = f"  [{seen.flow_id[:8]}]" if flow else ""
        return f"  {seen.time:%Y-%m-%d %H:%M:%S}  {seen.name}{tail}"

    lines = [f"matched: {result.matched}",
             f"on the wire, not in the viewer (run {wire_run}): {len(result.wire_only)}"]
    lines += [line(s, True) for s in result.wire_only]
    lines.append(f"in the viewer, not on the wire (run {viewer_run}): {len(result.viewer_only)}")
    lines += [line(s, False) for s in result.viewer_only]
    return "\n".join(lines)


def is_viewer_import(engine: Engine, run_id: int) -> bool:
    """Whether every request of the run came from the Diagnostic Data Viewer (an export or
    EventTranscript.db), none from the wire."""
    return request_schemes(engine, run_id) == {DDV_SCHEME}


def reconcile_warnings(engine: Engine, wire_run: int, viewer_run: int) -> list[str]:
    """`setup_warnings`, and runs that look given the wrong way round: the "wire" run is a
    viewer import and the "viewer" run is not."""
    warnings = setup_warnings(engine, wire_run, viewer_run)
    if is_viewer_import(engine, wire_run) and not is_viewer_import(engine, viewer_run):
        warnings.append(f"run {wire_run}, given as the wire run, is a Diagnostic Data Viewer "
                        f"import and run {viewer_run} is not; the wire run comes first: "
                        f"diagscope reconcile {viewer_run} {wire_run}")
    return warnings
