"""Scenario steps of a run: when the tester moved on to which step.

A step is a boundary in time, kept in the run's hash chain as a `run-step` entry: requests
made from that moment on belong to that step, until the next one. The proxy records one
when the tester presses a key or runs the `diagscope.step` command, `diagscope step N`
records one from a script, and replay takes them from a small file of step times.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Engine, select, update

from diagscope.steps import StepMark, Steps
from diagscope.store.chain import CURRENT_FORMAT
from diagscope.store.entries import STEP, append_entry, content_text, lock_chain, time_text
from diagscope.store.tables import run_entries, runs


class NoOpenRun(LookupError):
    pass


def record_step(engine: Engine, run_id: int, step: int, at: datetime) -> None:
    """Add a step boundary to the run (and to its chain, when the run chains metadata)."""
    with engine.begin() as conn:
        head, length, chain_format = lock_chain(conn, run_id)
        if chain_format < CURRENT_FORMAT:
            raise ValueError(f"run {run_id} was stored by an older diagscope: it cannot "
                             "record scenario steps")
        content = content_text({"step": step, "at": time_text(at)})
        head, length = append_entry(conn, run_id, STEP, content, head, length)
        conn.execute(update(runs).where(runs.c.id == run_id)
                     .values(chain_head=head, chain_length=length))


def run_steps(engine: Engine, run_id: int) -> Steps:
    with engine.connect() as conn:
        rows = conn.execute(select(run_entries.c.content)
                            .where(run_entries.c.run_id == run_id, run_entries.c.kind == STEP)
                            .order_by(run_entries.c.chain_seq))
        marks = [json.loads(content) for (content,) in rows]
    return Steps([StepMark(datetime.fromisoformat(m["at"]), int(m["step"])) for m in marks])


def open_run(engine: Engine) -> int:
    """The newest run still running (a live proxy), for `diagscope step` from a script."""
    with engine.connect() as conn:
        run_id = conn.execute(select(runs.c.id).where(runs.c.status == "running")
                              .order_by(runs.c.id.desc()).limit(1)).scalar()
    if run_id is None:
        raise NoOpenRun("no run is being recorded in this database (start `diagscope proxy`)")
    return int(run_id)
