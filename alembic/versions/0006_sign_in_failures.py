"""Wrong passwords at /login, for the sign-in throttle: table sign_in_failures.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Each failed sign-in writes a row per key it counts against (the username, the
client address), so every app process of a deployment, and a restarted one,
sees the same count (``township.accounts.throttle``). A new table, so a store
made before only gains a table.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create sign_in_failures."""
    op.create_table('sign_in_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failures_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_failures_key'), ['key'], unique=False)


def downgrade() -> None:
    """Drop sign_in_failures."""
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_key'))
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_at'))
    op.drop_table('sign_in_failures')
