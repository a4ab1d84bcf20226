"""A responder API token acts as one handler: table api_token_handlers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

The closed loop's moves over the API (``POST /api/v1/cases/{id}/{move}``)
need to know which handler a ``responder`` token stands for; a new table,
so a store made before only gains a table (``township.store.models.TokenHandler``).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create api_token_handlers."""
    op.create_table('api_token_handlers',
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('handler_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], ),
    sa.PrimaryKeyConstraint('token_id')
    )


def downgrade() -> None:
    """Drop api_token_handlers."""
    op.drop_table('api_token_handlers')
