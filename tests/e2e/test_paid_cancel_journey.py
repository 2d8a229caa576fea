"""A paid order cancelled by staff, through the gateway on the real suite: the WeChat Pay
stand-in refunds the whole payment exactly once, the payment shows it refunded, the parcel is
cancelled at the carrier stand-in before the courier came and its goods are sellable again, and
a second cancel changes nothing. A parcel already collected refuses the cancel (409, naming
after-sales); a full refund of an order in transit makes logistics ask the carrier stand-in to
intercept it."""
from __future__ import annotations

import uuid

import httpx
import pytest

from services.logistics.shipments import shipment_id

from .shop import (
    ADDRESS,
    ok,
    pay_with_wechat,
    published_product,
    receive,
    sign_in,
    stock_row,
    unique_word,
)

pytestmark = pytest.mark.e2e


def stocked_product(mall, admin: httpx.Client, title: str, quantity: int) -> tuple[dict, str]:
    """A published product with `quantity` units of its first SKU in a fresh Hangzhou warehouse
    with a full address (the carrier sends an intercepted parcel back to it, district included)."""
    product = published_product(admin, title)
    sku_id = product["skus"][0]["id"]
    code = f"HZ-{uuid.uuid4().hex[:6].upper()}"
    ok(admin.post("/v1/admin/logistics/warehouses", json={
        "code": code, "name": "杭州仓", "province": "浙江省", "city": "杭州市", "district": "余杭区",
        "latitude": 30.27, "longitude": 120.16, "carriers": ["zto", "sf"]}), 201)
    mall.wait_until(lambda: admin.get("/v1/admin/logistics/stock",
                                      params={"sku_id": sku_id}).status_code == 200,
                    what="logistics knowing the published SKU")
    receive(admin, code, sku_id, quantity)
    return product, code


def order_once_known(mall, shopper: httpx.Client, sku_id: str) -> dict:
    """Places an order for one unit as soon as order has heard of the product and its stock
    (catalog's and logistics' events; a refused attempt creates nothing)."""
    def placed():
        reply = shopper.post("/v1/orders", json={"lines": [{"sku_id": sku_id, "quantity": 1}],
                                                 "shipping_address": ADDRESS},
                             headers={"Idempotency-Key": uuid.uuid4().hex})
        return reply.json() if reply.status_code == 201 else None
    order = mall.wait_until(placed, timeout=30, what="order knowing the product")
    assert order["status"] == "pending_payment", order
    return order


def carrier_standin(mall) -> str:
    return f"http://127.0.0.1:{mall.suite.env['MALL_CARRIER_STANDIN_PORT']}"


def hold_at_carrier(mall, order_id: str, warehouse_code: str, steps: int) -> None:
    """The courier takes at most `steps` steps with this order's parcel (0: never collects)."""
    ok(httpx.post(f"{carrier_standin(mall)}/standin/hold", timeout=10, json={
        "order_id": shipment_id(order_id, warehouse_code), "steps": steps}))


def parcel_at_carrier(mall, order_id: str, warehouse_code: str) -> dict | None:
    parcels = ok(httpx.get(f"{carrier_standin(mall)}/standin/parcels", timeout=10))["parcels"]
    ours = [p for p in parcels if p["order_id"] == shipment_id(order_id, warehouse_code)]
    return ours[0] if ours else None


def refunds_at_wechat(mall, out_trade_no: str) -> list[dict]:
    standin = f"http://127.0.0.1:{mall.suite.env['MALL_WECHATPAY_STANDIN_PORT']}"
    return ok(httpx.post(f"{standin}/standin/refunds", json={"out_trade_no": out_trade_no},
                         timeout=10))["refunds"]


def the_shipment(mall, shopper: httpx.Client, order_id: str, state: str | None = None):
    def found():
        parcels = ok(shopper.get("/v1/shipments", params={"order_id": order_id}))["shipments"]
        if parcels and (state is None or parcels[0]["state"] == state):
            return parcels[0]
        return None
    return mall.wait_until(found, timeout=60, what=f"the order's shipment ({state or 'any'})")


