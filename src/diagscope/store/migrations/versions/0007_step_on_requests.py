"""scenario step on requests

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch rebuild of `requests` on SQLite would be needless work.
    op.add_column('requests', sa.Column('step', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('requests', 'step')
