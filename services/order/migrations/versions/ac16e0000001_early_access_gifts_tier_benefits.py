"""VIP early access, gifts with purchase, tier benefits: the product read model keeps each
product's early-access rule and trial invitations (early_access.py); gift lines keep their
campaign's terms and what a refund decided (gifts.py), lines count the units given back; orders
carry the member's priority shipping and exclusive service into order.paid

Revision ID: ac16e0000001
Revises: a7c3e5f70b11
Create Date: 2026-12-05 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'ac16e0000001'
down_revision = 'a7c3e5f70b11'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('product_skus', schema=None) as batch_op:
        batch_op.add_column(sa.Column('early_min_rank', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('early_tier_name', sa.String(length=40), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('early_opens_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('early_public_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'trial_invitations',
        sa.Column('product_id', sa.String(length=64), nullable=False),
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('product_id', 'member_id', name=op.f('pk_trial_invitations')))
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_quantity', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('gift_terms', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('gift_outcome', sa.String(length=20), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('gift_deducted_fen', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority_shipping', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('exclusive_service', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('exclusive_service')
        batch_op.drop_column('priority_shipping')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_column('gift_deducted_fen')
        batch_op.drop_column('gift_outcome')
        batch_op.drop_column('gift_terms')
        batch_op.drop_column('refunded_quantity')
    op.drop_table('trial_invitations')
    with op.batch_alter_table('product_skus', schema=None) as batch_op:
        batch_op.drop_column('early_public_at')
        batch_op.drop_column('early_opens_at')
        batch_op.drop_column('early_tier_name')
        batch_op.drop_column('early_min_rank')
