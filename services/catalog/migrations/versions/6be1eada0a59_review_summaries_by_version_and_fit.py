"""review summaries by version and fit: support numbers each product's summaries (the newest
version wins) and says how the size fitted, per product and per size

Revision ID: 6be1eada0a59
Revises: f3b86eed4611
Create Date: 2026-12-04 23:39:48.816013
"""
import sqlalchemy as sa
from alembic import op


revision = '6be1eada0a59'
down_revision = 'f3b86eed4611'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_summary_version', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('fit_summary', sa.Text(), server_default='{}', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('fit_summary')
        batch_op.drop_column('review_summary_version')
