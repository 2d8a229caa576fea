"""coupon notices: a coupon id beside the order id, and the coupon_expiring kind

Revision ID: 8d2e3f4a5b6c
Revises: 7c1d2e3f4a5b
Create Date: 2026-11-23 16:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '8d2e3f4a5b6c'
down_revision = '7c1d2e3f4a5b'
branch_labels = None
depends_on = None

OLD = ("order_created", "order_paid", "order_cancelled", "order_partly_shipped", "order_shipped",
       "order_delivered", "order_completed", "order_refunded")
NEW = OLD + ("coupon_expiring",)


def _kinds(kinds) -> str:
    return f"kind IN ({', '.join(repr(k) for k in kinds)})"


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coupon_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_notifications_member_id_kind_coupon_id'),
                                          ['member_id', 'kind', 'coupon_id'])
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(NEW))


def downgrade() -> None:
    op.execute(f"DELETE FROM notifications WHERE NOT ({_kinds(OLD)})")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(OLD))
        batch_op.drop_constraint(op.f('uq_notifications_member_id_kind_coupon_id'), type_='unique')
        batch_op.drop_column('coupon_id')
