"""sale_campaigns: the read model of promotion's sales (campaign.changed), for sale prices

Revision ID: b8d2c4e6a1f3
Revises: ac16e0000003
Create Date: 2026-12-04 23:55:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = 'b8d2c4e6a1f3'
down_revision = 'ac16e0000003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sale_campaigns',
        sa.Column('campaign_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('terms', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_sale_campaigns')))
    op.create_index(op.f('ix_sale_campaigns_ends_at'), 'sale_campaigns', ['ends_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sale_campaigns_ends_at'), table_name='sale_campaigns')
    op.drop_table('sale_campaigns')
