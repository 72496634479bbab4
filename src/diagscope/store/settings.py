"""The test machine's collected settings (collect.ps1), kept with the run they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, update

from diagscope.store.tables import runs


def run_scenario(engine: Engine, run_id: int) -> dict[str, Any] | None:
    """The scenario notes the run was started with, or None."""
    with engine.connect() as conn:
        scenario: dict[str, Any] | None = conn.execute(
            select(runs.c.scenario).where(runs.c.id == run_id)).scalar()
    return scenario


def attach_settings(engine: Engine, run_id: int, record: dict[str, Any]) -> None:
    """Store the collected settings on the run, as given: the caller has already compared
    them with the scenario (`record["mismatches"]`), so a report can warn about them."""
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(settings=record))
