"""campaign and template versions, retired templates, change history

Staff edit campaigns and coupon templates: each row gains a `version` (1 for every row that
exists, +1 per edit, end or retirement) that an edit names and campaign.changed carries; a
template can be retired (`retired_at`, `retired_by`); `change_history` keeps who changed what.

Revision ID: d86a8fbd681a
Revises: 7bcd866ab145
Create Date: 2026-12-04 23:34:04.534900
"""
import sqlalchemy as sa
from alembic import op

revision = 'd86a8fbd681a'
down_revision = '7bcd866ab145'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('change_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('subject', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.CheckConstraint("action IN ('created', 'updated', 'ended', 'retired')",
                       name=op.f('ck_change_history_action_known')),
    sa.CheckConstraint("subject IN ('campaign', 'coupon_template')", name=op.f('ck_change_history_subject_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_history'))
    )
    with op.batch_alter_table('change_history', schema=None) as batch_op:
        batch_op.create_index('ix_change_history_subject', ['subject', 'subject_id', 'id'], unique=False)

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.BigInteger(), server_default='1', nullable=False))

    with op.batch_alter_table('coupon_templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.BigInteger(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retired_by', sa.String(length=64), server_default='', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('coupon_templates', schema=None) as batch_op:
        batch_op.drop_column('retired_by')
        batch_op.drop_column('retired_at')
        batch_op.drop_column('version')

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('change_history', schema=None) as batch_op:
        batch_op.drop_index('ix_change_history_subject')

    op.drop_table('change_history')
