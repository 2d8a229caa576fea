"""profiles (encrypted), addresses, consents, tiers (with the four default tiers), points ledger,
points mall, birthday grants, and the default loyalty settings

Revision ID: 47a6e376921d
Revises: 22ac06d407a6
Create Date: 2026-11-23 16:01:22.128457
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '47a6e376921d'
down_revision = '22ac06d407a6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('addresses',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('payload_enc', sa.Text(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_addresses'))
    )
    with op.batch_alter_table('addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_addresses_member_id'), ['member_id'], unique=False)

    op.create_table('birthday_grants',
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.String(length=36), nullable=False),
    sa.Column('coupon_template_id', sa.String(length=64), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('member_id', 'year', name=op.f('pk_birthday_grants')),
    sa.UniqueConstraint('grant_id', name=op.f('uq_birthday_grants_grant_id'))
    )
    op.create_table('consent_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index('ix_consent_records_member', ['member_id', 'purpose', 'id'], unique=False)

    op.create_table('loyalty_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('earn_unit_fen', sa.BigInteger(), nullable=False),
    sa.Column('earn_points_per_unit', sa.Integer(), nullable=False),
    sa.Column('expire_after_years', sa.Integer(), nullable=False),
    sa.Column('birthday_coupon_template_id', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_settings'))
    )
    op.create_table('mall_items',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('coupon_template_id', sa.String(length=64), nullable=False),
    sa.Column('points_price', sa.BigInteger(), nullable=False),
    sa.Column('stock', sa.BigInteger(), nullable=False),
    sa.Column('per_member_limit', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points_price > 0', name=op.f('ck_mall_items_price_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_mall_items_stock_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mall_items'))
    )
    op.create_table('member_orders',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('paid_fen', sa.BigInteger(), nullable=False),
    sa.Column('refunded_fen', sa.BigInteger(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_refunded_fen', sa.BigInteger(), nullable=False),
    sa.Column('points_earned', sa.BigInteger(), nullable=False),
    sa.Column('points_clawed_back', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_member_orders'))
    )
    with op.batch_alter_table('member_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_orders_member_id'), ['member_id'], unique=False)

    op.create_table('member_profiles',
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('name_enc', sa.Text(), nullable=True),
    sa.Column('phone_enc', sa.Text(), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('birthday_enc', sa.Text(), nullable=True),
    sa.Column('bra_band', sa.Integer(), nullable=True),
    sa.Column('bra_cup', sa.String(length=4), nullable=False),
    sa.Column('bottoms_size', sa.String(length=8), nullable=False),
    sa.Column('birthday_gift_year', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_member_profiles'))
    )
    with op.batch_alter_table('member_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_profiles_phone_hash'), ['phone_hash'], unique=True)

    op.create_table('member_tiers',
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('tier_code', sa.String(length=32), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_member_tiers'))
    )
    op.create_table('points_accounts',
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('earned_total', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_points_accounts_balance_not_negative')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_points_accounts'))
    )
    op.create_table('points_allocations',
    sa.Column('debit_id', sa.BigInteger(), nullable=False),
    sa.Column('lot_id', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('debit_id', 'lot_id', name=op.f('pk_points_allocations'))
    )
    op.create_table('points_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('ref', sa.String(length=80), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('actor', sa.String(length=36), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_entries'))
    )
    with op.batch_alter_table('points_entries', schema=None) as batch_op:
        batch_op.create_index('ix_points_entries_member', ['member_id', 'id'], unique=False)
        batch_op.create_index('ix_points_entries_open_lots', ['expires_at', 'id'], unique=False)
        batch_op.create_index('uq_points_entries_kind_ref', ['kind', 'ref'], unique=True)

    op.create_table('redemptions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('member_id', sa.String(length=36), nullable=False),
    sa.Column('item_id', sa.String(length=36), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('request_key', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions'))
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_member_item', ['member_id', 'item_id'], unique=False)
        batch_op.create_index('uq_redemptions_member_key', ['member_id', 'request_key'], unique=True)

    op.create_table('tiers',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('threshold_kind', sa.String(length=8), nullable=False),
    sa.Column('threshold', sa.BigInteger(), nullable=False),
    sa.Column('discount_percent', sa.Integer(), nullable=False),
    sa.Column('points_multiplier_percent', sa.Integer(), nullable=False),
    sa.Column('free_shipping_threshold_fen', sa.BigInteger(), nullable=False),
    sa.Column('priority_shipping', sa.Boolean(), nullable=False),
    sa.Column('exclusive_service', sa.Boolean(), nullable=False),
    sa.Column('early_access', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('threshold >= 0', name=op.f('ck_tiers_threshold_not_negative')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_tiers')),
    sa.UniqueConstraint('rank', name=op.f('uq_tiers_rank'))
    )
    op.create_table('yearly_reviews',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_yearly_reviews'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('shopping_habits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category_units', sa.JSON(), nullable=True))

    _seed_defaults()


def _seed_defaults() -> None:
    """普通 / 银卡 / 金卡 / 钻石 by completed spend, and "every ¥100 earns 10 points, expiring at
    the end of the following year"; staff change both afterwards."""
    now = datetime.now(timezone.utc)
    tiers = sa.table('tiers', *(sa.column(c) for c in (
        'code', 'name', 'rank', 'threshold_kind', 'threshold', 'discount_percent',
        'points_multiplier_percent', 'free_shipping_threshold_fen', 'priority_shipping',
        'exclusive_service', 'early_access', 'updated_at')))
    op.bulk_insert(tiers, [
        dict(code='standard', name='普通会员', rank=0, threshold_kind='spend', threshold=0,
             discount_percent=100, points_multiplier_percent=100, free_shipping_threshold_fen=0,
             priority_shipping=False, exclusive_service=False, early_access=False, updated_at=now),
        dict(code='silver', name='银卡会员', rank=1, threshold_kind='spend', threshold=100_000,
             discount_percent=98, points_multiplier_percent=120, free_shipping_threshold_fen=29_900,
             priority_shipping=False, exclusive_service=False, early_access=False, updated_at=now),
        dict(code='gold', name='金卡会员', rank=2, threshold_kind='spend', threshold=300_000,
             discount_percent=95, points_multiplier_percent=150, free_shipping_threshold_fen=19_900,
             priority_shipping=True, exclusive_service=False, early_access=True, updated_at=now),
        dict(code='diamond', name='钻石会员', rank=3, threshold_kind='spend', threshold=800_000,
             discount_percent=90, points_multiplier_percent=200, free_shipping_threshold_fen=1,
             priority_shipping=True, exclusive_service=True, early_access=True, updated_at=now),
    ])
    settings = sa.table('loyalty_settings', *(sa.column(c) for c in (
        'id', 'earn_unit_fen', 'earn_points_per_unit', 'expire_after_years',
        'birthday_coupon_template_id', 'updated_at', 'updated_by')))
    op.bulk_insert(settings, [dict(id=1, earn_unit_fen=10_000, earn_points_per_unit=10,
                                   expire_after_years=1, birthday_coupon_template_id='',
                                   updated_at=now, updated_by='')])


def downgrade() -> None:
    with op.batch_alter_table('shopping_habits', schema=None) as batch_op:
        batch_op.drop_column('category_units')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')

    op.drop_table('yearly_reviews')
    op.drop_table('tiers')
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('uq_redemptions_member_key')
        batch_op.drop_index('ix_redemptions_member_item')

    op.drop_table('redemptions')
    with op.batch_alter_table('points_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_points_entries_kind_ref')
        batch_op.drop_index('ix_points_entries_open_lots')
        batch_op.drop_index('ix_points_entries_member')

    op.drop_table('points_entries')
    op.drop_table('points_allocations')
    op.drop_table('points_accounts')
    op.drop_table('member_tiers')
    with op.batch_alter_table('member_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_profiles_phone_hash'))

    op.drop_table('member_profiles')
    with op.batch_alter_table('member_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_orders_member_id'))

    op.drop_table('member_orders')
    op.drop_table('mall_items')
    op.drop_table('loyalty_settings')
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_records_member')

    op.drop_table('consent_records')
    op.drop_table('birthday_grants')
    with op.batch_alter_table('addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_addresses_member_id'))

    op.drop_table('addresses')
