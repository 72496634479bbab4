"""Replay capture files through the pipeline into one run, on one core or several.

With `jobs > 1` the captures are cut into units (whole files, and ranges of flows within a
large flow file); worker processes decode, judge and prepare the rows of each unit, and
this process writes them in capture order. Results are identical to `jobs=1`: the same
rows, the same order, the same hash chain.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from diagscope.pii.canary import CanarySet
from diagscope.pipeline import Inspector
from diagscope.policy.load import LoadedPolicy
from diagscope.policy.model import Policy
from diagscope.sources.flows import CaptureDamage, CaptureReader, frame_offsets
from diagscope.sources.registry import open_source
from diagscope.store.rows import RequestRows, rows_of
from diagscope.store.writer import CaptureInfo, RunWriter, capture_info, finish_run, start_run

#: Flows per unit of parallel work: large enough to amortise process hand-over, small
#: enough to keep every core busy and memory flat.
UNIT_FLOWS = 250


@dataclass
class ReplaySummary:
    run_id: int
    flows_read: int = 0
    telemetry_requests: int = 0
    events: int = 0
    findings: Counter[tuple[str, str]] = field(default_factory=Counter)
    damage: list[CaptureDamage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return sum(n for (_, severity), n in self.findings.items() if severity == "violation")

    def count(self, rows: RequestRows) -> None:
        self.telemetry_requests += 1
        self.events += len(rows.events)
        for row, _ in rows.findings:
            self.findings[(row["rule"], row["severity"])] += 1


@dataclass(slots=True)
class Unit:
    """A piece of work: a whole capture, or a range of a flow file."""

    capture: int  # index into the run's captures
    path: str
    start: int | None = None
    end: int | None = None


@dataclass(slots=True)
class UnitResult:
    rows: list[RequestRows]
    flows_read: int
    position: int
    damage: CaptureDamage | None
    warnings: list[str]


def _work(unit: Unit, inspector: Inspector) -> UnitResult:
    if unit.start is None:
        reader = open_source(unit.path)
    else:
        reader = CaptureReader(unit.path, unit.start, unit.end)
    rows = []
    for request in reader.requests():
        inspection = inspector.inspect(request)
        if inspection is not None:
            rows.append(rows_of(inspection))
    return UnitResult(rows, reader.flows_read, reader.position, reader.damage,
                      list(getattr(reader, "warnings", [])))


_worker_inspector: Inspector | None = None


def _init_worker(policy: Policy, canaries: CanarySet | None) -> None:
    global _worker_inspector
    _worker_inspector = Inspector(policy, canaries=canaries)


def _work_in_worker(unit: Unit) -> UnitResult:
    assert _worker_inspector is not None
    return _work(unit, _worker_inspector)


def plan_units(captures: Sequence[CaptureInfo], jobs: int) -> list[Unit]:
    """Whole files, except large flow files, which are cut into ranges of flows."""
    units: list[Unit] = []
    for i, info in enumerate(captures):
        source = open_source(info.path)
        if jobs > 1 and source.kind == "mitm":
            offsets, _ = frame_offsets(info.path)
            if len(offsets) > UNIT_FLOWS:
                bounds = offsets[::UNIT_FLOWS]
                # The last range runs to the end of the file, damage included.
                ends: list[int | None] = [*bounds[1:], None]
                units.extend(Unit(i, info.path, s, e) for s, e in zip(bounds, ends, strict=True))
                continue
        units.append(Unit(i, info.path))
    return units


def _results(units: list[Unit], loaded: LoadedPolicy, jobs: int,
             canaries: CanarySet | None) -> Iterator[UnitResult]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                             initargs=(loaded.policy, canaries)) as pool:
        pending: deque[Future[UnitResult]] = deque()
        queue = iter(units)
        # At most two units per worker in flight: memory stays flat however large the run.
        for unit in queue:
            pending.append(pool.submit(_work_in_worker, unit))
            if len(pending) >= 2 * jobs:
                break
        while pending:
            result = pending.popleft().result()
            next_unit = next(queue, None)
            if next_unit is not None:
                pending.append(pool.submit(_work_in_worker, next_unit))
            yield result


def replay(
    paths: Sequence[str],
    *,
    loaded: LoadedPolicy,
    engine: Engine,
    label: str = "",
    command: str = "",
    jobs: int = 1,
    canaries: CanarySet | None = None,
    scenario: dict[str, Any] | None = None,
    on_flow: Callable[[int], None] | None = None,
) -> ReplaySummary:
    """Read every capture in order; damaged files keep every flow before the damage."""
    captures = [capture_info(p) for p in paths]
    run_id = start_run(
        engine, loaded=loaded, label=label, source_kind="replay", captures=captures,
        command=command, canaries=canaries, scenario=scenario,
    )
    summary = ReplaySummary(run_id=run_id)
    writer = RunWriter(engine, run_id)
    status = "failed"
    try:
        if jobs <= 1:
            _replay_streaming(captures, loaded, canaries, writer, summary, on_flow)
        else:
            _replay_parallel(captures, loaded, canaries, jobs, writer, summary, on_flow)
        writer.flush()
        status = "damaged" if summary.damage else "complete"
    finally:
        writer.flush()
        finish_run(engine, run_id, status=status, captures=captures)
    return summary


def _replay_streaming(captures: list[CaptureInfo], loaded: LoadedPolicy,
                      canaries: CanarySet | None, writer: RunWriter, summary: ReplaySummary,
                      on_flow: Callable[[int], None] | None) -> None:
    """One process: each request is judged and handed to the writer as it is read."""
    inspector = Inspector(loaded.policy, canaries=canaries)
    done = 0
    for info in captures:
        reader = open_source(info.path)
        for request in reader.requests():
            summary.flows_read += 1
            inspection = inspector.inspect(request)
            if inspection is not None:
                rows = rows_of(inspection)
                if writer.add_rows(rows):
                    summary.count(rows)
            if on_flow is not None:
                on_flow(done + reader.position)
        done += info.size
        summary.warnings.extend(w for w in reader.warnings if w not in summary.warnings)
        if reader.damage is not None:
            summary.damage.append(reader.damage)
            info.damage = f"{reader.damage.message} after {reader.damage.flows_read} flows"


def _replay_parallel(captures: list[CaptureInfo], loaded: LoadedPolicy,
                     canaries: CanarySet | None, jobs: int, writer: RunWriter,
                     summary: ReplaySummary, on_flow: Callable[[int], None] | None) -> None:
    units = plan_units(captures, jobs)
    done_before = [sum(c.size for c in captures[:i]) for i in range(len(captures))]
    flows_in_capture: Counter[int] = Counter()
    damaged: set[int] = set()
    for unit, result in zip(units, _results(units, loaded, jobs, canaries), strict=True):
        if unit.capture in damaged:
            continue  # reading a damaged file stops at the damage, in every mode
        summary.flows_read += result.flows_read
        flows_in_capture[unit.capture] += result.flows_read
        summary.warnings.extend(w for w in result.warnings if w not in summary.warnings)
        for rows in result.rows:
            if writer.add_rows(rows):
                summary.count(rows)
        if on_flow is not None:
            on_flow(done_before[unit.capture] + result.position)
        if result.damage is not None:
            damaged.add(unit.capture)
            damage = CaptureDamage(unit.path, flows_in_capture[unit.capture],
                                   result.damage.message)
            summary.damage.append(damage)
            captures[unit.capture].damage = f"{damage.message} after {damage.flows_read} flows"
