"""notices in order history: where a notice sits in its order's history, and where it is listed

The inbox lists an order's notices by the order's own history, not by when they arrived. Existing
notices keep their place: listed by their id, as before.

Revision ID: a4f5b6c7d8e9
Revises: ae4f5a6b7c8d
Create Date: 2026-12-04 21:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'a4f5b6c7d8e9'
down_revision = 'ae4f5a6b7c8d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('history_position', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('list_rank', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_notifications_member_id_list_rank', ['member_id', 'list_rank'])
    op.execute("UPDATE notifications SET list_rank = id")


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_member_id_list_rank')
        batch_op.drop_column('list_rank')
        batch_op.drop_column('history_position')
