"""erased members: who asked for erasure, so late events about them are not stored again

Revision ID: e1a5e0000003
Revises: a1c0e5e71d01
Create Date: 2026-12-04 21:20:00
"""
from servicekit import migration_ops

revision = 'e1a5e0000003'
down_revision = 'a1c0e5e71d01'
branch_labels = None
depends_on = None


def upgrade() -> None:
    migration_ops.create_erased_members_table_v1()


def downgrade() -> None:
    migration_ops.drop_erased_members_table_v1()
