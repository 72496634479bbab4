"""A live proxy's judging process yields the CPU to forwarding; replay's workers do not."""

from __future__ import annotations

import os

import pytest

from diagscope.judging import BACKGROUND_NICENESS
from diagscope.session import RunSession, SessionSettings


def _niceness_of_worker(db_path: str, *, background: bool) -> int:
    session = RunSession(SessionSettings(db=db_path))
    with session.worker_pool(1, background=background) as pool:
        return pool.submit(os.nice, 0).result(timeout=120)


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no process priorities here")
def test_background_judges_run_at_lower_priority_and_replay_workers_do_not(db_path):
    mine = os.nice(0)
    assert _niceness_of_worker(db_path, background=False) == mine
    assert _niceness_of_worker(db_path, background=True) == min(19, mine + BACKGROUND_NICENESS)
