"""points redemption notices: a redemption id in the notice's key, and the
points_redemption_failed kind (the points of a redemption that could not be delivered came back)

Revision ID: ae4f5a6b7c8d
Revises: e1a5e0000003
Create Date: 2026-12-04 21:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'ae4f5a6b7c8d'
down_revision = 'e1a5e0000003'
branch_labels = None
depends_on = None

OLD = ("order_created", "order_paid", "order_cancelled", "order_partly_shipped", "order_shipped",
       "order_delivered", "order_completed", "order_refunded", "coupon_expiring",
       "order_partly_refunded")
NEW = OLD + ("points_redemption_failed",)


def _kinds(kinds) -> str:
    return f"kind IN ({', '.join(repr(k) for k in kinds)})"


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redemption_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            op.f('uq_notifications_member_id_kind_redemption_id'),
            ['member_id', 'kind', 'redemption_id'])
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(NEW))


def downgrade() -> None:
    op.execute(f"DELETE FROM notifications WHERE NOT ({_kinds(OLD)})")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(OLD))
        batch_op.drop_constraint(op.f('uq_notifications_member_id_kind_redemption_id'),
                                 type_='unique')
        batch_op.drop_column('redemption_id')
