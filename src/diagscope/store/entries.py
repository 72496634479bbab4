"""The run's own entries in its hash chain: the header, collected settings, the closing
entry.

The `runs` row is what everything reads (reports, queries, bundles); these entries are
what it must agree with. Each holds canonical JSON text, hashed as stored and linked into
the run's chain like any row (`chain.link`, with the entry kind as table name):

- `run-header` (position 0): what the run was started with: label, policy (name, version,
  sha256, text, resolved), scenario, canaries (labels and salted hashes), collected
  settings, tool and mitmproxy versions, source kind, command, captures as known at
  start, start time, and the chain format.
- `run-settings`: collected settings attached after the start (`diagscope attach`); the
  latest one is the run's settings, also after the run was closed.
- `run-step`: the tester moved on to a scenario step (its number and the time), live or
  from a replay's step file; requests from that time on belong to it.
- `run-close`: status, end time, write errors, the captures as finally read, and how many
  requests, events and findings the chain held when the run was closed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from diagscope.store.chain import CURRENT_FORMAT, GENESIS, entry_digest, link
from diagscope.store.jsoncodec import canonical, dumps
from diagscope.store.tables import run_entries, runs

HEADER, SETTINGS, STEP, CLOSE = "run-header", "run-settings", "run-step", "run-close"
KINDS = (HEADER, SETTINGS, STEP, CLOSE)

#: The runs columns the header records: fixed for the life of the run (settings excepted).
HEADER_COLUMNS = ("label", "policy_name", "policy_version", "policy_sha256", "policy_text",
                  "policy_resolved", "scenario", "canaries", "settings", "tool_version",
                  "mitmproxy_version", "source_kind", "command", "captures", "started_at")
#: The runs columns a closing entry records.
CLOSE_COLUMNS = ("status", "ended_at", "write_errors", "captures")
#: The rows a closing entry counts.
COUNTED = ("requests", "events", "findings")
#: Every runs column the entries vouch for.
CHAINED_COLUMNS = (*HEADER_COLUMNS, "status", "ended_at", "write_errors", "chain_format")
TIME_COLUMNS = frozenset({"started_at", "ended_at"})
OPEN = "running"


def as_stored(value: Any) -> Any:
    """A JSON value as a JSON column reads it back, so what the chain records and what the
    runs row holds compare equal."""
    return None if value is None else json.loads(dumps(value))


def time_text(value: datetime | None) -> str | None:
    """A time as the chain records it: ISO 8601 in UTC, as canonical JSON writes times."""
    return None if value is None else value.astimezone(UTC).isoformat()


def content_text(values: dict[str, Any]) -> str:
    return canonical(values).decode("utf-8")


def header_content(values: dict[str, Any]) -> str:
    content = {key: values[key] for key in HEADER_COLUMNS}
    content["started_at"] = time_text(values["started_at"])
    content["chain_format"] = CURRENT_FORMAT
    return content_text(content)


def settings_content(record: dict[str, Any] | None) -> str:
    return content_text({"settings": record})


def close_content(values: dict[str, Any], counts: dict[str, int]) -> str:
    content = {key: values[key] for key in CLOSE_COLUMNS}
    content["ended_at"] = time_text(values["ended_at"])
    content.update({key: counts[key] for key in COUNTED})
    return content_text(content)


def run_state(entries: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The chained runs columns as the entries record them (times as `time_text`); an
    unclosed run is `running`. Empty when there is no header."""
    state: dict[str, Any] = {}
    for kind, content in entries:
        if kind == HEADER:
            state = {key: content.get(key) for key in HEADER_COLUMNS}
            state.update(status=OPEN, ended_at=None, write_errors=0,
                         chain_format=content.get("chain_format"))
        elif kind == SETTINGS:
            state["settings"] = content.get("settings")
        elif kind == CLOSE:
            state.update({key: content.get(key) for key in CLOSE_COLUMNS})
    return state


def comparable(column: str, value: Any) -> bytes:
    """A runs column's value in the form the chain records it, as bytes to compare."""
    if column in TIME_COLUMNS and isinstance(value, datetime):
        value = time_text(value)
    return canonical(value)


def differing_columns(run: dict[str, Any], state: dict[str, Any]) -> list[str]:
    """The runs columns whose value is not what the chain recorded."""
    return [column for column in CHAINED_COLUMNS
            if comparable(column, run.get(column)) != comparable(column, state.get(column))]


# -- Writing -----------------------------------------------------------------------------


def lock_chain(conn: Connection, run_id: int) -> tuple[str, int, int]:
    """The run's chain head, length and format, read after taking the run's row for
    writing: the no-op update takes SQLite's write lock (waiting for other writers, never
    failing on a stale read) and PostgreSQL's row lock, so no two writers link onto the
    same head."""
    conn.execute(update(runs).where(runs.c.id == run_id)
                 .values(chain_length=runs.c.chain_length))
    head, length, chain_format = conn.execute(
        select(runs.c.chain_head, runs.c.chain_length, runs.c.chain_format)
        .where(runs.c.id == run_id)).one()
    return head or GENESIS, length or 0, chain_format


def append_entry(conn: Connection, run_id: int, kind: str, content: str, head: str,
                 length: int) -> tuple[str, int]:
    """Link an entry onto (head, length); returns the new head and length. The caller
    records them on the run in the same transaction."""
    chain_hash = link(head, kind, run_id, length, None, entry_digest(content))
    conn.execute(insert(run_entries).values(run_id=run_id, kind=kind, content=content,
                                            chain_seq=length, chain_hash=chain_hash))
    return chain_hash, length + 1


#: How a bundle carries the columns of a run stored before run metadata was chained: as
#: they are, outside the chain, for information only.
UNCHAINED = "run-unchained"


def unchained_state(run: dict[str, Any]) -> dict[str, Any]:
    """A rows-only run's columns in the form `run_state` gives them."""
    return {column: time_text(value) if isinstance(value, datetime) else value
            for column, value in ((c, run.get(c)) for c in CHAINED_COLUMNS)}
