"""sales: the `sale` campaign kind, several session weekdays, stacking settings

Campaigns gain `weekdays` (several session days; empty keeps `weekday`'s meaning; their
`version` came with the edits revision before this one). `stacking_settings` holds the merchant's stacking rules (one row, absent until staff
set them).

Revision ID: a3c5e7f90b12
Revises: d86a8fbd681a
Create Date: 2026-12-04 23:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = 'a3c5e7f90b12'
down_revision = 'd86a8fbd681a'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('flash_sale', 'threshold', 'gift', 'presale')"
NEW_KINDS = "kind IN ('flash_sale', 'threshold', 'gift', 'presale', 'sale')"


def upgrade() -> None:
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.add_column(sa.Column('weekdays', sa.JSON(), server_default='[]', nullable=False))
        batch_op.drop_constraint(op.f('ck_campaigns_kind_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_campaigns_kind_known'), NEW_KINDS)
    op.create_table(
        'stacking_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_discount_on_sale_items', sa.Boolean(), nullable=False),
        sa.Column('threshold_on_sale_items', sa.Boolean(), nullable=False),
        sa.Column('coupons_on_sale_items', sa.Boolean(), nullable=False),
        sa.Column('points_on_sale_items', sa.Boolean(), nullable=False),
        sa.Column('floor_percent', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('floor_percent BETWEEN 0 AND 100',
                           name=op.f('ck_stacking_settings_floor_range')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stacking_settings')))


def downgrade() -> None:
    op.drop_table('stacking_settings')
    op.execute("UPDATE campaigns SET status = 'ended' WHERE kind = 'sale'")
    op.execute("DELETE FROM campaign_quotas WHERE campaign_id IN "
               "(SELECT id FROM campaigns WHERE kind = 'sale')")
    op.execute("DELETE FROM member_quota_usage WHERE campaign_id IN "
               "(SELECT id FROM campaigns WHERE kind = 'sale')")
    op.execute("DELETE FROM campaigns WHERE kind = 'sale'")
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.drop_constraint(op.f('ck_campaigns_kind_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_campaigns_kind_known'), OLD_KINDS)
        batch_op.drop_column('weekdays')
