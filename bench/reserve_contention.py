"""1,000 concurrent reservations of one SKU whose 100 units are spread over 3 warehouses, through
gRPC against a real logistics server on PostgreSQL (its own database and RabbitMQ vhost, dropped
at the end).

Every reservation asks for 1 unit under its own order id, all sent at once (gRPC futures on one
channel); the server serializes them on the SKU's lock. Afterwards the database is read back:
`oversold` counts units reserved beyond what was sellable (it must be 0), `reserved_units` the
units the successful replies hold (it must be the stock, 100).

Last line: reserve attempts=1000 reserved_units=100 oversold=0 rate_per_s=N p99_ms=N
(target: oversold=0 always, reserved_units=100, rate >= 300/s)
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

ATTEMPTS = int(os.environ.get("BENCH_RESERVE_ATTEMPTS", "1000"))
SPREAD = {"BJ-NORTH": 40, "SH-EAST": 35, "GZ-SOUTH": 25}  # 100 units
PROVINCES = ("北京市", "上海市", "广东省", "四川省", "辽宁省")


def seed() -> None:
    from servicekit import service
    from services.logistics import stock, warehouses
    from services.logistics.skus import CatalogProduct, CatalogSku, register_product

    rt = service.runtime("logistics")
    places = {"BJ-NORTH": ("北京市", 39.90, 116.41), "SH-EAST": ("上海市", 31.15, 121.12),
              "GZ-SOUTH": ("广东省", 23.39, 113.30)}
    clerk = stock.Caller("bench", "bench-seed")
    with rt.transaction() as session:
        for code, (province, lat, lon) in places.items():
            warehouses.create_warehouse(session, warehouses.WarehouseInput(
                code=code, name=code, province=province, city=province, latitude=lat,
                longitude=lon))
        register_product(session, CatalogProduct("p-bench", "无钢圈文胸", "published", 1,
                                                 (CatalogSku("sku-bench", "B-75B"),)))
        for code, units in SPREAD.items():
            stock.receive_stock(rt, session, code, "sku-bench", units, caller=clerk)
    rt.dispose()


def storm(target: str) -> dict:
    import grpc
    from mall.common.v1 import common_pb2
    from mall.logistics.v1 import logistics_pb2 as pb
    from mall.logistics.v1 import logistics_pb2_grpc

    from servicekit import grpc_client

    stub = logistics_pb2_grpc.LogisticsServiceStub(
        grpc_client.channel("logistics", target=target, timeout_seconds=60))
    stub.GetAvailability(pb.GetAvailabilityRequest(sku_ids=["sku-bench"]))  # warm the channel
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    held_units = [0]
    done = threading.Event()
    lock = threading.Lock()

    def finished(future, started):
        took = time.perf_counter() - started
        try:
            reply = future.result()
            outcome = "held"
            units = sum(a.quantity for a in reply.allocations)
        except grpc.RpcError as err:
            outcome, units = err.code().name, 0
        with lock:
            latencies.append(took)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            held_units[0] += units
            if len(latencies) == ATTEMPTS:
                done.set()

    began = time.perf_counter()
    for i in range(ATTEMPTS):
        request = pb.ReserveRequest(
            order_id=f"bench-{i:05d}", lines=[pb.ReserveLine(sku_id="sku-bench", quantity=1)],
            shipping_address=common_pb2.Address(province=PROVINCES[i % len(PROVINCES)]))
        started = time.perf_counter()
        future = stub.Reserve.future(request, timeout=120)
        future.add_done_callback(lambda f, s=started: finished(f, s))
    if not done.wait(300):
        raise RuntimeError(f"only {len(latencies)} of {ATTEMPTS} reservations answered")
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"outcomes": outcomes, "held_units": held_units[0], "seconds": elapsed,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


def read_back() -> tuple[int, int]:
    """(units reserved in the database, units reserved beyond what was sellable)."""
    from sqlalchemy import select

    from servicekit import service
    from services.logistics.models import Stock

    rt = service.runtime("logistics")
    with rt.transaction() as session:
        rows = list(session.scalars(select(Stock)))
        reserved = sum(s.reserved for s in rows)
        oversold = sum(max(0, s.reserved - (s.on_hand - s.safety_stock)) for s in rows)
    rt.dispose()
    return reserved, oversold + max(0, reserved - sum(SPREAD.values()))


def main() -> None:
    from servicekit import testing

    testing.prepare_environment()
    os.environ["MALL_LOG_LEVEL"] = "WARNING"
    api = None
    try:
        testing.ensure_database("logistics")
        seed()
        api = testing.ApiProcess("logistics").start()
        result = storm(api.target)
        reserved, oversold = read_back()
        if reserved != result["held_units"]:
            raise SystemExit(f"the replies hold {result['held_units']} units, the database "
                             f"{reserved}")
        print(f"outcomes {result['outcomes']} in {result['seconds']:.2f}s")
        print(f"reserve attempts={ATTEMPTS} reserved_units={reserved} oversold={oversold} "
              f"rate_per_s={ATTEMPTS / result['seconds']:.0f} p99_ms={result['p99_ms']:.0f}")
    finally:
        if api:
            api.stop()
        testing.teardown_environment()


if __name__ == "__main__":
    main()
