"""WeChat keeps a mini-program's money frozen until it is told: a shopper pays with WeChat Pay,
staff book the waybill, and member uploads the shipping info to the WeChat stand-in (exactly one
upload, the parcel's tracking number, WeChat's carrier code, the shopper as payer); the carrier
stand-in walks the parcel to the door and member sends the one receipt reminder."""
from __future__ import annotations

import httpx
import pytest

from .shop import (
    ok,
    pay_with_wechat,
    place_order,
    sign_in,
    stocked_sku,
    unique_word,
    wait_until_delivered,
)

pytestmark = pytest.mark.e2e

WECHAT_CARRIER_CODES = {"sf": "SF", "zto": "ZTO"}


def at_wechat(mall) -> dict:
    """What the WeChat stand-in (another process) holds: every accepted upload and reminder."""
    standin = f"http://127.0.0.1:{mall.suite.env['MALL_WECHAT_STANDIN_PORT']}"
    return ok(httpx.get(f"{standin}/standin/shipping", timeout=10))


def test_the_waybill_is_uploaded_once_and_the_shopper_reminded_on_delivery(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        sku_id = stocked_sku(mall, admin, word, 2)
        _, token = sign_in(anonymous, word)

    with mall.client(token) as shopper:
        order = place_order(shopper, [(sku_id, 1)])
        order_id = order["order_id"]
        pay_with_wechat(mall, shopper, order)

        def my_parcels():
            return ok(shopper.get("/v1/shipments", params={"order_id": order_id}))["shipments"]
        mall.wait_until(my_parcels, timeout=60, what="the order's shipment")
        with mall.client(admin_token) as admin:  # staff ship it now (the timer would, later)
            ok(admin.post("/v1/admin/logistics/waybills", json={"order_ids": [order_id]}))
        (parcel,) = mall.wait_until(lambda: [p for p in my_parcels() if p.get("waybill_no")],
                                    timeout=60, what="the booked waybill")

        def my_uploads():
            return [u for u in at_wechat(mall)["uploads"]
                    if u["shipping_list"][0]["tracking_no"] == parcel["waybill_no"]]
        (upload,) = mall.wait_until(my_uploads, timeout=60, what="the upload at WeChat")
        assert upload["shipping_list"][0]["express_company"] == \
            WECHAT_CARRIER_CODES[parcel["carrier"]]
        assert (upload["logistics_type"], upload["delivery_mode"]) == (1, 1)
        assert upload["order_key"]["order_number_type"] == 2
        transaction_id = upload["order_key"]["transaction_id"]

        wait_until_delivered(mall, shopper, order_id)

        def my_reminders():
            return [r for r in at_wechat(mall)["reminders"]
                    if r["transaction_id"] == transaction_id]
        (reminder,) = mall.wait_until(my_reminders, timeout=60, what="the receipt reminder")
        assert isinstance(reminder["received_time"], int)

    held = at_wechat(mall)
    assert len([u for u in held["uploads"]
                if u["order_key"]["transaction_id"] == transaction_id]) == 1
    assert len([r for r in held["reminders"] if r["transaction_id"] == transaction_id]) == 1
    assert mall.dead_letters("member") == []
