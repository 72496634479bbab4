"""write errors on runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Neither direction may rebuild `runs` on SQLite: dropping the old table would delete every
# request, event and finding of every run through ON DELETE CASCADE. A constant default
# (text, not an SQL expression) keeps Alembic to a plain ALTER TABLE ... ADD COLUMN, and the
# downgrade drops the column in place (SQLite 3.35 or later; older ones refuse, losing
# nothing).


def upgrade() -> None:
    # Runs stored before the count existed lost nothing that was counted: they get 0.
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('write_errors', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    op.drop_column('runs', 'write_errors')
