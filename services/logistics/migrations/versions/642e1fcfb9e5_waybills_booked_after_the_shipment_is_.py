"""waybills booked after the shipment is planned

A shipment is written when its order is paid and gets its waybill when the carrier answers (a
worker timer books it), so waybill_no may be empty for a while; booking_error says why it is.

Revision ID: 642e1fcfb9e5
Revises: e6aeb0b56d26
Create Date: 2026-11-23 16:10:35.610570
"""
from alembic import op
import sqlalchemy as sa


revision = '642e1fcfb9e5'
down_revision = 'e6aeb0b56d26'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shipments') as batch_op:  # SQLite rebuilds the table here
        batch_op.add_column(sa.Column('booking_error', sa.String(length=500), server_default='', nullable=False))
        batch_op.alter_column('waybill_no', existing_type=sa.VARCHAR(length=40), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE shipments SET waybill_no = 'UNBOOKED-' || id WHERE waybill_no IS NULL")
    with op.batch_alter_table('shipments') as batch_op:
        batch_op.alter_column('waybill_no', existing_type=sa.VARCHAR(length=40), nullable=False)
        batch_op.drop_column('booking_error')
