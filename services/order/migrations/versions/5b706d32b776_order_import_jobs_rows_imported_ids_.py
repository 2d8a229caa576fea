"""order import: jobs, rows, imported ids, mapping profiles, batch on orders

Revision ID: 5b706d32b776
Revises: 5cfb4eb89ba1
Create Date: 2026-11-23 16:44:06.507159
"""
from alembic import op
import sqlalchemy as sa


revision = '5b706d32b776'
down_revision = '5cfb4eb89ba1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_jobs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('partner', sa.String(length=64), nullable=False),
    sa.Column('caller', sa.String(length=100), nullable=False),
    sa.Column('profile', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('encoding', sa.String(length=20), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('error_policy', sa.String(length=20), nullable=False),
    sa.Column('deduct_stock', sa.Boolean(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('problem_rule', sa.String(length=40), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_valid', sa.Integer(), nullable=False),
    sa.Column('rows_error', sa.Integer(), nullable=False),
    sa.Column('rows_blocked', sa.Integer(), nullable=False),
    sa.Column('rows_imported', sa.Integer(), nullable=False),
    sa.Column('rows_skipped', sa.Integer(), nullable=False),
    sa.Column('orders_total', sa.Integer(), nullable=False),
    sa.Column('orders_imported', sa.Integer(), nullable=False),
    sa.Column('orders_skipped', sa.Integer(), nullable=False),
    sa.Column('orders_invalid', sa.Integer(), nullable=False),
    sa.Column('unknown_columns', sa.JSON(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs')),
    sa.UniqueConstraint('caller', 'idempotency_key', name=op.f('uq_import_jobs_caller'))
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_jobs_partner'), ['partner'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_jobs_status'), ['status'], unique=False)

    op.create_table('import_profiles',
    sa.Column('partner', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('column_map', sa.JSON(), nullable=False),
    sa.Column('sku_map', sa.JSON(), nullable=False),
    sa.Column('status_map', sa.JSON(), nullable=False),
    sa.Column('deduct_stock', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('partner', 'name', name=op.f('pk_import_profiles'))
    )
    op.create_table('imported_orders',
    sa.Column('partner', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('order_no', sa.String(length=20), nullable=False),
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('partner', 'external_id', name=op.f('pk_imported_orders'))
    )
    with op.batch_alter_table('imported_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imported_orders_job_id'), ['job_id'], unique=False)

    op.create_table('import_rows',
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('order_no', sa.String(length=20), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['import_jobs.id'], name=op.f('fk_import_rows_job_id_import_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'row_no', name=op.f('pk_import_rows'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_batch_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_import_batch_id'), ['import_batch_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_import_batch_id'))
        batch_op.drop_column('import_batch_id')

    op.drop_table('import_rows')
    with op.batch_alter_table('imported_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imported_orders_job_id'))

    op.drop_table('imported_orders')
    op.drop_table('import_profiles')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_jobs_status'))
        batch_op.drop_index(batch_op.f('ix_import_jobs_partner'))
        batch_op.drop_index(batch_op.f('ix_import_jobs_created_at'))

    op.drop_table('import_jobs')
