"""members' consents, from member.consent_changed (servicekit.consents)

Revision ID: b7d2c4e9a310
Revises: c58e017a3c1f
Create Date: 2026-12-04 21:25:00
"""
from alembic import op

from servicekit import migration_ops

revision = 'b7d2c4e9a310'
down_revision = 'c58e017a3c1f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: no member has consented to analytics until member says so (opt-in; the
    # purpose is new, so nobody has yet). The facts stored before keep every row, without the
    # member id none of them had consent to keep.
    migration_ops.create_consents_table_v1()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE facts SET data = data - 'memberId' - 'member_id' "
                   "WHERE data ? 'memberId' OR data ? 'member_id'")
    else:
        op.execute("UPDATE facts SET data = json_remove(data, '$.memberId', '$.member_id') "
                   "WHERE json_type(data, '$.memberId') IS NOT NULL "
                   "OR json_type(data, '$.member_id') IS NOT NULL")


def downgrade() -> None:
    migration_ops.drop_consents_table_v1()
