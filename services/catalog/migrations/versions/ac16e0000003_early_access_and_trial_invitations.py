"""VIP early access: a product's early-access rule (tier rank from a time, everyone later) and
the members invited to its trial

Revision ID: ac16e0000003
Revises: 6be1eada0a59
Create Date: 2026-12-05 00:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'ac16e0000003'
down_revision = '6be1eada0a59'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('early_min_rank', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('early_tier_name', sa.String(length=40), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('early_opens_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('early_public_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'trial_invitations',
        sa.Column('product_id', sa.String(length=36), nullable=False),
        sa.Column('member_id', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=80), nullable=False),
        sa.Column('invited_by', sa.String(length=64), nullable=False),
        sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'],
                                name=op.f('fk_trial_invitations_product_id_products')),
        sa.PrimaryKeyConstraint('product_id', 'member_id', name=op.f('pk_trial_invitations')))


def downgrade() -> None:
    op.drop_table('trial_invitations')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('early_public_at')
        batch_op.drop_column('early_opens_at')
        batch_op.drop_column('early_tier_name')
        batch_op.drop_column('early_min_rank')
