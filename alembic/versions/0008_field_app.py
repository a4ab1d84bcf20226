"""The field app (/m): device sessions and request receipts: tables device_sessions, field_receipts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

A phone stays signed in for weeks through a device session its person or an
admin can revoke (``township.accounts.devices``); a move or report the phone
sends again after a dead zone finds the first answer in field_receipts
(``township.loop.receipts``). New tables, so a store made before only gains tables.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create device_sessions and field_receipts."""
    op.create_table('device_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('device_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_sessions_user_id'), ['user_id'], unique=False)
    op.create_table('field_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'key', name='uq_field_receipt_key')
    )
    with op.batch_alter_table('field_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_field_receipts_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    """Drop field_receipts and device_sessions."""
    with op.batch_alter_table('field_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_field_receipts_user_id'))
    op.drop_table('field_receipts')
    with op.batch_alter_table('device_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_sessions_user_id'))
    op.drop_table('device_sessions')
