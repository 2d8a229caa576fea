"""whole idempotency keys: points adjustments and redemptions keep the kit's 128-character keys

A points adjustment keeps "<staff id>:<key>" as its entry's ref (up to 36 + 1 + 128 characters),
and a redemption its key (up to 128): both columns were too short, so keys were cut and two
different keys sharing a prefix counted as one. Downgrading cuts longer values back to 80.

Revision ID: c7a69e7d81ab
Revises: 5c1e0a9b7d21
Create Date: 2026-12-04 20:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = 'c7a69e7d81ab'
down_revision = '5c1e0a9b7d21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('points_entries') as batch_op:
        batch_op.alter_column('ref', existing_type=sa.String(length=80), type_=sa.String(length=200),
                              existing_nullable=True)
    with op.batch_alter_table('redemptions') as batch_op:
        batch_op.alter_column('request_key', existing_type=sa.String(length=80),
                              type_=sa.String(length=128), existing_nullable=True)


def downgrade() -> None:
    op.execute("UPDATE points_entries SET ref = substr(ref, 1, 80) WHERE length(ref) > 80")
    op.execute("UPDATE redemptions SET request_key = substr(request_key, 1, 80) "
               "WHERE length(request_key) > 80")
    with op.batch_alter_table('redemptions') as batch_op:
        batch_op.alter_column('request_key', existing_type=sa.String(length=128),
                              type_=sa.String(length=80), existing_nullable=True)
    with op.batch_alter_table('points_entries') as batch_op:
        batch_op.alter_column('ref', existing_type=sa.String(length=200), type_=sa.String(length=80),
                              existing_nullable=True)
