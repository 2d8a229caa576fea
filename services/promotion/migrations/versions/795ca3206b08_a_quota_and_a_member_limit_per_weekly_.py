"""a quota and a member limit per weekly flash-sale session

A weekly flash sale's quota and per-member limit start afresh every session: both tables gain a
`session_key` (the session's date in Beijing; empty for campaigns without a weekly session) in
their primary key. Existing rows keep the empty key, their meaning until now.

Revision ID: 795ca3206b08
Revises: 7ea987a55647
Create Date: 2026-11-23 16:28:55.623569
"""
from alembic import op
import sqlalchemy as sa


revision = '795ca3206b08'
down_revision = '7ea987a55647'
branch_labels = None
depends_on = None

KEYS = {'campaign_quotas': ['campaign_id', 'sku_id'],
        'member_quota_usage': ['campaign_id', 'member_id']}


def upgrade() -> None:
    # Batch mode: SQLite (make run) rebuilds the table to change its primary key.
    for table, columns in KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('session_key', sa.String(length=10), server_default='',
                                       nullable=False))
            batch.drop_constraint(f'pk_{table}', type_='primary')
            batch.create_primary_key(f'pk_{table}', columns + ['session_key'])


def downgrade() -> None:
    # Per-session rows fold back into one row per campaign and SKU (or member) before the key
    # loses its session.
    op.execute("DELETE FROM campaign_quotas WHERE session_key <> ''")
    op.execute("DELETE FROM member_quota_usage WHERE session_key <> ''")
    for table, columns in KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'pk_{table}', type_='primary')
            batch.create_primary_key(f'pk_{table}', columns)
            batch.drop_column('session_key')
