"""digests as bytes, packed headers, no index by rule

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

#: (table, column) now `Digest`: 32 bytes instead of 64 hex digits.
DIGESTS = (("run_entries", "chain_hash"), ("requests", "chain_hash"),
           ("requests", "body_sha256"), ("events", "chain_hash"), ("findings", "chain_hash"))


def upgrade() -> None:
    # Nothing filters by rule alone within a run; the index cost 4% of a run's database.
    op.drop_index("ix_findings_run_rule", table_name="findings")
    if op.get_bind().dialect.name == "postgresql":
        for table, column in DIGESTS:
            op.alter_column(table, column, type_=sa.LargeBinary(),
                            postgresql_using=f"decode({column}, 'hex')")
        op.alter_column("requests", "headers", type_=sa.LargeBinary(),
                        postgresql_using="convert_to(headers::text, 'UTF8')")
        return
    # SQLite: values written before stay as they are (hex text, JSON text) and read back
    # unchanged through the new column types; only the declared types change.
    _sqlite_retype(sa.LargeBinary(), sa.LargeBinary())


def downgrade() -> None:
    """Back to hex text and JSON: every value is converted, so the older code finds what it
    wrote."""
    from diagscope.store.types import Digest, PackedJSON

    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    digest, headers = Digest(), PackedJSON("headers")
    if postgresql:
        for table, column in DIGESTS:
            op.alter_column(table, column, type_=sa.String(64),
                            postgresql_using=f"encode({column}, 'hex')")
    else:
        for table, column in DIGESTS:
            rows = sa.table(table, sa.column("id"), sa.column(column))  # values as stored
            for row_id, value in bind.execute(sa.select(rows.c.id, rows.c[column])).all():
                bind.execute(sa.update(rows).where(rows.c.id == row_id).values(
                    {column: digest.process_result_value(value, bind.dialect)}))
    target = "headers_json" if postgresql else "headers"
    if postgresql:
        op.add_column("requests", sa.Column(target, sa.JSON()))
    stored = sa.table("requests", sa.column("id"), sa.column("headers"))
    written = sa.table("requests", sa.column("id"), sa.column(target, sa.JSON()))
    for row_id, value in bind.execute(sa.select(stored.c.id, stored.c.headers)).all():
        bind.execute(sa.update(written).where(written.c.id == row_id).values(
            {target: headers.process_result_value(value, bind.dialect)}))
    if postgresql:
        op.drop_column("requests", "headers")
        op.alter_column("requests", target, new_column_name="headers", nullable=False)
    else:
        _sqlite_retype(sa.String(64), sa.JSON())
    op.create_index("ix_findings_run_rule", "findings", ["run_id", "rule"], unique=False)


def _sqlite_retype(digest: sa.types.TypeEngine[Any], headers: sa.types.TypeEngine[Any]) -> None:
    # Tables are rebuilt by batch mode; `runs` is not among them (see 0005 for why that
    # matters), and nothing refers to the others.
    for table in ("run_entries", "requests", "events", "findings"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column in DIGESTS:
                if name == table:
                    batch_op.alter_column(column, type_=digest)
            if table == "requests":
                batch_op.alter_column("headers", type_=headers)
