"""partner_credentials and partner_nonces: partner ERPs' signing keys and the replay table

Revision ID: 5c1e0a9b7d21
Revises: 2454b0e21c99
Create Date: 2026-12-04 03:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '5c1e0a9b7d21'
down_revision = '2454b0e21c99'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partner_credentials',
    sa.Column('key_id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('partner_name', sa.String(length=128), nullable=False),
    sa.Column('secret_sealed', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_partner_credentials'))
    )
    with op.batch_alter_table('partner_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_credentials_partner_id'), ['partner_id'], unique=False)
    op.create_table('partner_nonces',
    sa.Column('key_id', sa.String(length=40), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_id', 'nonce', name=op.f('pk_partner_nonces'))
    )
    with op.batch_alter_table('partner_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_nonces_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('partner_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_nonces_seen_at'))
    op.drop_table('partner_nonces')
    with op.batch_alter_table('partner_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_credentials_partner_id'))
    op.drop_table('partner_credentials')
