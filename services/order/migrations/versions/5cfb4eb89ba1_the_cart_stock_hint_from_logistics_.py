"""the cart stock hint from logistics availability events

Revision ID: 5cfb4eb89ba1
Revises: 0574f88ba204
Create Date: 2026-11-23 16:23:06.159311
"""
from alembic import op
import sqlalchemy as sa


revision = '5cfb4eb89ba1'
down_revision = '0574f88ba204'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sku_stock',
    sa.Column('sku_id', sa.String(length=64), nullable=False),
    sa.Column('sellable', sa.BigInteger(), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sku_id', name=op.f('pk_sku_stock'))
    )


def downgrade() -> None:
    op.drop_table('sku_stock')
