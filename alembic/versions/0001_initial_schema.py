"""Initial schema: the tables township.store.models defined when migrations began (and PostGIS).

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Generated with ``alembic revision --autogenerate`` against an empty SQLite
file, then reviewed. A store made earlier by ``create_all`` has exactly these
tables; ``township.store.engine.migrate`` stamps it at this revision instead of
running it.

On PostgreSQL the PostGIS extension is enabled when the server has it (see
``_enable_postgis``). Nothing in the schema depends on it yet: geometry stays
GeoJSON text and the point-in-grid work stays in numpy/shapely, which meet the
budgets of docs/design.md §4. PostGIS is there for what the database does better
at city scale: a ``geometry(MultiPolygon, 4326)`` column with a GiST index on
grids and ``geometry(Point, 4326)`` on cases and warnings would let the API
answer bounding-box and "within r metres" queries (``ST_DWithin`` on
``geography``) without loading every row, and let other GIS tools (QGIS,
GeoServer) read the store directly.
"""
import logging
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

log = logging.getLogger("alembic.runtime.migration")

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _enable_postgis() -> None:
    """CREATE EXTENSION postgis when the server has it and the role may; else say so and go on."""
    if context.is_offline_mode():
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return
    bind = op.get_bind()
    if not bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").scalar():
        log.warning("PostGIS is not installed on this PostgreSQL server; the store works without it")
        return
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        savepoint.commit()
    except sa.exc.DBAPIError as err:  # e.g. the role may not create extensions
        savepoint.rollback()
        log.warning("PostGIS not enabled (%s); a superuser can run CREATE EXTENSION postgis later",
                    str(err.orig).strip())


def upgrade() -> None:
    """Create every table (and enable PostGIS on PostgreSQL)."""
    if op.get_context().dialect.name == "postgresql":
        _enable_postgis()
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('village_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('token_sha256')
    )
    op.create_table('grids',
    sa.Column('grid_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('properties', sa.Text(), nullable=False),
    sa.Column('geometry', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('grid_id')
    )
    with op.batch_alter_table('grids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grids_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_grids_parent_id'), ['parent_id'], unique=False)

    op.create_table('handlers',
    sa.Column('handler_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('grid_id', sa.String(length=64), nullable=True),
    sa.Column('village_id', sa.String(length=64), nullable=True),
    sa.Column('domains', sa.String(length=200), nullable=False),
    sa.Column('central_household', sa.Boolean(), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('handler_id')
    )
    with op.batch_alter_table('handlers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handlers_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handlers_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_handlers_village_id'), ['village_id'], unique=False)

    op.create_table('meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('village_id', sa.String(length=64), nullable=True),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('handler_id', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('domain', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('max_tier', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('grid_id', sa.String(length=64), nullable=True),
    sa.Column('village_id', sa.String(length=64), nullable=True),
    sa.Column('reporter', sa.String(length=64), nullable=True),
    sa.Column('reporter_phone', sa.String(length=32), nullable=True),
    sa.Column('handler', sa.String(length=64), nullable=True),
    sa.Column('reported_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('deadline_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.grid_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'external_id', name='uq_case_source_external')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_case_reported', ['reported_at'], unique=False)
        batch_op.create_index('ix_case_village_status', ['village_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_domain'), ['domain'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_grid_id'), ['grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_version'), ['version'], unique=False)

    op.create_table('resources',
    sa.Column('resource_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('grid_id', sa.String(length=64), nullable=True),
    sa.Column('contact', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.grid_id'], ),
    sa.PrimaryKeyConstraint('resource_id')
    )
    op.create_table('warnings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('radius_m', sa.Float(), nullable=False),
    sa.Column('grid_id', sa.String(length=64), nullable=True),
    sa.Column('village_id', sa.String(length=64), nullable=True),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.grid_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'external_id', name='uq_warning_source_external')
    )
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warnings_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_warnings_version'), ['version'], unique=False)

    op.create_table('case_assignments',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('handler_id', sa.String(length=64), nullable=True),
    sa.Column('pool_village_id', sa.String(length=64), nullable=True),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('case_id')
    )
    with op.batch_alter_table('case_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_assignments_handler_id'), ['handler_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_assignments_pool_village_id'), ['pool_village_id'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('from_tier', sa.String(length=16), nullable=True),
    sa.Column('to_tier', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('warning_grids',
    sa.Column('warning_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.grid_id'], ),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], ),
    sa.PrimaryKeyConstraint('warning_id', 'grid_id')
    )


def downgrade() -> None:
    """Drop every table (PostGIS stays: other databases' users may rely on it)."""
    op.drop_table('warning_grids')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('case_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_assignments_pool_village_id'))
        batch_op.drop_index(batch_op.f('ix_case_assignments_handler_id'))

    op.drop_table('case_assignments')
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warnings_version'))
        batch_op.drop_index(batch_op.f('ix_warnings_status'))

    op.drop_table('warnings')
    op.drop_table('resources')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_version'))
        batch_op.drop_index(batch_op.f('ix_cases_status'))
        batch_op.drop_index(batch_op.f('ix_cases_grid_id'))
        batch_op.drop_index(batch_op.f('ix_cases_domain'))
        batch_op.drop_index('ix_case_village_status')
        batch_op.drop_index('ix_case_reported')

    op.drop_table('cases')
    op.drop_table('users')
    op.drop_table('meta')
    with op.batch_alter_table('handlers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handlers_village_id'))
        batch_op.drop_index(batch_op.f('ix_handlers_kind'))
        batch_op.drop_index(batch_op.f('ix_handlers_grid_id'))

    op.drop_table('handlers')
    with op.batch_alter_table('grids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grids_parent_id'))
        batch_op.drop_index(batch_op.f('ix_grids_level'))

    op.drop_table('grids')
    op.drop_table('api_tokens')
