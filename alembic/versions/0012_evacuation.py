"""Evacuation (转移安置): tables households, shelters, evacuations, evacuation_households,
evacuation_events, roster_reads.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

A village's register of households (people, flags for those who need help to
move, the 包保 helper), the capacity of shelters (resources of kind
``shelter``), the evacuations started on warnings with their rosters and each
household's audited steps, and the log of who read a roster with people in it.
New tables only, so a store made before only gains tables.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the evacuation tables."""
    op.create_table('households',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('household_no', sa.String(length=64), nullable=False),
    sa.Column('village_id', sa.String(length=64), nullable=True),
    sa.Column('grid_id', sa.String(length=64), nullable=True),
    sa.Column('she', sa.String(length=64), nullable=False),
    sa.Column('head', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('flags', sa.String(length=200), nullable=False),
    sa.Column('helper_id', sa.String(length=64), nullable=True),
    sa.Column('backup_id', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('household_no')
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_households_backup_id'), ['backup_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_helper_id'), ['helper_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_households_village_id'), ['village_id'], unique=False)

    op.create_table('roster_reads',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('roster_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_reads_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_roster_reads_warning_id'), ['warning_id'], unique=False)

    op.create_table('evacuations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('started_by', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('warning_id')
    )
    with op.batch_alter_table('evacuations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evacuations_version'), ['version'], unique=False)

    op.create_table('shelters',
    sa.Column('resource_id', sa.String(length=64), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('offers', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.resource_id'], ),
    sa.PrimaryKeyConstraint('resource_id')
    )
    op.create_table('evacuation_households',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('evacuation_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('shelter_id', sa.String(length=64), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['evacuation_id'], ['evacuations.id'], ),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('evacuation_id', 'household_id', name='uq_evacuation_household')
    )
    with op.batch_alter_table('evacuation_households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evacuation_households_evacuation_id'), ['evacuation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evacuation_households_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evacuation_households_version'), ['version'], unique=False)

    op.create_table('evacuation_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['evacuation_households.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evacuation_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evacuation_events_entry_id'), ['entry_id'], unique=False)



def downgrade() -> None:
    """Drop the evacuation tables."""
    with op.batch_alter_table('evacuation_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evacuation_events_entry_id'))

    op.drop_table('evacuation_events')
    with op.batch_alter_table('evacuation_households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evacuation_households_version'))
        batch_op.drop_index(batch_op.f('ix_evacuation_households_household_id'))
        batch_op.drop_index(batch_op.f('ix_evacuation_households_evacuation_id'))

    op.drop_table('evacuation_households')
    op.drop_table('shelters')
    with op.batch_alter_table('evacuations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evacuations_version'))

    op.drop_table('evacuations')
    with op.batch_alter_table('roster_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_reads_warning_id'))
        batch_op.drop_index(batch_op.f('ix_roster_reads_at'))

    op.drop_table('roster_reads')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_households_village_id'))
        batch_op.drop_index(batch_op.f('ix_households_helper_id'))
        batch_op.drop_index(batch_op.f('ix_households_grid_id'))
        batch_op.drop_index(batch_op.f('ix_households_backup_id'))

    op.drop_table('households')
