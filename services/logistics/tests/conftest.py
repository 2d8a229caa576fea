import pytest

from services.logistics import warehouses
from services.logistics.skus import CatalogProduct, CatalogSku, register_product


@pytest.fixture
def runtime(runtime_for):
    return runtime_for("logistics")


SHANGHAI = warehouses.WarehouseInput(code="SH-EAST", name="华东仓", province="上海市",
                                     city="上海市", district="青浦区", latitude=31.1497,
                                     longitude=121.1246, priority=100)
GUANGZHOU = warehouses.WarehouseInput(code="GZ-SOUTH", name="华南仓", province="广东省",
                                      city="广州市", district="白云区", latitude=23.3874,
                                      longitude=113.2989, priority=50)


def product(product_id="p-bra", sku_ids=("sku-75b", "sku-80b"), status="published", version=1,
            inactive=()) -> CatalogProduct:
    return CatalogProduct(product_id, "无钢圈聚拢文胸", status, version,
                          tuple(CatalogSku(s, s.upper(), s not in inactive) for s in sku_ids))


@pytest.fixture
def stocked(runtime):
    """Two warehouses and two registered SKUs, no stock yet."""
    with runtime.transaction() as session:
        warehouses.create_warehouse(session, SHANGHAI)
        warehouses.create_warehouse(session, GUANGZHOU)
        register_product(session, product())
    return runtime


@pytest.fixture
def shelves(stocked):
    """SH-EAST: 5 × sku-75b, 1 × sku-80b; GZ-SOUTH: 3 × sku-75b, 4 × sku-80b."""
    from services.logistics import stock

    clerk = stock.Caller(user_id="staff-wang", request_id="req-1")
    for code, sku, qty in (("SH-EAST", "sku-75b", 5), ("SH-EAST", "sku-80b", 1),
                           ("GZ-SOUTH", "sku-75b", 3), ("GZ-SOUTH", "sku-80b", 4)):
        with stocked.transaction() as session:
            stock.receive_stock(stocked, session, code, sku, qty, caller=clerk)
    return stocked


@pytest.fixture
def carrier(monkeypatch):
    """The carrier stand-in on a free port (its clock stopped unless a test winds it), and
    logistics pointed at it for every carrier."""
    from services.logistics.carriers import CARRIERS
    from standins.carrier import CarrierStandin, RunningStandin

    running = RunningStandin(CarrierStandin(step_seconds=3600, push=False))
    for code in CARRIERS:
        monkeypatch.setenv(f"MALL_LOGISTICS_CARRIER_{code.upper()}_URL", running.url)
    yield running
    running.stop()


def paid_order(order_id="o-1", lines=(("sku-75b", 2),), province="广东省", discreet=False,
               priority=False, member_id="m-1"):
    from services.logistics.shipments import PaidLine, PaidOrder

    return PaidOrder(order_id, "NO-" + order_id, member_id,
                     tuple(PaidLine(s, q, "无钢圈聚拢文胸", "75B 黑色", s.upper()) for s, q in lines),
                     {"recipient": "李四", "phone": "13900000000", "province": province,
                      "city": "深圳市", "district": "南山区", "detail": "科技园 1 号"},
                     discreet, priority)


def published(runtime, prefix="shipment."):
    """[(event type, data)] the service put in its outbox, oldest first."""
    import json

    from sqlalchemy import select

    table = runtime.outbox_table
    with runtime.transaction() as session:
        rows = session.execute(select(table.c.event_type, table.c.body)
                               .where(table.c.event_type.startswith(prefix))
                               .order_by(table.c.id)).all()
    return [(t, json.loads(body)["data"]) for t, body in rows]
