"""members' consents, from member.consent_changed (servicekit.consents)

Revision ID: a1c0e5e71d01
Revises: 9e3f4a5b6c7d
Create Date: 2026-12-04 21:20:00
"""
from servicekit import migration_ops

revision = 'a1c0e5e71d01'
down_revision = '9e3f4a5b6c7d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: nobody has consented until member says so (opt-in).
    migration_ops.create_consents_table_v1()


def downgrade() -> None:
    migration_ops.drop_consents_table_v1()
