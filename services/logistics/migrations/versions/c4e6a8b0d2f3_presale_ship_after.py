"""a pre-sale's parcels wait for its release date: shipments keep `ship_after` (order.paid's
ships_from) and the booking timer leaves them until then

Revision ID: c4e6a8b0d2f3
Revises: b7c8d9e0f1a2
Create Date: 2026-12-05 00:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c4e6a8b0d2f3'
down_revision = 'b7c8d9e0f1a2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ship_after', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_column('ship_after')
