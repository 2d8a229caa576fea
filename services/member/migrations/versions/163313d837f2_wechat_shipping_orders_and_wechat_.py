"""wechat_shipping_orders and wechat_shipping_calls: WeChat's shipping-info uploads and receipt reminders

Revision ID: 163313d837f2
Revises: c7a69e7d81ab
Create Date: 2026-12-04 21:07:04.408192
"""
from alembic import op
import sqlalchemy as sa


revision = '163313d837f2'
down_revision = 'c7a69e7d81ab'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wechat_shipping_calls',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('waybill_no', sa.String(length=64), nullable=False),
    sa.Column('carrier', sa.String(length=16), nullable=False),
    sa.Column('shipment_id', sa.String(length=64), nullable=False),
    sa.Column('item_desc', sa.String(length=512), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('calls', sa.Integer(), nullable=False),
    sa.Column('last_errcode', sa.Integer(), nullable=True),
    sa.Column('last_errmsg', sa.String(length=256), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('upload', 'confirm')", name=op.f('ck_wechat_shipping_calls_wechat_shipping_call_kind')),
    sa.CheckConstraint("status IN ('pending', 'sending', 'done', 'failed', 'skipped')", name=op.f('ck_wechat_shipping_calls_wechat_shipping_call_status')),
    sa.PrimaryKeyConstraint('order_id', 'kind', 'waybill_no', name=op.f('pk_wechat_shipping_calls'))
    )
    with op.batch_alter_table('wechat_shipping_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechat_shipping_calls_status'), ['status'], unique=False)

    op.create_table('wechat_shipping_orders',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('payment_method', sa.String(length=32), nullable=False),
    sa.Column('transaction_id', sa.String(length=64), nullable=True),
    sa.Column('shipment_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_wechat_shipping_orders'))
    )


def downgrade() -> None:
    op.drop_table('wechat_shipping_orders')
    with op.batch_alter_table('wechat_shipping_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_shipping_calls_status'))

    op.drop_table('wechat_shipping_calls')
