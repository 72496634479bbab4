"""Edits to stored findings the way a forger with database access makes them.

The store keeps each kind of finding once per run (`finding_kinds`) and every finding as a
place that refers to it (`finding_occurrences`); the `findings` view cannot be written. To
change one finding without touching the others of its kind, a forger gives it a kind of
its own; that is what `edit_finding` does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from diagscope.store.tables import KIND_COLUMNS, finding_kinds, finding_occurrences

_PLACE = ("run_id", "flow_id", "event_index", "chain_seq", "chain_hash")


def edit_finding(conn: Connection, finding_id: int, **values: Any) -> None:
    """Change one finding's columns (of its kind or its place) and nothing else."""
    place = conn.execute(select(finding_occurrences)
                         .where(finding_occurrences.c.id == finding_id)).one()
    changes = {k: v for k, v in values.items() if k in _PLACE}
    kind_changes = {k: v for k, v in values.items() if k in KIND_COLUMNS}
    assert set(values) == set(changes) | set(kind_changes), values
    if kind_changes:
        kind = conn.execute(select(finding_kinds)
                            .where(finding_kinds.c.id == place.kind_id)).one()._mapping
        row = {k: kind[k] for k in ("run_id", *KIND_COLUMNS)} | kind_changes
        changes["kind_id"] = _insert(conn, finding_kinds, row)
    conn.execute(update(finding_occurrences).where(finding_occurrences.c.id == finding_id)
                 .values(**changes))


def edit_kinds(conn: Connection, where: Any, **values: Any) -> None:
    """Change every finding of the kinds `where` selects (a clause on `finding_kinds`)."""
    conn.execute(update(finding_kinds).where(where).values(**values))


def delete_findings(conn: Connection, where: Any) -> None:
    """Delete the findings `where` selects (a clause on `finding_occurrences`)."""
    conn.execute(delete(finding_occurrences).where(where))


def insert_finding(conn: Connection, row: dict[str, Any]) -> int:
    """Store a finding given as a `findings` view row (without id); returns its id."""
    kind = {k: row[k] for k in ("run_id", *KIND_COLUMNS)}
    place = {k: row[k] for k in _PLACE} | {"kind_id": _insert(conn, finding_kinds, kind)}
    return _insert(conn, finding_occurrences, place)


def _insert(conn: Connection, table: Table, row: dict[str, Any]) -> int:
    return conn.execute(insert(table).values(**row).returning(table.c.id)).scalar_one()
