"""run metadata in the chain

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-16
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Neither direction may rebuild `runs` on SQLite: dropping the old table would delete every
# request, event and finding of every run through ON DELETE CASCADE (see 0005). The new
# column is a plain ALTER TABLE ... ADD COLUMN with a constant default, outside batch mode;
# the new table is created and dropped on its own.


def upgrade() -> None:
    # Every run stored so far has rows-only chains: format 1, which verify reports as
    # "run metadata not chained (older format)" instead of failing.
    op.add_column('runs', sa.Column('chain_format', sa.Integer(), server_default='1',
                                    nullable=False))
    op.create_table('run_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('chain_seq', sa.Integer(), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_run_entries_run_chain', 'run_entries', ['run_id', 'chain_seq'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_run_entries_run_chain', table_name='run_entries')
    op.drop_table('run_entries')
    op.drop_column('runs', 'chain_format')
