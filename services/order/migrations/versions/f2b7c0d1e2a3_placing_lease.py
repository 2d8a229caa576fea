"""the placing lease: which request runs an order's checkout saga and until when, and the quote
it locks and reserves by, so a retry takes over the placement of a crashed process within
seconds and resumes it (placement.py)

Revision ID: f2b7c0d1e2a3
Revises: e1a5e0000001
Create Date: 2026-12-04 21:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'f2b7c0d1e2a3'
down_revision = 'e1a5e0000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('placing_owner', sa.String(length=36), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('placing_quote', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('placing_profile', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('placing_profile')
        batch_op.drop_column('placing_quote')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('placing_owner')
