"""The demo shop's warehouses and stock, through logistics' own RPCs (as an admin would).

    seed(channel, skus)   # skus as deploy/local/seed_catalog.py returns them: dicts with "sku_id"

Logistics learns SKUs only from catalog's product events, so a receipt for a SKU its worker has
not yet heard of is refused (NOT_FOUND). We keep that rule (stock of a SKU nobody sells is a
mistake we want caught) and make the seed wait instead: it polls GetAvailability until every SKU
is known, for at most MALL_SEED_SKU_WAIT_SECONDS (60), then fails naming the SKUs still missing.

Idempotent: existing warehouses are kept, and every receipt carries an idempotency key derived
from warehouse and SKU with a quantity derived from the SKU id, so a second run replays the
first run's receipts instead of adding stock.
"""
from __future__ import annotations

import time
import zlib

import grpc
from mall.logistics.v1 import logistics_pb2 as pb
from mall.logistics.v1 import logistics_pb2_grpc as pb_grpc

from servicekit.config import env_float
from servicekit.errors import violations_from_trailers

SEED_METADATA = (("x-mall-user-id", "make-run-seed"), ("x-mall-roles", "admin"))
CALL_TIMEOUT = 10.0

WAREHOUSES = [
    pb.Warehouse(code="SH-EAST", name="华东仓", province="上海市", city="上海市",
                 district="青浦区", latitude=31.1497, longitude=121.1246, active=True,
                 priority=100, carriers=["sf", "zto"]),
    pb.Warehouse(code="GZ-SOUTH", name="华南仓", province="广东省", city="广州市",
                 district="白云区", latitude=23.1579, longitude=113.2732, active=True,
                 priority=90, carriers=["sf", "zto"]),
    pb.Warehouse(code="BJ-NORTH", name="华北仓", province="北京市", city="北京市",
                 district="大兴区", latitude=39.7267, longitude=116.3416, active=True,
                 priority=80, carriers=["sf"]),  # only SF collects in the north
]
# Per warehouse, the range the demo quantities fall in: the east holds most, the north little,
# so the demo shows IN_STOCK, LOW and (for some SKUs in the north) no stock at all.
QUANTITY_RANGE = {"SH-EAST": (20, 120), "GZ-SOUTH": (5, 60), "BJ-NORTH": (0, 12)}


class SeedError(RuntimeError):
    pass


def demo_quantity(warehouse_code: str, sku_id: str) -> int:
    """Deterministic, so a second run asks for exactly the same receipts."""
    low, high = QUANTITY_RANGE[warehouse_code]
    return low + zlib.crc32(f"{warehouse_code}/{sku_id}".encode()) % (high - low + 1)


def unknown_skus(stub: pb_grpc.LogisticsServiceStub, sku_ids: list[str]) -> list[str]:
    """The SKUs logistics has not registered yet (asked in batches of 200)."""
    missing = []
    for start in range(0, len(sku_ids), 200):
        batch = sku_ids[start:start + 200]
        try:
            stub.GetAvailability(pb.GetAvailabilityRequest(sku_ids=batch), metadata=SEED_METADATA,
                                 timeout=CALL_TIMEOUT)
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
            # the violations name them as sku_ids[i]
            for violation in violations_from_trailers(err.trailing_metadata()):
                index = int(violation.field.removeprefix("sku_ids[").rstrip("]"))
                missing.append(batch[index])
    return missing


def wait_for_skus(stub: pb_grpc.LogisticsServiceStub, sku_ids: list[str],
                  timeout: float | None = None) -> None:
    timeout = env_float("SEED_SKU_WAIT_SECONDS", 60.0) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while missing := unknown_skus(stub, sku_ids):
        if time.monotonic() > deadline:
            raise SeedError(
                f"logistics still does not know {len(missing)} of {len(sku_ids)} SKUs after "
                f"{timeout:.0f}s (e.g. {', '.join(missing[:5])}): it learns them from catalog's "
                "product.published events; is the logistics worker running and are catalog's "
                "outbox relay and RabbitMQ up?")
        time.sleep(0.5)


def ensure_warehouses(stub: pb_grpc.LogisticsServiceStub) -> list[str]:
    existing = {w.code for w in stub.ListWarehouses(
        pb.ListWarehousesRequest(include_inactive=True), metadata=SEED_METADATA,
        timeout=CALL_TIMEOUT).warehouses}
    created = []
    for warehouse in WAREHOUSES:
        if warehouse.code in existing:
            continue
        try:
            stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=warehouse),
                                 metadata=SEED_METADATA, timeout=CALL_TIMEOUT)
            created.append(warehouse.code)
        except grpc.RpcError as err:  # another seed run created it meanwhile: that is fine
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
    return created


def seed(channel: grpc.Channel, skus: list[dict], *, wait_seconds: float | None = None) -> dict:
    """Creates the demo warehouses and receives demo stock of every SKU; returns what it did."""
    stub = pb_grpc.LogisticsServiceStub(channel)
    sku_ids = list(dict.fromkeys(s["sku_id"] for s in skus))
    created = ensure_warehouses(stub)
    if sku_ids:
        wait_for_skus(stub, sku_ids, wait_seconds)
    received = replayed = 0
    for sku_id in sku_ids:
        for warehouse in WAREHOUSES:
            quantity = demo_quantity(warehouse.code, sku_id)
            if quantity == 0:
                continue
            reply = stub.ReceiveStock(
                pb.ReceiveStockRequest(warehouse_code=warehouse.code, sku_id=sku_id,
                                       quantity=quantity, reason="demo stock (make run)"),
                metadata=(*SEED_METADATA, ("idempotency-key", f"seed:{warehouse.code}:{sku_id}")),
                timeout=CALL_TIMEOUT)
            replayed += reply.replayed
            received += not reply.replayed
    return {"warehouses_created": created, "receipts": received, "receipts_replayed": replayed}
