"""partial refund notices: a refund id in the notice's key, and the order_partly_refunded kind

Revision ID: 9e3f4a5b6c7d
Revises: 8d2e3f4a5b6c
Create Date: 2026-12-04 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '9e3f4a5b6c7d'
down_revision = '8d2e3f4a5b6c'
branch_labels = None
depends_on = None

OLD = ("order_created", "order_paid", "order_cancelled", "order_partly_shipped", "order_shipped",
       "order_delivered", "order_completed", "order_refunded", "coupon_expiring")
NEW = OLD + ("order_partly_refunded",)


def _kinds(kinds) -> str:
    return f"kind IN ({', '.join(repr(k) for k in kinds)})"


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_id', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.drop_constraint(op.f('uq_notifications_member_id'), type_='unique')
        batch_op.create_unique_constraint(
            op.f('uq_notifications_member_id_kind_order_id_refund_id'),
            ['member_id', 'kind', 'order_id', 'refund_id'])
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(NEW))


def downgrade() -> None:
    op.execute(f"DELETE FROM notifications WHERE NOT ({_kinds(OLD)})")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(OLD))
        batch_op.drop_constraint(op.f('uq_notifications_member_id_kind_order_id_refund_id'),
                                 type_='unique')
        batch_op.create_unique_constraint(op.f('uq_notifications_member_id'),
                                          ['member_id', 'kind', 'order_id'])
        batch_op.drop_column('refund_id')
