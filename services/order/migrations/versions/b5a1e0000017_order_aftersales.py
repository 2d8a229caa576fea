"""order_aftersales: after-sale requests on orders, from support's aftersale.* events;
order_refunds_applied: payment.refunded's refunds counted once each, in any order

Revision ID: b5a1e0000017
Revises: ac16e0000001
Create Date: 2026-12-05 00:40:00
"""
import sqlalchemy as sa
from alembic import op


revision = 'b5a1e0000017'
down_revision = 'ac16e0000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'order_aftersales',
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('order_id', sa.String(length=64), nullable=False),
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('reason_code', sa.String(length=40), nullable=False),
        sa.Column('lines', sa.JSON(), nullable=False),
        sa.Column('refund_fen', sa.BigInteger(), nullable=False),
        sa.Column('refunded_fen', sa.BigInteger(), nullable=False),
        sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('request_id'),
    )
    op.create_index('ix_order_aftersales_order_id', 'order_aftersales', ['order_id'])
    op.create_table(
        'order_refunds_applied',
        sa.Column('refund_id', sa.String(length=64), nullable=False),
        sa.Column('order_id', sa.String(length=64), nullable=False),
        sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('refund_id'),
    )
    op.create_index('ix_order_refunds_applied_order_id', 'order_refunds_applied', ['order_id'])


def downgrade() -> None:
    op.drop_index('ix_order_refunds_applied_order_id', table_name='order_refunds_applied')
    op.drop_table('order_refunds_applied')
    op.drop_index('ix_order_aftersales_order_id', table_name='order_aftersales')
    op.drop_table('order_aftersales')
