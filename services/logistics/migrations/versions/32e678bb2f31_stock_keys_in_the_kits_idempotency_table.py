"""stock keys in the kit's idempotency table

Stock changes under a client's idempotency key now go through servicekit.idempotency.run_once, so
`idempotent_requests` takes the kit's columns. Every kept key is converted, and its retries are
answered as before: (operation, key) becomes the scope "stock.<operation>" and the key, the
fingerprint stays (the same digest of the same request), and the ledger entry ids become the stored
answer (their JSON, as the service reads it). Keys the kit's rule refuses (over 128 characters, or
not printable ASCII) cannot be asked again and are left out.

Revision ID: 32e678bb2f31
Revises: 642e1fcfb9e5
Create Date: 2026-12-04 20:30:00.000000
"""
import json
import re

import sqlalchemy as sa
from alembic import op

from servicekit.migration_ops import create_idempotency_table_v1, drop_idempotency_table_v1

revision = '32e678bb2f31'
down_revision = '642e1fcfb9e5'
branch_labels = None
depends_on = None

_ASKABLE_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
_SCOPE = "stock."

_before = sa.table(
    "idempotent_requests",
    sa.column("operation", sa.String(40)), sa.column("key", sa.String(200)),
    sa.column("fingerprint", sa.String(64)), sa.column("entry_ids", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)))
_after = sa.table(
    "idempotent_requests",
    sa.column("scope", sa.String(200)), sa.column("key", sa.String(128)),
    sa.column("fingerprint", sa.String(64)), sa.column("response", sa.LargeBinary()),
    sa.column("created_at", sa.DateTime(timezone=True)))


def _create_before() -> None:
    op.create_table(
        'idempotent_requests',
        sa.Column('operation', sa.String(length=40), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('entry_ids', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('operation', 'key', name=op.f('pk_idempotent_requests')))


def upgrade() -> None:
    conn = op.get_bind()
    kept = [{"scope": _SCOPE + r.operation, "key": r.key, "fingerprint": r.fingerprint,
             "response": json.dumps(r.entry_ids).encode(), "created_at": r.created_at}
            for r in conn.execute(sa.select(_before)) if _ASKABLE_KEY.match(r.key)]
    op.drop_table('idempotent_requests')
    create_idempotency_table_v1()
    if kept:
        op.bulk_insert(_after, kept)


def downgrade() -> None:
    conn = op.get_bind()
    kept = [{"operation": r.scope[len(_SCOPE):], "key": r.key, "fingerprint": r.fingerprint,
             "entry_ids": json.loads(r.response), "created_at": r.created_at}
            for r in conn.execute(sa.select(_after).where(_after.c.scope.startswith(_SCOPE)))
            if r.response is not None]
    drop_idempotency_table_v1()
    _create_before()
    if kept:
        op.bulk_insert(_before, kept)
