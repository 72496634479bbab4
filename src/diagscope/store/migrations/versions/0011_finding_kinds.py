"""each kind of finding stored once per run; findings refer to it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

#: The columns that make a finding's kind (as `store/tables.py` had them at this revision).
KIND = ("event_name", "product", "rule", "severity", "field", "pii_kind", "detail", "value",
        "clause")
PLACE = ("id", "run_id", "flow_id", "event_index", "chain_seq", "chain_hash")
VIEW = ("CREATE VIEW findings AS SELECT o.id AS id, o.run_id AS run_id, o.flow_id AS flow_id, "
        "o.event_index AS event_index, " + ", ".join(f"k.{c} AS {c}" for c in KIND)
        + ", o.chain_seq AS chain_seq, o.chain_hash AS chain_hash "
        "FROM finding_occurrences o JOIN finding_kinds k ON k.id = o.kind_id")
#: Findings moved per statement: memory stays flat however large the database.
BATCH = 10_000


def _kind_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("event_name", sa.Text(), nullable=True),
        sa.Column("product", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=30), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("pii_kind", sa.Text(), nullable=True),
        sa.Column("detail", sa.LargeBinary(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("clause", sa.LargeBinary(), nullable=False),
    ]


def upgrade() -> None:
    # Findings repeat a few dozen kinds on event after event; each kind's texts were stored
    # on every finding, two fifths of a run's database.
    op.create_table(
        "finding_kinds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        *_kind_columns(),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_kinds_run", "finding_kinds", ["run_id"], unique=False)
    op.create_table(
        "finding_occurrences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("event_index", sa.Integer(), nullable=True),
        sa.Column("kind_id", sa.Integer(), nullable=False),
        sa.Column("chain_seq", sa.Integer(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["kind_id"], ["finding_kinds.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_occurrences_run_chain", "finding_occurrences",
                    ["run_id", "chain_seq"], unique=False)
    _move_findings()
    op.drop_index("ix_findings_run_chain", table_name="findings")
    op.drop_table("findings")
    _restart_ids("finding_occurrences")
    op.execute(VIEW)


def _move_findings() -> None:
    """Every finding into a kind (made once per run) and an occurrence with its own id, in
    id order and in batches; values move as stored (packed or not), never re-encoded."""
    bind = op.get_bind()
    old = sa.table("findings", *(sa.column(c) for c in (*PLACE, *KIND)))
    kinds = sa.table("finding_kinds", sa.column("id"), sa.column("run_id"),
                     *(sa.column(c) for c in KIND))
    places = sa.table("finding_occurrences", *(sa.column(c) for c in (*PLACE, "kind_id")))
    known: dict[tuple[Any, ...], int] = {}
    last = 0
    while True:
        rows = bind.execute(sa.select(old).where(old.c.id > last).order_by(old.c.id)
                            .limit(BATCH)).mappings().all()
        if not rows:
            return
        moved = []
        for row in rows:
            key = (row["run_id"], *(_as_key(row[c]) for c in KIND))
            kind_id = known.get(key)
            if kind_id is None:
                kind_id = bind.execute(sa.insert(kinds).values(
                    run_id=row["run_id"], **{c: row[c] for c in KIND})
                    .returning(kinds.c.id)).scalar_one()
                known[key] = kind_id
            moved.append({**{c: row[c] for c in PLACE}, "kind_id": kind_id})
        bind.execute(sa.insert(places), moved)
        last = rows[-1]["id"]


def _as_key(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _restart_ids(table: str) -> None:
    """PostgreSQL's id sequence continues after the ids the rows brought with them."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")


def downgrade() -> None:
    op.execute("DROP VIEW findings")
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(length=100), nullable=False),
        sa.Column("event_index", sa.Integer(), nullable=True),
        *_kind_columns(),
        sa.Column("chain_seq", sa.Integer(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    columns = ", ".join((*PLACE, *KIND))
    chosen = ", ".join((*(f"o.{c}" for c in PLACE), *(f"k.{c}" for c in KIND)))
    op.execute(f"INSERT INTO findings ({columns}) SELECT {chosen} FROM finding_occurrences o "
               "JOIN finding_kinds k ON k.id = o.kind_id")
    op.create_index("ix_findings_run_chain", "findings", ["run_id", "chain_seq"], unique=False)
    _restart_ids("findings")
    op.drop_index("ix_finding_occurrences_run_chain", table_name="finding_occurrences")
    op.drop_table("finding_occurrences")
    op.drop_index("ix_finding_kinds_run", table_name="finding_kinds")
    op.drop_table("finding_kinds")
