"""after-sales returns: return expectations (booked, inspected), quarantined stock per warehouse
and SKU with its ledger figures, exchange shipments linked to their request, returned parcels
put back on the shelf once

Revision ID: d5a7e0000017
Revises: ac16e0000002
Create Date: 2026-12-05 00:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'd5a7e0000017'
down_revision = 'ac16e0000002'
branch_labels = None
depends_on = None

OLD_KINDS = ("kind IN ('receipt', 'count_correction', 'damage', 'transfer', 'reservation', "
             "'release', 'commit', 'return')")
NEW_KINDS = ("kind IN ('receipt', 'count_correction', 'damage', 'transfer', 'reservation', "
             "'release', 'commit', 'return', 'quarantine')")


def upgrade() -> None:
    op.create_table(
        'return_expectations',
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('order_id', sa.String(length=64), nullable=False),
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('lines', sa.JSON(), nullable=False),
        sa.Column('warehouse_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('free_return_shipping', sa.Boolean(), nullable=False),
        sa.Column('return_by', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('carrier', sa.String(length=20), server_default='', nullable=False),
        sa.Column('waybill_no', sa.String(length=40), server_default='', nullable=False),
        sa.Column('own_waybill', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('booked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('inspection', sa.JSON(), server_default='{}', nullable=False),
        sa.Column('exchange_status', sa.String(length=12), server_default='', nullable=False),
        sa.Column('exchange_shipment_id', sa.String(length=40), server_default='', nullable=False),
        sa.Column('closed_reason', sa.String(length=200), server_default='', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('expected', 'booked', 'inspected', 'closed')",
                           name=op.f('ck_return_expectations_status_is_known')),
        sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'],
                                name=op.f('fk_return_expectations_warehouse_id_warehouses')),
        sa.PrimaryKeyConstraint('request_id', name=op.f('pk_return_expectations')))
    op.create_index(op.f('ix_return_expectations_order_id'), 'return_expectations', ['order_id'])
    op.create_index(op.f('ix_return_expectations_member_id'), 'return_expectations', ['member_id'])
    op.create_index('ix_return_expectations_status', 'return_expectations', ['status', 'created_at'])
    with op.batch_alter_table('stock') as batch_op:
        batch_op.add_column(sa.Column('quarantined', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_stock_quarantined_not_negative'), 'quarantined >= 0')
    with op.batch_alter_table('stock_ledger') as batch_op:
        batch_op.add_column(sa.Column('quarantine_change', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('quarantined_after', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.drop_constraint(op.f('ck_stock_ledger_kind_is_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_stock_ledger_kind_is_known'), NEW_KINDS)
        batch_op.drop_constraint(op.f('ck_stock_ledger_changes_something'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_stock_ledger_changes_something'),
            'quantity <> 0 OR reserved_change <> 0 OR quarantine_change <> 0')
    with op.batch_alter_table('shipments') as batch_op:
        batch_op.add_column(sa.Column('aftersale_request_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('restocked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(op.f('ix_shipments_aftersale_request_id'), ['aftersale_request_id'])


def downgrade() -> None:
    with op.batch_alter_table('shipments') as batch_op:
        batch_op.drop_index(op.f('ix_shipments_aftersale_request_id'))
        batch_op.drop_column('restocked_at')
        batch_op.drop_column('aftersale_request_id')
    op.execute("DELETE FROM stock_ledger WHERE kind = 'quarantine'")
    with op.batch_alter_table('stock_ledger') as batch_op:
        batch_op.drop_constraint(op.f('ck_stock_ledger_changes_something'), type_='check')
        batch_op.create_check_constraint(op.f('ck_stock_ledger_changes_something'),
                                         'quantity <> 0 OR reserved_change <> 0')
        batch_op.drop_constraint(op.f('ck_stock_ledger_kind_is_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_stock_ledger_kind_is_known'), OLD_KINDS)
        batch_op.drop_column('quarantined_after')
        batch_op.drop_column('quarantine_change')
    with op.batch_alter_table('stock') as batch_op:
        batch_op.drop_constraint(op.f('ck_stock_quarantined_not_negative'), type_='check')
        batch_op.drop_column('quarantined')
    op.drop_index('ix_return_expectations_status', table_name='return_expectations')
    op.drop_index(op.f('ix_return_expectations_member_id'), table_name='return_expectations')
    op.drop_index(op.f('ix_return_expectations_order_id'), table_name='return_expectations')
    op.drop_table('return_expectations')
