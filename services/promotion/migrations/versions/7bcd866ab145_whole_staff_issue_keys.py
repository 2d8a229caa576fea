"""whole staff issue keys: a coupon issued by staff keeps "staff:<staff id>:<key>:<member id>"

With the kit's 128-character idempotency keys that is up to 6 + 36 + 1 + 128 + 1 + 64 characters:
the column grows to 250 (a longer value was refused by the database). Downgrading cuts longer
values back to 128.

Revision ID: 7bcd866ab145
Revises: 795ca3206b08
Create Date: 2026-12-04 20:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '7bcd866ab145'
down_revision = '795ca3206b08'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('issued_coupons') as batch_op:
        batch_op.alter_column('issue_key', existing_type=sa.String(length=128),
                              type_=sa.String(length=250), existing_nullable=True)


def downgrade() -> None:
    op.execute("UPDATE issued_coupons SET issue_key = substr(issue_key, 1, 128) "
               "WHERE length(issue_key) > 128")
    with op.batch_alter_table('issued_coupons') as batch_op:
        batch_op.alter_column('issue_key', existing_type=sa.String(length=250),
                              type_=sa.String(length=128), existing_nullable=True)
