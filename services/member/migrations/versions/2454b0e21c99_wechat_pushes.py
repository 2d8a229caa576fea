"""wechat_pushes: one row per support notification, what became of its WeChat subscribe message

Revision ID: 2454b0e21c99
Revises: 47a6e376921d
Create Date: 2026-11-23 16:32:44.071797
"""
from alembic import op
import sqlalchemy as sa


revision = '2454b0e21c99'
down_revision = '47a6e376921d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wechat_pushes',
    sa.Column('notification_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('member_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('errcode', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('sending', 'sent', 'refused', 'skipped', 'failed')", name=op.f('ck_wechat_pushes_wechat_push_status')),
    sa.PrimaryKeyConstraint('notification_id', name=op.f('pk_wechat_pushes'))
    )
    with op.batch_alter_table('wechat_pushes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechat_pushes_member_id'), ['member_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wechat_pushes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_pushes_member_id'))
    op.drop_table('wechat_pushes')
