"""Where a reporter says a case is and its photo: columns cases.address and cases.media_url.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Open311 clients send ``address_string`` and ``media_url`` with a request and
read them back as ``address`` and ``media_url`` (GeoReport v2). Two nullable
columns: a store made before keeps every case, with neither set.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add cases.address and cases.media_url."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('media_url', sa.String(length=500), nullable=True))


def downgrade() -> None:
    """Drop cases.address and cases.media_url."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('media_url')
        batch_op.drop_column('address')
