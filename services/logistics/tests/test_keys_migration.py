"""The revision that gives `idempotent_requests` the kit's columns keeps the stock keys already
used: a retry of a receipt made before the upgrade is still answered with its first ledger entry,
and a downgrade gives the rows back in the old form."""
import hashlib
import json
from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import text

from servicekit import migrate, testing
from servicekit.errors import FailedPrecondition
from servicekit.runtime import Runtime
from services.logistics import stock, warehouses
from services.logistics.models import Base
from services.logistics.skus import register_product

from .conftest import SHANGHAI, product

BEFORE = "642e1fcfb9e5"  # logistics' own key table
KEY = "dn-001-line-1"
CLERK = stock.Caller("staff-wang", "req-1")


@pytest.fixture
def database_url(tmp_path):
    if not testing.use_postgres():
        yield f"sqlite:///{tmp_path / 'logistics.db'}"
        return
    name = testing.database_name("logistics_keys")
    yield testing.create_database(name)
    testing.drop_databases([name])


def old_fingerprint(operation, **fields):
    """How logistics fingerprinted a keyed stock change before the kit did it."""
    return hashlib.sha256(json.dumps([operation, fields], sort_keys=True,
                                     ensure_ascii=False).encode()).hexdigest()


def test_upgrade_keeps_the_stock_keys_and_their_retries_and_downgrade_restores_them(
        database_url, monkeypatch):
    config = migrate.alembic_config("logistics", database_url)
    command.upgrade(config, BEFORE)
    monkeypatch.setenv("MALL_LOGISTICS_DATABASE_URL", database_url)
    runtime = Runtime("logistics", Base)
    try:
        with runtime.transaction() as session:
            warehouses.create_warehouse(session, SHANGHAI)
            register_product(session, product())
        kept = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
        with runtime.engine.begin() as conn:  # the receipt, as the old code booked it (its columns)
            warehouse_id = conn.execute(text("SELECT id FROM warehouses")).scalar_one()
            conn.execute(text("INSERT INTO stock (warehouse_id, sku_id, on_hand, reserved, "
                              "safety_stock, low_stock_threshold, updated_at) "
                              "VALUES (:w, 'sku-75b', 12, 0, 0, 5, :c)"), {"w": warehouse_id, "c": kept})
            first = conn.execute(text(
                "INSERT INTO stock_ledger (warehouse_id, sku_id, kind, quantity, on_hand_after, "
                "reserved_change, reserved_after, order_id, actor_user_id, reason, request_id, "
                "created_at) VALUES (:w, 'sku-75b', 'receipt', 12, 12, 0, 0, '', :u, 'DN-001', "
                ":r, :c) RETURNING id"),
                {"w": warehouse_id, "u": CLERK.user_id, "r": CLERK.request_id, "c": kept}).scalar_one()
        fingerprint = old_fingerprint("receive", warehouse="SH-EAST", sku="sku-75b", qty=12,
                                      reason="DN-001")
        with runtime.engine.begin() as conn:
            for operation, key in (("receive", KEY), ("adjust", "k" * 150)):  # too long to ask again
                conn.execute(text("INSERT INTO idempotent_requests (operation, key, fingerprint, "
                                  "entry_ids, created_at) VALUES (:o, :k, :f, :e, :c)"),
                             {"o": operation, "k": key, "f": fingerprint, "e": json.dumps([first]),
                              "c": kept})

        command.upgrade(config, "head")
        with runtime.engine.connect() as conn:
            assert conn.execute(text("SELECT scope, key, fingerprint FROM idempotent_requests")
                                ).all() == [("stock.receive", KEY, fingerprint)]
        keyed = stock.Caller("staff-wang", "req-2", idempotency_key=KEY)
        with runtime.transaction() as session:
            again = stock.receive_stock(runtime, session, "SH-EAST", "sku-75b", 12, "DN-001",
                                        caller=keyed)
            assert (again.replayed, [e.id for e in again.entries]) == (True, [first])
            assert again.stocks[0].on_hand == 12  # received once
        with pytest.raises(FailedPrecondition), runtime.transaction() as session:
            stock.receive_stock(runtime, session, "SH-EAST", "sku-75b", 13, "DN-001", caller=keyed)

        runtime.engine.dispose()
        command.downgrade(config, BEFORE)
        with runtime.engine.connect() as conn:
            rows = conn.execute(text("SELECT operation, key, fingerprint, entry_ids, created_at "
                                     "FROM idempotent_requests")).all()
        assert [(o, k, f) for o, k, f, _, _ in rows] == [("receive", KEY, fingerprint)]
        entry_ids = rows[0][3]
        assert (json.loads(entry_ids) if isinstance(entry_ids, str) else entry_ids) == [first]
    finally:
        runtime.engine.dispose()
