"""payment intents name the phase they collect: full, or a pre-sale order's deposit or balance
(two intents of one order, each paid once)

Revision ID: b3d5f7a9c2e4
Revises: 80e641fd4296
Create Date: 2026-12-05 00:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'b3d5f7a9c2e4'
down_revision = '80e641fd4296'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phase', sa.String(length=10), nullable=False,
                                      server_default='full'))
        batch_op.create_check_constraint(op.f('ck_payment_intents_phase_known'),
                                         "phase IN ('full', 'deposit', 'balance')")


def downgrade() -> None:
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payment_intents_phase_known'), type_='check')
        batch_op.drop_column('phase')
