"""The test machine's collected settings (collect.ps1), kept with the run they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, update

from diagscope.store.chain import CURRENT_FORMAT
from diagscope.store.entries import SETTINGS, append_entry, as_stored, lock_chain, settings_content
from diagscope.store.tables import runs


def run_scenario(engine: Engine, run_id: int) -> dict[str, Any] | None:
    """The scenario notes the run was started with, or None."""
    with engine.connect() as conn:
        scenario: dict[str, Any] | None = conn.execute(
            select(runs.c.scenario).where(runs.c.id == run_id)).scalar()
    return scenario


def attach_settings(engine: Engine, run_id: int, record: dict[str, Any]) -> None:
    """Store the collected settings on the run, as given: the caller has already compared
    them with the scenario (`record["mismatches"]`), so a report can warn about them.

    The settings enter the run's chain as a `run-settings` entry, also when the run is
    closed already (collect.ps1 runs after the proxy stops), so forging them is detected;
    a run stored before run metadata was chained just gets the column."""
    record = as_stored(record)
    with engine.begin() as conn:
        head, length, chain_format = lock_chain(conn, run_id)
        values: dict[str, Any] = {"settings": record}
        if chain_format >= CURRENT_FORMAT:
            head, length = append_entry(conn, run_id, SETTINGS, settings_content(record),
                                        head, length)
            values.update(chain_head=head, chain_length=length)
        conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
