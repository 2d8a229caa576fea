"""order effects fold: member_orders remembers what it has heard of an order

Points and tier must end the same whatever order the events of an order arrive in: the row now
records that order.paid was heard (earn_settled) and what the payment earns whole
(points_basis), that a refund was full, and that the order was cancelled. Existing rows keep
their meaning: an order that earned points had its order.paid heard, and earned that much whole
plus what was already clawed back.

Revision ID: 3f8b2d61c0e4
Revises: d41f7a2c9b10
Create Date: 2026-12-04 21:15:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '3f8b2d61c0e4'
down_revision = 'd41f7a2c9b10'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('member_orders') as batch_op:
        batch_op.add_column(sa.Column('earn_settled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('points_basis', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('refunded_in_full', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('cancelled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute("UPDATE member_orders SET earn_settled = (points_earned > 0), "
               "points_basis = points_earned, "
               "refunded_in_full = (paid_fen > 0 AND refunded_fen >= paid_fen)")


def downgrade() -> None:
    with op.batch_alter_table('member_orders') as batch_op:
        batch_op.drop_column('cancelled')
        batch_op.drop_column('refunded_in_full')
        batch_op.drop_column('points_basis')
        batch_op.drop_column('earn_settled')
