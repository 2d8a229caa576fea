"""drop the indexes a unique key already covers: orders.member_id (uq member_id,
idempotency_key), order_lines.order_id (uq order_id, line_no), cart_items.member_id (uq member_id,
sku_id). Each was one more index to write per order, line or cart row (an import writes 150,000
of them) and found nothing the unique key's index does not.

Revision ID: 7e1f2a3b4c5d
Revises: 5b706d32b776
Create Date: 2026-12-04 10:25:00
"""
from alembic import op

revision = '7e1f2a3b4c5d'
down_revision = '5b706d32b776'
branch_labels = None
depends_on = None

COVERED = (("ix_orders_member_id", "orders", "member_id"),
           ("ix_order_lines_order_id", "order_lines", "order_id"),
           ("ix_cart_items_member_id", "cart_items", "member_id"))


def upgrade() -> None:
    for index, table, _ in COVERED:
        op.drop_index(index, table_name=table)


def downgrade() -> None:
    for index, table, column in COVERED:
        op.create_index(index, table, [column], unique=False)
