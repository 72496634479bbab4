"""Findings as the store writes them: each kind of finding once per run
(`tables.finding_kinds`), each finding a place in the chain that refers to its kind
(`tables.finding_occurrences`). The `findings` view joins them back into the rows every
reader and the chain's content digests see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, column, insert, select, table

from diagscope.store.bulk import BulkInserter
from diagscope.store.tables import KIND_COLUMNS, finding_kinds, finding_occurrences

#: A finding row's kind, as the key it is known by.
kind_of = itemgetter(*KIND_COLUMNS)
PLACE_COLUMNS = ("run_id", "flow_id", "event_index", "chain_seq", "chain_hash")
_place_of = itemgetter(*PLACE_COLUMNS)
#: Kinds as stored, without the column types' conversions: the keys the writer makes are
#: the stored values themselves (packed texts as bytes).
_stored_kinds = table("finding_kinds", column("id"), column("run_id"),
                      *(column(name) for name in KIND_COLUMNS))
_INSERT_PLACES = BulkInserter(finding_occurrences)


def _stored_key(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in values)


class RunKinds:
    """The ids of one run's kinds of finding. Kinds a transaction adds count as known only
    once it commits (`committed`); after a rollback (`forget_uncommitted`) they are added
    again with the batch that needs them."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self._ids: dict[tuple[Any, ...], int] = {}
        self._uncommitted: dict[tuple[Any, ...], int] = {}

    def load(self, conn: Connection) -> None:
        """Know the kinds the run already holds (a writer picking a run up again)."""
        rows = conn.execute(select(_stored_kinds).where(_stored_kinds.c.run_id == self.run_id))
        for row in rows:
            self._ids.setdefault(_stored_key(row[2:]), row[0])

    def write(self, conn: Connection, findings: Sequence[dict[str, Any]]) -> None:
        """Store finding rows (every column of the `findings` view but the id, with run id
        and chain position): the kinds new to the run first, then one place per finding."""
        if not findings:
            return
        ids = self._ids
        new: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in findings:
            key = kind_of(row)
            if key not in ids and key not in self._uncommitted and key not in new:
                new[key] = row
        if new:
            self._insert_kinds(conn, new)
        known = {**ids, **self._uncommitted} if self._uncommitted else ids
        _INSERT_PLACES.insert(conn, [
            dict(zip(PLACE_COLUMNS, _place_of(row), strict=True), kind_id=known[kind_of(row)])
            for row in findings])

    def _insert_kinds(self, conn: Connection, new: dict[tuple[Any, ...], dict[str, Any]]
                      ) -> None:
        values = [{"run_id": self.run_id, **dict(zip(KIND_COLUMNS, key, strict=True))}
                  for key in new]
        statement = insert(finding_kinds).returning(finding_kinds.c.id,
                                                    sort_by_parameter_order=True)
        created = conn.execute(statement, values).scalars().all()
        self._uncommitted.update(zip(new, created, strict=True))

    def committed(self) -> None:
        self._ids.update(self._uncommitted)
        self._uncommitted.clear()

    def forget_uncommitted(self) -> None:
        self._uncommitted.clear()


def write_findings(conn: Connection, run_id: int,
                   batches: Iterable[Sequence[dict[str, Any]]]) -> None:
    """Store a run's finding rows, batch after batch, in the transaction of `conn` (a run
    loaded from an evidence bundle into a scratch database: nothing is retried there)."""
    kinds = RunKinds(run_id)
    for batch in batches:
        kinds.write(conn, [{**row, "run_id": run_id} for row in batch])
        kinds.committed()  # known to the later batches of this same transaction
