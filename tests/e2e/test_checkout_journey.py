"""A shopper's checkout through the gateway on the real suite: cart → place order → pay with the
WeChat Pay stand-in (a signed notification, as WeChat would send) → PAID → logistics ships and the
carrier stand-in delivers → confirm receipt → COMPLETED; and an unpaid order that the worker's
timer cancels (the suite's pay window is seconds: MALL_ORDER_PAY_WINDOW_MINUTES in the harness),
giving its stock back."""
from __future__ import annotations

import uuid

import httpx
import pytest

from .shop import (
    ADDRESS,
    ok,
    status_of,
    stock_row,
    stocked_sku,
    unique_word,
    wait_until_delivered,
    wait_until_paid,
)

pytestmark = pytest.mark.e2e


def place_from_cart(shopper: httpx.Client, sku_id: str, quantity: int) -> dict:
    ok(shopper.post("/v1/cart/items", json={"sku_id": sku_id, "quantity": quantity}))
    body = {"shipping_address": ADDRESS}
    ok(shopper.post("/v1/checkout/preview", json=body))
    key = {"Idempotency-Key": uuid.uuid4().hex}
    order = ok(shopper.post("/v1/orders", json=body, headers=key), 201)
    again = shopper.post("/v1/orders", json=body, headers=key)  # a retry: the first order
    assert again.json()["order_id"] == order["order_id"], again.text
    assert order["status"] == "pending_payment"
    return order


def test_a_shopper_pays_with_wechat_and_the_order_completes(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        sku_id = stocked_sku(mall, admin, word, 3)
        login = ok(anonymous.post("/v1/auth/wechat-login", json={"code": f"{word}~1"}))
    token = login["tokens"]["access_token"]

    with mall.client(token) as shopper:
        order = place_from_cart(shopper, sku_id, 2)
        order_id = order["order_id"]
        # a client-sent amount is ignored: the order decides it
        paying = ok(shopper.post(f"/v1/orders/{order_id}/payments",
                                 json={"method": "wechat_jsapi", "amount_fen": 1,
                                       "payer_openid": f"openid-{word}"},
                                 headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
        assert paying["wx_request_payment"]["paySign"]
        assert int(paying["intent"]["amount_fen"]) == order["payable_fen"]
        standin = f"http://127.0.0.1:{mall.suite.env['MALL_WECHATPAY_STANDIN_PORT']}"
        ok(httpx.post(f"{standin}/standin/pay",
                      json={"out_trade_no": paying["intent"]["out_trade_no"]}, timeout=10))
        wait_until_paid(mall, shopper, order_id)

        def my_parcels():
            return ok(shopper.get("/v1/shipments", params={"order_id": order_id}))["shipments"]
        (parcel,) = mall.wait_until(my_parcels, timeout=60, what="the order's shipment")
        wait_until_delivered(mall, shopper, order_id)
        done = ok(shopper.post(f"/v1/orders/{order_id}/confirm-receipt"))
        assert done["status"] == "completed"
        with pytest.raises(AssertionError, match="409|400"):  # a second confirmation is refused
            ok(shopper.post(f"/v1/orders/{order_id}/confirm-receipt"))

    with mall.client(admin_token) as admin:
        assert stock_row(admin, sku_id) == (1, 0)  # committed: two left the shelf
    for service in ("order", "payment", "logistics"):
        assert mall.dead_letters(service) == []


def test_an_unpaid_order_cancels_by_itself_and_gives_its_stock_back(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        sku_id = stocked_sku(mall, admin, word, 2)
        login = ok(anonymous.post("/v1/auth/wechat-login", json={"code": f"{word}~1"}))
        with mall.client(login["tokens"]["access_token"]) as shopper:
            order = place_from_cart(shopper, sku_id, 2)
            assert stock_row(admin, sku_id) == (2, 2)
            mall.wait_until(lambda: status_of(shopper, order["order_id"]) == "cancelled",
                            timeout=60, what="the pay-window timer cancelling the order")
        mall.wait_until(lambda: stock_row(admin, sku_id) == (2, 0), timeout=30,
                        what="the reservation released")
    assert mall.dead_letters("order") == []
