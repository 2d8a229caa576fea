"""After-sales returns through the gateway against the real logistics server: the shopper sends
her own request's parcel back (another's is 404), warehouse staff list and inspect returns, and
quarantined goods show in the stock view; bad shapes are problems naming the field."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from mall.events.v1 import support_events_pb2 as support

from services.logistics import fulfilment, reservations, returns, warehouses
from services.logistics.shipments import PaidLine, PaidOrder
from services.logistics.skus import CatalogProduct, CatalogSku, register_product
from services.logistics.stock import Caller, receive_stock

from .helpers import bearer, token

CLERK = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("warehouse",)))
CS_AGENT = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("cs_agent",)))
SHOPPER = bearer(token(sub="m-1"))
OTHER = bearer(token(sub="m-2"))
SOUTH = warehouses.WarehouseInput(code="GZ-SOUTH", name="华南仓", province="广东省", city="广州市",
                                  district="白云区", latitude=23.39, longitude=113.30, priority=50)


@pytest.fixture
def gateway(gateway_with, runtime_for):
    client = gateway_with("logistics")
    runtime = runtime_for("logistics")
    clerk = Caller("staff-li", "req-1")
    with runtime.transaction() as session:
        warehouses.create_warehouse(session, SOUTH)
        register_product(session, CatalogProduct("p-1", "无钢圈文胸", "published", 1,
                                                 (CatalogSku("sku-75b", "B-75B"),)))
    with runtime.transaction() as session:
        receive_stock(runtime, session, "GZ-SOUTH", "sku-75b", 3, caller=clerk)
    with runtime.transaction() as session:
        reservations.reserve(runtime, session, "o-1", [reservations.Line("sku-75b", 2)], "广东省",
                             caller=clerk)
    with runtime.transaction() as session:
        fulfilment.order_paid(runtime, session, PaidOrder(
            "o-1", "N-1", "m-1", (PaidLine("sku-75b", 2, "无钢圈文胸"),),
            {"recipient": "李四", "phone": "13900000000", "province": "广东省", "city": "深圳市",
             "district": "南山区", "detail": "科技园 1 号"}, False), "evt-1")
    with runtime.transaction() as session:  # what support's aftersale.approved says
        returns.approved(runtime, session, support.AfterSaleApproved(
            request_id="as-1", order_id="o-1", member_id="m-1", kind="return_refund",
            lines=[support.AfterSaleLine(line_id="l-1", sku_id="sku-75b", quantity=2)],
            return_expected=True,
            return_by=(datetime.now(timezone.utc) + timedelta(days=7)).isoformat()), "evt-2")
    return client


def test_the_shopper_sends_her_parcel_back_with_her_own_waybill(gateway):
    body = {"mode": "own", "carrier": "zto", "waybill_no": "ZT7788990011"}
    assert gateway.post("/v1/me/aftersales/as-1/return", json=body).status_code == 401
    assert gateway.post("/v1/me/aftersales/as-1/return", json=body, headers=OTHER).status_code == 404
    bad = gateway.post("/v1/me/aftersales/as-1/return", headers=SHOPPER,
                       json={"mode": "post", "waybill_no": "x"})
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} >= {"mode", "waybill_no"}
    booked = gateway.post("/v1/me/aftersales/as-1/return", json=body, headers=SHOPPER)
    assert booked.status_code == 200, booked.text
    assert (booked.json()["status"], booked.json()["waybill_no"], booked.json()["own_waybill"]) == (
        "booked", "ZT7788990011", True)


def test_warehouse_staff_list_and_inspect_returns_and_see_quarantine_in_stock(gateway):
    assert gateway.get("/v1/admin/returns", headers=CS_AGENT).status_code == 403
    listed = gateway.get("/v1/admin/returns", headers=CLERK, params={"status": "expected"})
    assert [r["request_id"] for r in listed.json()["returns"]] == ["as-1"]
    assert gateway.get("/v1/admin/returns", headers=CLERK,
                       params={"status": "lost"}).status_code == 400
    bad = gateway.post("/v1/admin/returns/as-1/inspection", headers=CLERK, json={
        "lines": [{"line_id": "l-1", "quantity": 1.5}], "seal_intact": True,
        "condition": "worn", "accepted": True})
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} >= {"condition", "lines[0].quantity"}
    refused = gateway.post("/v1/admin/returns/as-1/inspection", headers=CLERK, json={
        "lines": [{"line_id": "l-1", "quantity": 3}], "seal_intact": True,
        "condition": "used", "accepted": True})
    assert refused.status_code == 400
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
        ("lines[0].quantity", "at_most_expected")]
    done = gateway.post("/v1/admin/returns/as-1/inspection", headers=CLERK, json={
        "lines": [{"line_id": "l-1", "quantity": 2}], "seal_intact": False,
        "condition": "used", "accepted": True, "note": "吊牌已拆"})
    assert done.status_code == 200, done.text
    assert done.json()["inspection"]["restocked_to"] == "quarantine"
    stock = gateway.get("/v1/admin/logistics/stock", params={"sku_id": "sku-75b"}, headers=CLERK)
    [south] = stock.json()["skus"][0]["warehouses"]
    assert (south["on_hand"], south["quarantined"], south["sellable"]) == (1, 2, 1)
    assert gateway.get("/v1/admin/returns", headers=CLERK,
                       params={"status": "inspected"}).json()["returns"][0]["status"] == "inspected"
