"""pre-sale orders (新品预售): the deposit due first, the balance in its window, the ship date and
the merchant's rule for an unpaid balance; timers find orders by their balance window

Revision ID: a7c3e5f70b11
Revises: f2b7c0d1e2a3
Create Date: 2026-12-05 00:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'a7c3e5f70b11'
down_revision = 'f2b7c0d1e2a3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('presale_campaign_id', sa.String(length=32), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('deposit_fen', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('deposit_paid_fen', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('deposit_paid_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('balance_from', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('balance_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('release_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('unpaid_balance', sa.String(length=20), nullable=False,
                                      server_default=''))
        batch_op.create_index('ix_orders_status_balance_from', ['status', 'balance_from'])
        batch_op.create_index('ix_orders_status_balance_until', ['status', 'balance_until'])


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_status_balance_until')
        batch_op.drop_index('ix_orders_status_balance_from')
        for column in ('unpaid_balance', 'release_at', 'balance_until', 'balance_from',
                       'deposit_paid_at', 'deposit_paid_fen', 'deposit_fen', 'presale_campaign_id'):
            batch_op.drop_column(column)
