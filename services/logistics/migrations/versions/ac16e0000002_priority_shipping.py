"""priority shipping: a parcel of a member whose tier gives priority shipping is picked and booked
before the others (the booking queue orders by it), with the warehouse's fastest carrier

Revision ID: ac16e0000002
Revises: c4e6a8b0d2f3
Create Date: 2026-12-05 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'ac16e0000002'
down_revision = 'c4e6a8b0d2f3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_column('priority')
