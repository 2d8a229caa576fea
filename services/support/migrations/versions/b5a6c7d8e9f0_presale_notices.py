"""pre-sale notices: order_deposit_paid (the deposit is in, when the balance opens) and
order_balance_due (the balance window opened)

Revision ID: b5a6c7d8e9f0
Revises: 7f00483478d9
Create Date: 2026-12-05 00:40:00
"""
from alembic import op

revision = 'b5a6c7d8e9f0'
down_revision = '7f00483478d9'
branch_labels = None
depends_on = None

OLD = ("order_created", "order_paid", "order_cancelled", "order_partly_shipped", "order_shipped",
       "order_delivered", "order_completed", "order_refunded", "coupon_expiring",
       "order_partly_refunded", "points_redemption_failed")
NEW = OLD + ("order_deposit_paid", "order_balance_due")


def _kinds(kinds) -> str:
    return f"kind IN ({', '.join(repr(k) for k in kinds)})"


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(NEW))


def downgrade() -> None:
    op.execute(f"DELETE FROM notifications WHERE NOT ({_kinds(OLD)})")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(OLD))
