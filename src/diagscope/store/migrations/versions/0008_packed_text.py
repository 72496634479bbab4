"""packed text for the columns that repeat themselves

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

#: (table, column) now stored as `PackedText` (binary); values written before stay text and
#: read as they are.
PACKED = (("events", "cs"), ("events", "level_reason"), ("events", "purpose_reason"),
          ("events", "product_reason"), ("findings", "detail"), ("findings", "clause"))


#: The packed columns that may be NULL; the others are NOT NULL.
NULLABLE = frozenset({("events", "product_reason")})


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in PACKED:
            op.alter_column(table, column, type_=sa.LargeBinary(),
                            postgresql_using=f"convert_to({column}, 'UTF8')")
        return
    _sqlite_retype(sa.LargeBinary())


def downgrade() -> None:
    """Back to text: packed values are unpacked first, row by row, so the older code that
    reads these columns as text finds text."""
    from diagscope.store.packing import unpack

    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    for table, column in PACKED:
        target = f"{column}_unpacked" if postgresql else column
        if postgresql:
            op.add_column(table, sa.Column(target, sa.Text()))
        rows = sa.table(table, sa.column("id"), sa.column(column), sa.column(target))
        for row_id, value in bind.execute(sa.select(rows.c.id, rows.c[column])).all():
            bind.execute(sa.update(rows).where(rows.c.id == row_id)
                         .values({target: None if value is None else unpack(value)}))
        if postgresql:
            op.drop_column(table, column)
            op.alter_column(table, target, new_column_name=column,
                            nullable=(table, column) in NULLABLE)
    if not postgresql:
        _sqlite_retype(sa.Text())


def _sqlite_retype(type_: sa.types.TypeEngine[Any]) -> None:
    # SQLite rebuilds the two tables. Nothing refers to events or findings, so dropping the
    # old tables deletes nothing else (unlike `runs`: see 0005).
    for table in ("events", "findings"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column in PACKED:
                if name == table:
                    batch_op.alter_column(column, type_=type_)
