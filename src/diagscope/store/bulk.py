"""Insert many rows at driver speed: SQLAlchemy compiles each statement once, the driver
binds the rows.

Going through `Connection.execute(insert(table), rows)` costs more per row than SQLite
spends storing it (SQLAlchemy builds and processes a parameter dict for every row). Here
the statement is compiled once per table and set of columns, each column's type converts
its values with the dialect's own bind processor (bytes for binary columns go as they are),
and the rows go to the DB-API `executemany` as plain tuples (or dicts, for drivers with
named parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, LargeBinary, Table, insert
from sqlalchemy.types import TypeDecorator, TypeEngine


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    positional: bool
    #: (position, processor, binary) for the columns whose values the dialect converts;
    #: `binary` marks columns stored as bytes, whose bytes values need no conversion
    processors: tuple[tuple[int, Callable[[Any], Any], bool], ...]


class BulkInserter:
    """Inserts lists of row dicts (all with the same keys) into one table."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._plans: dict[tuple[int, tuple[str, ...]], _Plan | None] = {}

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan | None:
        compiled = insert(self.table).compile(dialect=dialect, column_keys=list(keys))
        if compiled.positional:
            names = tuple(compiled.positiontup or ())
        else:
            names = tuple(compiled.bind_names.values())
        # Columns with Python-side defaults add parameters the rows do not carry; such
        # statements keep SQLAlchemy's own path.
        if sorted(names) != sorted(keys):
            return None
        processors = []
        for i, name in enumerate(names):
            column_type = self.table.c[name].type
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors.append((i, process, _stores_bytes(column_type)))
        return _Plan(compiled.string, names, compiled.positional, tuple(processors))

    def insert(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        keys = tuple(rows[0])
        dialect = conn.dialect
        cache_key = (id(dialect), keys)
        if cache_key not in self._plans:
            self._plans[cache_key] = self._plan(dialect, keys)
        plan = self._plans[cache_key]
        width = len(keys)
        if plan is None or any(len(row) != width for row in rows):
            conn.execute(insert(self.table), list(rows))
            return
        try:
            params = self._params(plan, rows, width)
        except KeyError:  # rows with different columns: let SQLAlchemy sort them out
            conn.execute(insert(self.table), list(rows))
            return
        conn.exec_driver_sql(plan.sql, params)

    @staticmethod
    def _params(plan: _Plan, rows: Sequence[dict[str, Any]], width: int) -> list[Any]:
        get = itemgetter(*plan.names)
        params: list[Any] = []
        for row in rows:
            values = get(row) if width > 1 else (row[plan.names[0]],)
            if plan.processors:
                values = list(values)
                for i, process, binary in plan.processors:
                    value = values[i]
                    if not (binary and type(value) is bytes):
                        values[i] = process(value)
            params.append(tuple(values) if plan.positional else dict(zip(plan.names, values,
                                                                          strict=True)))
        return params


def _stores_bytes(column_type: TypeEngine[Any]) -> bool:
    """True for binary columns (packed text and JSON, digests, raw bodies): every DB-API
    driver takes `bytes` for them as they are, and the store's binary types hand bytes
    through unchanged, so rows prepared as bytes (in worker processes) skip two Python calls
    a value."""
    impl = column_type.impl if isinstance(column_type, TypeDecorator) else column_type
    return isinstance(impl, LargeBinary)
