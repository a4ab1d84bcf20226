"""Versions of the grid set: table grid_versions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

The admin page checks an uploaded grid file and keeps it as a version (its
FeatureCollection, digest, who and when, a note); applying a version makes it
the one ``active`` and the grids in use, and any earlier version can be put
back the same way (``township.loop.gridversions``). A new table, so a store
made before only gains a table.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create grid_versions."""
    op.create_table('grid_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('geojson', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('applied_at', sa.DateTime(), nullable=True),
    sa.Column('applied_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('grid_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_versions_digest'), ['digest'], unique=False)


def downgrade() -> None:
    """Drop grid_versions."""
    with op.batch_alter_table('grid_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_versions_digest'))
    op.drop_table('grid_versions')
