"""A run's chained rows as an evidence bundle carries them, and back into a database.

In a bundle every row is JSON in the form the chain digests it: each column but generated
keys, the run id and a request's raw body (its body_sha256 stands for it), times as UTC
ISO 8601 text. A redacted bundle replaces the columns that can hold personal data
(`chain.REDACTED`) by the SHA-256 the chain's content digest already uses for them, so
the chain recomputes without them. The run's own entries travel as the canonical JSON text
that was hashed.

Loading such rows into a scratch database gives back a run every report and query can
read: that is how a bundle's report is made on export and rebuilt on verify.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine, Table, insert

from diagscope.store.bulk import BulkInserter
from diagscope.store.chain import REDACTED, column_digest, content_digest
from diagscope.store.entries import TIME_COLUMNS, time_text
from diagscope.store.kinds import write_findings
from diagscope.store.tables import events, findings, requests, runs
from diagscope.store.types import UtcDateTime

ROW_TABLES: dict[str, Table] = {"requests": requests, "events": events, "findings": findings}
_LEFT_OUT = frozenset({"id", "run_id", "body"})
#: What a scratch database holds for a redacted column: valid, and saying nothing.
_PLACEHOLDERS: dict[str, Any] = {"cs": "{}", "marks": "{}", "headers": []}
#: Rows stored per statement when loading: memory stays flat however large the run.
LOAD_BATCH = 2_000


def _time_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, UtcDateTime))


_TIMES = {name: _time_columns(table) for name, table in ROW_TABLES.items()}


def redacted_columns(chain_format: int) -> dict[str, frozenset[str]]:
    """Per table, the columns a redacted bundle of a run in this chain format replaces."""
    return {name: REDACTED[chain_format].get(name, frozenset()) for name in ROW_TABLES}


def portable_row(table_name: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row (every column but a request's raw body) as a bundle carries it."""
    times = _TIMES[table_name]
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in _LEFT_OUT:
            continue
        if key in times and isinstance(value, datetime):
            value = time_text(value)
        out[key] = value
    return out


def redact_row(row: Mapping[str, Any], columns: frozenset[str]) -> dict[str, Any]:
    """A portable row with `columns` replaced by the SHA-256 its content digest uses."""
    return {key: column_digest(value) if key in columns and value else value
            for key, value in row.items()}


def portable_digest(row: dict[str, Any], chain_format: int, redacted: frozenset[str]) -> str:
    """The content digest of a bundle's row, as the chain computed it from the stored one."""
    return content_digest(row, chain_format=chain_format, predigested=redacted)


def _stored_row(table_name: str, row: Mapping[str, Any], run_id: int,
                redacted: frozenset[str]) -> dict[str, Any]:
    out = {key: value for key, value in row.items() if key not in _LEFT_OUT}
    out["run_id"] = run_id
    for key in _TIMES[table_name]:
        if isinstance(out.get(key), str):
            out[key] = datetime.fromisoformat(out[key])
    for key in redacted:
        out[key] = _PLACEHOLDERS[key]
    if table_name == "requests":
        out["body"] = b""  # the raw bodies are in flows.mitm, or not in the bundle at all
    return out


def load_run(engine: Engine, run_id: int, run_columns: Mapping[str, Any],
             rows: Mapping[str, Iterable[Mapping[str, Any]]],
             redacted: Mapping[str, frozenset[str]]) -> None:
    """Store a run given as its columns (times as text) and its portable rows, under its
    own id, in a scratch database."""
    columns = {key: value for key, value in run_columns.items() if key in runs.c}
    for key in TIME_COLUMNS:
        if isinstance(columns.get(key), str):
            columns[key] = datetime.fromisoformat(columns[key])
    with engine.begin() as conn:
        conn.execute(insert(runs).values(id=run_id, **columns))
        for name, table in ROW_TABLES.items():
            hidden = redacted.get(name, frozenset())
            stored = (_stored_row(name, row, run_id, hidden) for row in rows.get(name, ()))
            if table is findings:  # a view: its kinds and places are stored
                write_findings(conn, run_id, _batches(stored))
            else:
                inserter = BulkInserter(table)
                for batch in _batches(stored):
                    inserter.insert(conn, batch)


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while batch := list(islice(it, LOAD_BATCH)):
        yield batch
