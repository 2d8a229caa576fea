"""idempotency keys from servicekit replace cart_add_requests

The cart's own key table goes: servicekit.idempotency keeps every create's keys (AddCartItem now,
PlaceOrder next) in one table. Keys in flight at the upgrade are dropped; they only guard retries
of the last day, and a retry after the upgrade adds to the cart once more at worst.

Revision ID: 1d7ae6c8d0fc
Revises: 1ca0d2751df5
Create Date: 2026-11-23 16:05:43.765976
"""
import sqlalchemy as sa
from alembic import op

from servicekit.migration_ops import create_idempotency_table_v1, drop_idempotency_table_v1

revision = '1d7ae6c8d0fc'
down_revision = '1ca0d2751df5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table_v1()
    with op.batch_alter_table('cart_add_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cart_add_requests_created_at'))
    op.drop_table('cart_add_requests')


def downgrade() -> None:
    op.create_table(
        'cart_add_requests',
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('idempotency_key', sa.String(length=128), nullable=False),
        sa.Column('sku_id', sa.String(length=64), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('member_id', 'idempotency_key', name=op.f('pk_cart_add_requests')))
    with op.batch_alter_table('cart_add_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cart_add_requests_created_at'), ['created_at'],
                              unique=False)
    drop_idempotency_table_v1()
