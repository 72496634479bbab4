"""The evidence schema: runs (with their chained entries), requests (with raw bodies),
events and findings (each a kind of finding at a place in the chain).

Events and findings point at their request by the natural key (run, flow id), which every
writer knows before inserting, so bulk inserts need no round trip for generated ids (only
the kinds of finding new to a batch are inserted first, for theirs). Every
time is a `UtcDateTime`: stored as UTC, read back as an aware UTC datetime.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from diagscope.store.types import Digest, PackedJSON, PackedText, UtcDateTime

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", Text, nullable=False, default=""),
    Column("policy_name", Text, nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("policy_text", Text, nullable=False),  # the policy file exactly as read
    Column("policy_resolved", JSON, nullable=False),  # with everything it extends merged
    Column("scenario", JSON),  # scenario notes a tester attached to the run
    # Canary labels with salted hashes of their values; never the values themselves.
    Column("canaries", JSON),
    # The test machine's collected settings (collect.ps1), compared with the scenario.
    Column("settings", JSON),
    Column("tool_version", String(50), nullable=False),
    Column("mitmproxy_version", String(50), nullable=False),
    Column("source_kind", String(20), nullable=False),  # replay or proxy
    Column("captures", JSON, nullable=False, default=list),  # [{path, sha256, damage}]
    Column("command", Text, nullable=False, default=""),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime()),
    Column("status", String(20), nullable=False, default="running"),
    Column("chain_head", String(64)),
    Column("chain_length", Integer, nullable=False, default=0),
    # Telemetry requests that could not be stored (database writes that failed).
    Column("write_errors", Integer, nullable=False, default=0, server_default="0"),
    # How the chain covers the run (store/chain.py): 1 for runs stored before run metadata
    # was chained (the default every older run gets), 2 since.
    Column("chain_format", Integer, nullable=False, server_default="1"),
)

# The run's own chain entries: its header (what it was started with), collected settings
# attached later, and its closing entry, as the canonical JSON text that was hashed.
run_entries = Table(
    "run_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),  # run-header, run-settings or run-close
    Column("content", Text, nullable=False),
    Column("chain_seq", Integer, nullable=False),
    Column("chain_hash", Digest(), nullable=False),
)

requests = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),  # order seen within the run
    Column("flow_id", String(100), nullable=False),
    Column("time", UtcDateTime(), nullable=False),
    Column("method", Text, nullable=False),
    Column("scheme", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("port", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("http_version", Text, nullable=False),
    Column("headers", PackedJSON("headers"), nullable=False),
    # The raw body, DEFLATE-compressed when that is shorter (store/bodies.py).
    Column("body", LargeBinary, nullable=False),
    Column("body_sha256", Digest(), nullable=False),
    Column("body_size", Integer, nullable=False),
    Column("content_type", Text),
    Column("content_encoding", Text),
    Column("decode_status", String(20), nullable=False),
    Column("decode_error", Text),
    Column("decode_offset", Integer),
    Column("decoded_size", Integer, nullable=False, default=0),
    Column("event_count", Integer, nullable=False),
    Column("response_status", Integer),
    Column("error", Text),
    Column("source", Text),
    Column("action", String(16), nullable=False, default="forwarded"),
    # The scenario step that was current when the request was made; NULL without steps.
    Column("step", Integer),
    Column("chain_seq", Integer, nullable=False),
    Column("chain_hash", Digest(), nullable=False),
    UniqueConstraint("run_id", "flow_id", name="uq_requests_run_flow"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("event_index", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("product", String(16), nullable=False),
    # The evidence that decided the product; NULL in runs stored before it was kept.
    Column("product_reason", PackedText("reason")),
    Column("time", UtcDateTime()),
    Column("level", String(16), nullable=False),
    Column("level_reason", PackedText("reason"), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("purpose_reason", PackedText("reason"), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("wire_format", String(8), nullable=False),
    Column("ikey", Text),
    Column("app_ver", String(100)),  # ext.app.ver: the build under test
    Column("os_ver", String(100)),  # ext.os.ver
    Column("pop_sample", Float),
    # JSON text, serialised once by the writer and hashed as stored.
    Column("cs", PackedText("cs"), nullable=False),  # the event as Common Schema JSON
    Column("marks", Text, nullable=False),  # declared PII kinds / customer content per field
    Column("chain_seq", Integer, nullable=False),
    Column("chain_hash", Digest(), nullable=False),
    UniqueConstraint("run_id", "flow_id", "event_index", name="uq_events_run_flow_index"),
)

# A run repeats few kinds of finding (rule, severity, texts, field, value) on event after
# event, so each kind is stored once per run and every finding refers to it: a finding is
# then a place (flow, event) in the chain and a kind, a third of what it took with every
# text on it. The `findings` view puts them together as one row per finding, the row the
# chain's content digest is taken from, so readers and the chain see what they always saw.
def _kind_columns() -> list[Column[Any]]:
    """The columns that make a finding's kind: fresh ones for each table (or view)."""
    return [
        Column("event_name", Text),
        Column("product", String(16), nullable=False),
        Column("rule", String(30), nullable=False),
        Column("severity", String(16), nullable=False),
        Column("field", Text),
        Column("pii_kind", Text),
        Column("detail", PackedText("detail"), nullable=False),
        Column("value", Text),
        Column("clause", PackedText("clause"), nullable=False),
    ]


finding_kinds = Table(
    "finding_kinds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    *_kind_columns(),
)

finding_occurrences = Table(
    "finding_occurrences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("event_index", Integer),
    Column("kind_id", Integer, ForeignKey("finding_kinds.id"), nullable=False),
    Column("chain_seq", Integer, nullable=False),
    Column("chain_hash", Digest(), nullable=False),
)

#: The columns of a finding that make its kind, in `finding_kinds`' order.
KIND_COLUMNS = tuple(column.name for column in _kind_columns())

# Views are not tables: `metadata.create_all` leaves them out, `create_views` makes them.
views = MetaData()

#: Every finding with its kind, as one row (read only: the store writes the two tables).
findings = Table(
    "findings",
    views,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("event_index", Integer),
    *_kind_columns(),
    Column("chain_seq", Integer, nullable=False),
    Column("chain_hash", Digest(), nullable=False),
)

FINDINGS_VIEW = (
    "CREATE VIEW findings AS SELECT o.id AS id, o.run_id AS run_id, o.flow_id AS flow_id, "
    "o.event_index AS event_index, "
    + ", ".join(f"k.{name} AS {name}" for name in KIND_COLUMNS)
    + ", o.chain_seq AS chain_seq, o.chain_hash AS chain_hash "
    "FROM finding_occurrences o JOIN finding_kinds k ON k.id = o.kind_id"
)


def create_views(connection: Connection) -> None:
    """The store's views, on a database that has its tables."""
    connection.execute(text(FINDINGS_VIEW))


Index("ix_events_run_name", events.c.run_id, events.c.name)
Index("ix_events_run_chain", events.c.run_id, events.c.chain_seq)
Index("ix_finding_occurrences_run_chain", finding_occurrences.c.run_id,
      finding_occurrences.c.chain_seq)
Index("ix_finding_kinds_run", finding_kinds.c.run_id)
Index("ix_run_entries_run_chain", run_entries.c.run_id, run_entries.c.chain_seq)
