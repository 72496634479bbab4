"""Replay capture files through the pipeline into one run, on one core or several.

With `jobs > 1` the captures are cut into units (whole files, and ranges of flows within a
large flow file); worker processes decode, judge and prepare the rows of each unit, and
this process writes them in capture order. Results are identical to `jobs=1`: the same
rows, the same order, the same hash chain.
"""

from __future__ import annotations

import contextlib
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from diagscope.judging import judge, worker_inspector, worker_steps
from diagscope.pipeline import Inspector
from diagscope.session import (
    COMPLETE,
    FAILED,
    INCOMPLETE,
    INTERRUPTED,
    RunSession,
    SessionWriteError,
)
from diagscope.sources.flows import CaptureDamage, CaptureReader, frame_offsets
from diagscope.sources.registry import open_source
from diagscope.steps import StepMark, Steps
from diagscope.store.rows import RequestRows
from diagscope.store.writer import CaptureInfo, capture_info

#: Flows per unit of parallel work: large enough to amortise process hand-over, small
#: enough to keep every core busy and memory flat.
UNIT_FLOWS = 250


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


def _work(unit: Unit, inspector: Inspector, steps: Steps | None = None) -> UnitResult:
    if unit.start is None:
        reader = open_source(unit.path)
    else:
        reader = CaptureReader(unit.path, unit.start, unit.end)
    rows = []
    for request in reader.requests():
        judged = judge(inspector, request, steps)
        if judged is not None:
            rows.append(judged[1])
    return UnitResult(rows, reader.flows_read, reader.position, reader.damage,
                      list(getattr(reader, "warnings", [])))


def _work_in_worker(unit: Unit) -> UnitResult:
    return _work(unit, worker_inspector(), worker_steps())


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


def _results(units: list[Unit], session: RunSession, jobs: int) -> Iterator[UnitResult]:
    with session.worker_pool(jobs) as pool:
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


def replay(paths: Sequence[str], session: RunSession, *, jobs: int = 1,
           on_flow: Callable[[int], None] | None = None,
           step_times: Sequence[StepMark] = ()) -> str:
    """Read every capture in order into a new run of `session`; damaged files keep every
    flow before the damage. `step_times` are the scenario's step boundaries (a step file).
    Returns the run's final status."""
    captures = [capture_info(p) for p in paths]
    session.start(captures)
    for mark in step_times:
        session.advance(mark.step, mark.at)
    status = FAILED
    try:
        if jobs <= 1:
            _replay_streaming(captures, session, on_flow)
        else:
            _replay_parallel(captures, session, jobs, on_flow)
        session.flush()
        status = COMPLETE
    except KeyboardInterrupt:
        status = INTERRUPTED
        raise
    except SessionWriteError:
        status = INCOMPLETE  # counted by the session; the run says what is missing
    finally:
        if status != COMPLETE:
            # What was judged before the interruption or failure is still evidence.
            with contextlib.suppress(SessionWriteError):
                session.flush()
        status = session.finish(status, captures)
    return status


def _replay_streaming(captures: list[CaptureInfo], session: RunSession,
                      on_flow: Callable[[int], None] | None) -> None:
    """One process: each request is judged and handed to the writer as it is read."""
    stats = session.stats
    done = 0
    for info in captures:
        reader = open_source(info.path)
        for request in reader.requests():
            stats.flows_read += 1
            judged = session.judge(request)
            if judged is not None:
                session.record(judged[1])
            if on_flow is not None:
                on_flow(done + reader.position)
        done += info.size
        for warning in reader.warnings:
            stats.warn(warning)
        if reader.damage is not None:
            stats.damage.append(reader.damage)
            info.damage = f"{reader.damage.message} after {reader.damage.flows_read} flows"


def _replay_parallel(captures: list[CaptureInfo], session: RunSession, jobs: int,
                     on_flow: Callable[[int], None] | None) -> None:
    stats = session.stats
    units = plan_units(captures, jobs)
    done_before = [sum(c.size for c in captures[:i]) for i in range(len(captures))]
    flows_in_capture: Counter[int] = Counter()
    damaged: set[int] = set()
    for unit, result in zip(units, _results(units, session, jobs), strict=True):
        if unit.capture in damaged:
            continue  # reading a damaged file stops at the damage, in every mode
        stats.flows_read += result.flows_read
        flows_in_capture[unit.capture] += result.flows_read
        for warning in result.warnings:
            stats.warn(warning)
        for rows in result.rows:
            session.record(rows)
        if on_flow is not None:
            on_flow(done_before[unit.capture] + result.position)
        if result.damage is not None:
            damaged.add(unit.capture)
            damage = CaptureDamage(unit.path, flows_in_capture[unit.capture],
                                   result.damage.message)
            stats.damage.append(damage)
            captures[unit.capture].damage = f"{damage.message} after {damage.flows_read} flows"
