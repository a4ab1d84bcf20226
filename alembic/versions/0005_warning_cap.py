"""CAP 1.2 in and out: a warning's certainty, areas, creation and revision times; its former CAP keys.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

CAP out sends a warning as an Alert, an Update (with ``references``) or a
Cancel, with the certainty and the polygons it came with: ``warnings`` gains
``certainty``, ``areas`` (JSON), ``created_at`` and ``revised_at``, all
nullable, so the rows of a store made before stay as they are (they go out as
Alerts, their ``issued_at`` standing in for ``created_at``). CAP in keeps the
(sender, identifier) an Update re-keyed a warning away from in the new table
``warning_cap_keys``, so a re-sent original finds it.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add the CAP columns to warnings and create warning_cap_keys."""
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certainty', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('areas', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('created_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revised_at', sa.DateTime(), nullable=True))
    op.create_table('warning_cap_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('identifier', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender', 'identifier', name='uq_warning_cap_key')
    )
    with op.batch_alter_table('warning_cap_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warning_cap_keys_warning_id'), ['warning_id'], unique=False)


def downgrade() -> None:
    """Drop warning_cap_keys and the CAP columns of warnings."""
    with op.batch_alter_table('warning_cap_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warning_cap_keys_warning_id'))
    op.drop_table('warning_cap_keys')
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.drop_column('revised_at')
        batch_op.drop_column('created_at')
        batch_op.drop_column('areas')
        batch_op.drop_column('certainty')
