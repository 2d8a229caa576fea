"""deploy/local/seed_logistics.py against the real logistics server: warehouses and stock once,
however many times `make run` seeds; a clear error when SKUs never reach logistics."""
import threading
import time

import pytest
from sqlalchemy import func, select

from deploy.local import seed_logistics
from services.logistics.models import LedgerEntry, Stock, Warehouse
from services.logistics.skus import register_product

from .conftest import product


@pytest.fixture
def channel(runtime, grpc_stub_for):
    return grpc_stub_for("logistics", lambda channel: channel)


def totals(runtime):
    with runtime.transaction() as session:
        return (session.scalar(select(func.count()).select_from(Warehouse)),
                session.scalar(select(func.count()).select_from(LedgerEntry)),
                session.scalar(select(func.sum(Stock.on_hand))))


def test_seed_twice_creates_warehouses_and_stock_once(runtime, channel):
    with runtime.transaction() as session:
        register_product(session, product(sku_ids=("sku-1", "sku-2", "sku-3")))
    skus = [{"sku_id": s} for s in ("sku-1", "sku-2", "sku-3")]
    first = seed_logistics.seed(channel, skus)
    assert sorted(first["warehouses_created"]) == ["BJ-NORTH", "GZ-SOUTH", "SH-EAST"]
    assert first["receipts"] > 0 and first["receipts_replayed"] == 0
    after_first = totals(runtime)
    second = seed_logistics.seed(channel, skus)
    assert second == {"warehouses_created": [], "receipts": 0,
                      "receipts_replayed": first["receipts"]}
    assert totals(runtime) == after_first
    expected = sum(seed_logistics.demo_quantity(w.code, s["sku_id"])
                   for w in seed_logistics.WAREHOUSES for s in skus)
    assert after_first == (3, first["receipts"], expected)


def test_seed_waits_for_skus_announced_a_little_later(runtime, channel):
    def publish_later():
        time.sleep(1.0)
        with runtime.transaction() as session:
            register_product(session, product(sku_ids=("sku-late",)))

    later = threading.Thread(target=publish_later)
    later.start()
    done = seed_logistics.seed(channel, [{"sku_id": "sku-late"}], wait_seconds=20)
    later.join()
    assert done["receipts"] >= 2


def test_seed_gives_up_naming_skus_logistics_never_heard_of(runtime, channel):
    with pytest.raises(seed_logistics.SeedError, match="sku-ghost"):
        seed_logistics.seed(channel, [{"sku_id": "sku-ghost"}], wait_seconds=0.5)
    assert totals(runtime)[1:] == (0, None)  # no stock received
