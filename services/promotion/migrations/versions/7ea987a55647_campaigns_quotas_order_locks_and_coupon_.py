"""campaigns, their quotas, per-member counters, order locks, and the coupon lifecycle columns

Revision ID: 7ea987a55647
Revises: f52fae8a5daa
Create Date: 2026-11-23 16:09:27.739067
"""
from alembic import op
import sqlalchemy as sa


revision = '7ea987a55647'
down_revision = 'f52fae8a5daa'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('session_start_minute', sa.Integer(), nullable=False),
    sa.Column('session_end_minute', sa.Integer(), nullable=False),
    sa.Column('per_member_limit', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('category_ids', sa.JSON(), nullable=False),
    sa.Column('product_ids', sa.JSON(), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=False),
    sa.CheckConstraint("kind IN ('flash_sale', 'threshold', 'gift', 'presale')", name=op.f('ck_campaigns_kind_known')),
    sa.CheckConstraint("scope IN ('all', 'categories', 'products')", name=op.f('ck_campaigns_scope_known')),
    sa.CheckConstraint("status IN ('active', 'ended')", name=op.f('ck_campaigns_status_known')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_campaigns_ends_after_start')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 7', name=op.f('ck_campaigns_weekday_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('created_by', 'idempotency_key', name=op.f('uq_campaigns_created_by'))
    )
    op.create_index('ix_campaigns_status_ends_at', 'campaigns', ['status', 'ends_at'], unique=False)
    op.create_table('order_locks',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('coupon_ids', sa.JSON(), nullable=False),
    sa.Column('flash_lines', sa.JSON(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=False),
    sa.CheckConstraint("status IN ('locked', 'consumed', 'released')", name=op.f('ck_order_locks_status_known')),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_locks'))
    )
    op.create_index('ix_order_locks_status_expires_at', 'order_locks', ['status', 'expires_at'], unique=False)
    op.create_table('campaign_quotas',
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sku_id', sa.String(length=64), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('taken', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('taken >= 0 AND taken <= total', name=op.f('ck_campaign_quotas_within_total')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_quotas_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('campaign_id', 'sku_id', name=op.f('pk_campaign_quotas'))
    )
    op.create_table('member_coupon_counts',
    sa.Column('template_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.CheckConstraint('issued >= 0', name=op.f('ck_member_coupon_counts_non_negative')),
    sa.ForeignKeyConstraint(['template_id'], ['coupon_templates.id'], name=op.f('fk_member_coupon_counts_template_id_coupon_templates')),
    sa.PrimaryKeyConstraint('template_id', 'member_id', name=op.f('pk_member_coupon_counts'))
    )
    op.create_table('member_quota_usage',
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('used', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('used >= 0', name=op.f('ck_member_quota_usage_non_negative')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_member_quota_usage_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('campaign_id', 'member_id', name=op.f('pk_member_quota_usage'))
    )
    # Batch mode: SQLite (make run) cannot add constraints to an existing table in place.
    with op.batch_alter_table('coupon_templates') as batch:
        batch.add_column(sa.Column('claimable', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('issued_coupons') as batch:
        batch.add_column(sa.Column('source', sa.String(length=12), server_default='claim', nullable=False))
        batch.add_column(sa.Column('source_ref', sa.String(length=64), server_default='', nullable=False))
        batch.add_column(sa.Column('issue_key', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('revoked_reason', sa.String(length=200), server_default='', nullable=False))
        batch.create_index('ix_issued_coupons_status_valid_until', ['status', 'valid_until'], unique=False)
        batch.create_unique_constraint(op.f('uq_issued_coupons_issue_key'), ['issue_key'])
        batch.create_check_constraint(op.f('ck_issued_coupons_source_known'),
                                      "source IN ('claim', 'staff', 'points', 'birthday')")

def downgrade() -> None:
    with op.batch_alter_table('issued_coupons') as batch:
        batch.drop_constraint(op.f('ck_issued_coupons_source_known'), type_='check')
        batch.drop_constraint(op.f('uq_issued_coupons_issue_key'), type_='unique')
        batch.drop_index('ix_issued_coupons_status_valid_until')
        for column in ('revoked_reason', 'reminded_at', 'issue_key', 'source_ref', 'source'):
            batch.drop_column(column)
    with op.batch_alter_table('coupon_templates') as batch:
        batch.drop_column('claimable')
    op.drop_table('member_quota_usage')
    op.drop_table('member_coupon_counts')
    op.drop_table('campaign_quotas')
    op.drop_index('ix_order_locks_status_expires_at', table_name='order_locks')
    op.drop_table('order_locks')
    op.drop_index('ix_campaigns_status_ends_at', table_name='campaigns')
    op.drop_table('campaigns')
