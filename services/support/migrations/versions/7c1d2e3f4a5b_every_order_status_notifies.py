"""every order status the shopper hears about is a notice kind

Revision ID: 7c1d2e3f4a5b
Revises: 5ef15de6700c
Create Date: 2026-11-23 16:30:00
"""
from alembic import op

revision = '7c1d2e3f4a5b'
down_revision = '5ef15de6700c'
branch_labels = None
depends_on = None

OLD = ("order_paid", "order_cancelled")
NEW = ("order_created", "order_paid", "order_cancelled", "order_partly_shipped", "order_shipped",
       "order_delivered", "order_completed", "order_refunded")


def _kinds(kinds) -> str:
    return f"kind IN ({', '.join(repr(k) for k in kinds)})"


def upgrade() -> None:
    # batch mode: SQLite cannot alter a constraint in place, so the table is copied.
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(NEW))


def downgrade() -> None:
    op.execute(f"DELETE FROM notifications WHERE NOT ({_kinds(OLD)})")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notifications_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', _kinds(OLD))
