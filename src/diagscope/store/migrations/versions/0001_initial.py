"""initial evidence schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('policy_name', sa.Text(), nullable=False),
    sa.Column('policy_version', sa.Text(), nullable=False),
    sa.Column('policy_sha256', sa.String(length=64), nullable=False),
    sa.Column('policy_text', sa.Text(), nullable=False),
    sa.Column('policy_resolved', sa.JSON(), nullable=False),
    sa.Column('scenario', sa.JSON(), nullable=True),
    sa.Column('tool_version', sa.String(length=50), nullable=False),
    sa.Column('mitmproxy_version', sa.String(length=50), nullable=False),
    sa.Column('source_kind', sa.String(length=20), nullable=False),
    sa.Column('captures', sa.JSON(), nullable=False),
    sa.Column('command', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('chain_head', sa.String(length=64), nullable=True),
    sa.Column('chain_length', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('event_index', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('product', sa.String(length=16), nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('level_reason', sa.Text(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('purpose_reason', sa.Text(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('wire_format', sa.String(length=8), nullable=False),
    sa.Column('ikey', sa.Text(), nullable=True),
    sa.Column('app_ver', sa.String(length=100), nullable=True),
    sa.Column('os_ver', sa.String(length=100), nullable=True),
    sa.Column('pop_sample', sa.Float(), nullable=True),
    sa.Column('cs', sa.Text(), nullable=False),
    sa.Column('marks', sa.Text(), nullable=False),
    sa.Column('chain_seq', sa.Integer(), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'flow_id', 'event_index', name='uq_events_run_flow_index')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_run_chain', ['run_id', 'chain_seq'], unique=False)
        batch_op.create_index('ix_events_run_name', ['run_id', 'name'], unique=False)

    op.create_table('findings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('event_index', sa.Integer(), nullable=True),
    sa.Column('event_name', sa.Text(), nullable=True),
    sa.Column('product', sa.String(length=16), nullable=False),
    sa.Column('rule', sa.String(length=30), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('field', sa.Text(), nullable=True),
    sa.Column('pii_kind', sa.Text(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('clause', sa.Text(), nullable=False),
    sa.Column('chain_seq', sa.Integer(), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index('ix_findings_run_chain', ['run_id', 'chain_seq'], unique=False)
        batch_op.create_index('ix_findings_run_flow', ['run_id', 'flow_id'], unique=False)
        batch_op.create_index('ix_findings_run_rule', ['run_id', 'rule'], unique=False)

    op.create_table('requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('flow_id', sa.String(length=100), nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('scheme', sa.Text(), nullable=False),
    sa.Column('host', sa.Text(), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('http_version', sa.Text(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('body_size', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.Text(), nullable=True),
    sa.Column('content_encoding', sa.Text(), nullable=True),
    sa.Column('decode_status', sa.String(length=20), nullable=False),
    sa.Column('decode_error', sa.Text(), nullable=True),
    sa.Column('decode_offset', sa.Integer(), nullable=True),
    sa.Column('decoded_size', sa.Integer(), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('chain_seq', sa.Integer(), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'flow_id', name='uq_requests_run_flow')
    )


def downgrade() -> None:
    op.drop_table('requests')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_run_rule')
        batch_op.drop_index('ix_findings_run_flow')
        batch_op.drop_index('ix_findings_run_chain')

    op.drop_table('findings')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_run_name')
        batch_op.drop_index('ix_events_run_chain')

    op.drop_table('events')
    op.drop_table('runs')
