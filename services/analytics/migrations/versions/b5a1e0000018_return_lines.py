"""return_lines: after-sale request lines, counted by reason, product and size

Revision ID: b5a1e0000018
Revises: e1a5e0000004
Create Date: 2026-12-05 00:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'b5a1e0000018'
down_revision = 'e1a5e0000004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'return_lines',
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('line_id', sa.String(length=64), nullable=False),
        sa.Column('order_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('reason_code', sa.String(length=40), nullable=False),
        sa.Column('product_id', sa.String(length=64), nullable=False),
        sa.Column('sku_id', sa.String(length=64), nullable=False),
        sa.Column('size', sa.String(length=40), nullable=False),
        sa.Column('quantity', sa.BigInteger(), nullable=False),
        sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('refunded_fen', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('request_id', 'line_id'),
    )
    op.create_index('ix_return_lines_applied', 'return_lines', ['applied_at'])


def downgrade() -> None:
    op.drop_index('ix_return_lines_applied', table_name='return_lines')
    op.drop_table('return_lines')
