"""stopping the shipments of cancelled or fully refunded orders

Shipments may be cancelled (before they left) or returning (intercepted); what the carrier was
asked and answered is kept on the shipment; goods of a stopped parcel come back on the shelf as
a `return` ledger entry; stopped_orders remembers orders whose parcels must not ship. Existing
rows keep their values (new columns have defaults).

Revision ID: b7c41e0d9a11
Revises: 32e678bb2f31
Create Date: 2026-12-04 21:20:00.000000
"""
from alembic import op
import sqlalchemy as sa



revision = 'b7c41e0d9a11'
down_revision = '32e678bb2f31'
branch_labels = None
depends_on = None

OLD_STATES = ("state IN ('created', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered', "
              "'exception', 'returned')")
NEW_STATES = ("state IN ('created', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered', "
              "'exception', 'returned', 'cancelled', 'returning')")
OLD_KINDS = ("kind IN ('receipt', 'count_correction', 'damage', 'transfer', 'reservation', "
             "'release', 'commit')")
NEW_KINDS = ("kind IN ('receipt', 'count_correction', 'damage', 'transfer', 'reservation', "
             "'release', 'commit', 'return')")


def upgrade() -> None:
    op.create_table(
        'stopped_orders',
        sa.Column('order_id', sa.String(length=64), nullable=False),
        sa.Column('why', sa.String(length=200), nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('order_id', name=op.f('pk_stopped_orders')))
    with op.batch_alter_table('shipments') as batch_op:  # SQLite rebuilds the table here
        batch_op.add_column(sa.Column('stop_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('stop_reason', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('stop_outcome', sa.String(length=30), server_default='', nullable=False))
        batch_op.add_column(sa.Column('stop_error', sa.String(length=500), server_default='', nullable=False))
        batch_op.drop_constraint(op.f('ck_shipments_state_is_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_shipments_state_is_known'), NEW_STATES)
    with op.batch_alter_table('stock_ledger') as batch_op:
        batch_op.drop_constraint(op.f('ck_stock_ledger_kind_is_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_stock_ledger_kind_is_known'), NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM stock_ledger WHERE kind = 'return'")
    op.execute("UPDATE shipments SET state = 'exception' WHERE state IN ('cancelled', 'returning')")
    with op.batch_alter_table('stock_ledger') as batch_op:
        batch_op.drop_constraint(op.f('ck_stock_ledger_kind_is_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_stock_ledger_kind_is_known'), OLD_KINDS)
    with op.batch_alter_table('shipments') as batch_op:
        batch_op.drop_constraint(op.f('ck_shipments_state_is_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_shipments_state_is_known'), OLD_STATES)
        batch_op.drop_column('stop_error')
        batch_op.drop_column('stop_outcome')
        batch_op.drop_column('stop_reason')
        batch_op.drop_column('stop_requested_at')
    op.drop_table('stopped_orders')
