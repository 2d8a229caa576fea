"""gift shipments: a parcel may ship a points-mall gift (redemption_id set, order_id empty)

Revision ID: b7c8d9e0f1a2
Revises: e1a5e0000002
Create Date: 2026-12-04 21:15:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'b7c8d9e0f1a2'
down_revision = 'e1a5e0000002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redemption_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_shipments_redemption_id'), ['redemption_id'])


def downgrade() -> None:
    op.execute("DELETE FROM tracking_events WHERE shipment_id IN "
               "(SELECT id FROM shipments WHERE redemption_id IS NOT NULL)")
    op.execute("DELETE FROM shipments WHERE redemption_id IS NOT NULL")
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipments_redemption_id'))
        batch_op.drop_column('redemption_id')