def test_staff_cancel_a_paid_order_refunds_it_once_and_stops_the_parcel(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        product, code = stocked_product(mall, admin, f"蕾丝无痕文胸 {word}", 3)
        sku_id = product["skus"][0]["id"]
        _, token = sign_in(anonymous, word)
        with mall.client(token) as shopper:
            order = order_once_known(mall, shopper, sku_id)
            order_id = order["order_id"]
            hold_at_carrier(mall, order_id, code, 0)  # booked, never collected
            intent = pay_with_wechat(mall, shopper, order)
            the_shipment(mall, shopper, order_id)
            mall.wait_until(lambda: parcel_at_carrier(mall, order_id, code), timeout=60,
                            what="the waybill booked at the carrier stand-in")
            assert stock_row(admin, sku_id) == (2, 0)  # committed when paid

            cancelled = ok(admin.post(f"/v1/admin/orders/{order_id}/cancel", json={"reason": "缺货"}))
            assert cancelled["status"] == "cancelled"

            def refunded():
                payment = ok(admin.get(f"/v1/admin/orders/{order_id}/payment"))
                return payment if payment["status_code"] == "refunded" else None
            payment = mall.wait_until(refunded, timeout=60, what="the payment refunded in full")
            assert payment["refunded_fen"] == order["payable_fen"]
            stopped = the_shipment(mall, shopper, order_id, "SHIPMENT_CANCELLED")
            assert parcel_at_carrier(mall, order_id, code)["cancelled"] is True
            mall.wait_until(lambda: stock_row(admin, sku_id) == (3, 0), timeout=30,
                            what="the goods back on the shelf")

            again = admin.post(f"/v1/admin/orders/{order_id}/cancel", json={"reason": "再次"})
            assert ok(again)["status"] == "cancelled"
            view = ok(shopper.get(f"/v1/orders/{order_id}"))
            assert (view["status"], view["refunded_fen"]) == ("cancelled", order["payable_fen"])
            assert [(s["shipment_id"], s["state"]) for s in view["shipments"]] in (
                [], [(stopped["id"], "cancelled")])
        [refund] = refunds_at_wechat(mall, intent["out_trade_no"])
        assert refund["refund"] == order["payable_fen"]
        (done,) = ok(admin.get(f"/v1/admin/orders/{order_id}/refunds"))["refunds"]
        assert (done["status"], done["amount_fen"]) == ("succeeded", order["payable_fen"])
        assert stock_row(admin, sku_id) == (3, 0)
    for service in ("order", "payment", "logistics"):
        assert mall.dead_letters(service) == []


def test_a_collected_parcel_refuses_the_cancel_and_a_full_refund_intercepts_it(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        product, code = stocked_product(mall, admin, f"蕾丝无痕文胸 {word}", 2)
        sku_id = product["skus"][0]["id"]
        _, token = sign_in(anonymous, word)
        with mall.client(token) as shopper:
            order = order_once_known(mall, shopper, sku_id)
            order_id = order["order_id"]
            hold_at_carrier(mall, order_id, code, 2)  # collected and in transit, then waits
            intent = pay_with_wechat(mall, shopper, order)
            the_shipment(mall, shopper, order_id, "SHIPMENT_IN_TRANSIT")
            mall.wait_until(lambda: ok(shopper.get(f"/v1/orders/{order_id}"))["status"] == "shipped",
                            timeout=30, what="the order following the pick-up")

            refused = admin.post(f"/v1/admin/orders/{order_id}/cancel", json={"reason": "缺货"})
            assert refused.status_code == 409, refused.text
            assert "after-sales" in refused.json()["detail"]
            assert ok(shopper.get(f"/v1/orders/{order_id}"))["status"] == "shipped"

            ok(admin.post(f"/v1/admin/orders/{order_id}/refunds", json={
                "refund_request_id": f"e2e-{uuid.uuid4().hex[:12]}", "reason": "拒收",
                "amount_fen": order["payable_fen"]}), 201)
            returning = the_shipment(mall, shopper, order_id, "SHIPMENT_RETURNING")
            assert parcel_at_carrier(mall, order_id, code)["intercepted"] is True
            mall.wait_until(lambda: ok(shopper.get(f"/v1/orders/{order_id}"))["status"] == "refunded",
                            timeout=30, what="the order refunded in full")
            assert returning["id"]
        assert [r["refund"] for r in refunds_at_wechat(mall, intent["out_trade_no"])] \
            == [order["payable_fen"]]
    for service in ("order", "payment", "logistics"):
        assert mall.dead_letters(service) == []
