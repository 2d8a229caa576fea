"""order line categories for the desk filter

Revision ID: 0574f88ba204
Revises: cc0e6bae7eec
Create Date: 2026-11-23 16:16:59.733464
"""
from alembic import op
import sqlalchemy as sa


revision = '0574f88ba204'
down_revision = 'cc0e6bae7eec'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_line_categories',
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('category_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_line_categories_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'category_id', name=op.f('pk_order_line_categories'))
    )
    with op.batch_alter_table('order_line_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_line_categories_category_id'), ['category_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('order_line_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_line_categories_category_id'))

    op.drop_table('order_line_categories')
