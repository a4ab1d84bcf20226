"""Residents (群众点单): tracking codes and follows, 回访 answers, the report throttle.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

``resident_tracks`` keeps a tracking link per resident and case (the SHA-256
of its code; the reporter or a follower, 关注; a phone asking for updates),
``resident_feedback`` the 回访 answers after 办结 (and whether one reopened the
case: 返工), ``resident_hits`` the reports and follows counted by the throttle
per client address and per phone. New tables only.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create resident_tracks, resident_feedback and resident_hits."""
    op.create_table('resident_tracks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('code_sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_sha256')
    )
    with op.batch_alter_table('resident_tracks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_tracks_case_id'), ['case_id'], unique=False)
    op.create_table('resident_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('satisfied', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('reopened', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['track_id'], ['resident_tracks.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('resident_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_feedback_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_feedback_track_id'), ['track_id'], unique=False)
    op.create_table('resident_hits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('resident_hits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resident_hits_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_resident_hits_key'), ['key'], unique=False)


def downgrade() -> None:
    """Drop resident_hits, resident_feedback and resident_tracks."""
    with op.batch_alter_table('resident_hits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_hits_key'))
        batch_op.drop_index(batch_op.f('ix_resident_hits_at'))
    op.drop_table('resident_hits')
    with op.batch_alter_table('resident_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_feedback_track_id'))
        batch_op.drop_index(batch_op.f('ix_resident_feedback_case_id'))
    op.drop_table('resident_feedback')
    with op.batch_alter_table('resident_tracks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_tracks_case_id'))
    op.drop_table('resident_tracks')
