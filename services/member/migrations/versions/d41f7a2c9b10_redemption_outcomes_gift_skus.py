"""redemption outcomes and gift SKUs: a redemption is pending until its coupon is issued or its
gift shipped (fulfilled), or that failed and its points went back (failed); a gift item names the
SKU logistics ships, a gift redemption the member's address id it ships to

Existing redemptions become pending: a coupon.issue_failed still to come (or replayed from the
dead letters) for one of them gives its points back.

Revision ID: d41f7a2c9b10
Revises: 163313d837f2
Create Date: 2026-12-04 21:20:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = 'd41f7a2c9b10'
down_revision = '163313d837f2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mall_items') as batch_op:
        batch_op.add_column(sa.Column('gift_sku_id', sa.String(length=64), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('redemptions') as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                      server_default='pending'))
        batch_op.add_column(sa.Column('failed_reason', sa.String(length=32), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('address_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_redemptions_redemption_status_known'),
            "status IN ('pending', 'fulfilled', 'failed')")


def downgrade() -> None:
    with op.batch_alter_table('redemptions') as batch_op:
        batch_op.drop_constraint(op.f('ck_redemptions_redemption_status_known'), type_='check')
        batch_op.drop_column('settled_at')
        batch_op.drop_column('address_id')
        batch_op.drop_column('failed_reason')
        batch_op.drop_column('status')
    with op.batch_alter_table('mall_items') as batch_op:
        batch_op.drop_column('gift_sku_id')
