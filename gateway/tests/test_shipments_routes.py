"""Shipments through the gateway against the real logistics server: a shopper sees only their
own parcels and timelines (masked when discreet), a carrier's signed push reaches logistics
unchanged and is answered in the carrier's format, staff read packing lists."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest

from services.logistics import carriers, fengqiao, fulfilment, reservations, shipments, stock
from services.logistics.shipments import PaidLine, PaidOrder
from services.logistics.skus import CatalogProduct, CatalogSku, register_product
from services.logistics.warehouses import WarehouseInput, create_warehouse
from standins.carrier import CarrierStandin, RunningStandin

from .helpers import bearer, token

ALICE, BOB = bearer(token(sub="m-alice")), bearer(token(sub="m-bob"))
CLERK = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("warehouse",)))


@pytest.fixture
def carrier(monkeypatch):
    running = RunningStandin(CarrierStandin(step_seconds=3600, push=False))  # test tooling
    for code in carriers.CARRIERS:
        monkeypatch.setenv(f"MALL_LOGISTICS_CARRIER_{code.upper()}_URL", running.url)
    yield running
    running.stop()


@pytest.fixture
def shipped(gateway_with, runtime_for, carrier):
    """Alice paid for a discreet order; its one parcel is booked with the carrier."""
    runtime = runtime_for("logistics")
    client = gateway_with("logistics")
    caller = stock.Caller("test", "seed")
    with runtime.transaction() as session:
        create_warehouse(session, WarehouseInput("SH-EAST", "华东仓", "上海市", "上海市",
                                                 latitude=31.15, longitude=121.12))
        register_product(session, CatalogProduct("p-1", "蕾丝聚拢文胸", "published", 1,
                                                 (CatalogSku("sku-75b", "B-75B"),)))
        stock.receive_stock(runtime, session, "SH-EAST", "sku-75b", 5, caller=caller)
        reservations.reserve(runtime, session, "o-1", [reservations.Line("sku-75b", 2)],
                             "江苏省", caller=caller)
        fulfilment.order_paid(runtime, session, PaidOrder(
            "o-1", "NO-1", "m-alice", (PaidLine("sku-75b", 2, "蕾丝聚拢文胸", "75B 黑色"),),
            {"recipient": "爱丽丝", "phone": "13800000000", "province": "江苏省",
             "city": "南京市", "district": "", "detail": "中山路 1 号"}, True), "evt-1")
    shipments.book_pending(runtime)
    (shipment,) = client.get("/v1/shipments", headers=ALICE).json()["shipments"]
    return client, shipment


def signed_push(shipment, ops, checkword=None):
    account = carriers.account(shipment["carrier"])
    now = datetime.now(fengqiao.SHANGHAI)
    routes = [{"mailno": shipment["waybill_no"], "opCode": op, "remark": remark,
               "acceptAddress": "南京", "id": op,
               "acceptTime": (now + timedelta(minutes=i + 1)).strftime("%Y-%m-%d %H:%M:%S")}
              for i, (op, remark) in enumerate(ops)]
    form = fengqiao.signed_form(account.partner_id, fengqiao.ROUTE_PUSH,
                                {"WaybillRoute": routes}, checkword or account.checkword)
    return urlencode(form)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_shopper_follows_their_parcel_to_the_door(shipped):
    client, shipment = shipped
    assert (shipment["order_id"], shipment["state"], shipment["discreet"]) == (
        "o-1", "SHIPMENT_CREATED", True)
    assert shipment["items"] == [{"sku_id": "sku-75b", "title": "日用品", "sku_label": "",
                                  "quantity": 2}]
    assert shipment["sender_name"] == "品牌仓储"
    reply = client.post(f"/v1/logistics/notify/{shipment['carrier']}", headers=FORM,
                        content=signed_push(shipment, [("50", "已揽收"), ("80", "已签收")]))
    assert reply.status_code == 200 and reply.json() == {"return_code": "0000",
                                                         "return_msg": "成功"}
    detail = client.get(f"/v1/shipments/{shipment['id']}", headers=ALICE).json()
    assert detail["state"] == "SHIPMENT_DELIVERED"
    assert [s["state"] for s in detail["timeline"]] == [
        "SHIPMENT_CREATED", "SHIPMENT_PICKED_UP", "SHIPMENT_DELIVERED"]
    assert detail["timeline"][-1]["description"] == "已签收"
    by_order = client.get("/v1/shipments", params={"order_id": "o-1"}, headers=ALICE).json()
    assert [s["id"] for s in by_order["shipments"]] == [shipment["id"]]


def test_someone_elses_parcel_does_not_exist(shipped):
    client, shipment = shipped
    response = client.get(f"/v1/shipments/{shipment['id']}", headers=BOB)
    assert response.status_code == 404
    assert client.get("/v1/shipments", headers=BOB).json()["shipments"] == []
    assert client.get("/v1/shipments", headers=CLERK).status_code == 403  # staff use /admin


def test_a_push_signed_with_the_wrong_checkword_is_refused_and_changes_nothing(shipped):
    client, shipment = shipped
    reply = client.post(f"/v1/logistics/notify/{shipment['carrier']}", headers=FORM,
                        content=signed_push(shipment, [("80", "已签收")], checkword="guess"))
    assert reply.status_code == 400 and reply.json()["return_code"] == "1000"
    assert client.get(f"/v1/shipments/{shipment['id']}",
                      headers=ALICE).json()["state"] == "SHIPMENT_CREATED"
    unknown = client.post("/v1/logistics/notify/pigeon", headers=FORM,
                          content=signed_push(shipment, [("80", "已签收")]))
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")


def test_staff_see_shipments_by_state_and_the_packing_list(shipped):
    client, shipment = shipped
    listed = client.get("/v1/admin/logistics/shipments", params={"state": "created"},
                        headers=CLERK).json()["shipments"]
    assert [s["id"] for s in listed] == [shipment["id"]]
    assert client.get("/v1/admin/logistics/shipments", params={"state": "delivered"},
                      headers=CLERK).json()["shipments"] == []
    assert client.get("/v1/admin/logistics/shipments", params={"state": "lost"},
                      headers=CLERK).status_code == 400
    packing = client.get(f"/v1/admin/logistics/shipments/{shipment['id']}/packing-list",
                         headers=CLERK).json()
    assert (packing["plain_package"], packing["sender_name"]) == (True, "品牌仓储")
    assert [(p["title"], p["sku_label"]) for p in packing["picking"]] == [("蕾丝聚拢文胸",
                                                                           "75B 黑色")]
    assert [(p["title"], p["sku_label"]) for p in packing["customer_copy"]] == [("日用品", "")]
    assert client.get(f"/v1/admin/logistics/shipments/{shipment['id']}/packing-list",
                      headers=ALICE).status_code == 403
