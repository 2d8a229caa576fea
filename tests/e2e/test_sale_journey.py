"""A time-limited sale through the gateway on the real suite: staff create a sale on one
product; catalog's worker hears campaign.changed and the shelf (search and detail) shows the sale
price, the original price and when the sale ends; the cart's preview says until when the sale
price holds; the order placed in the sale keeps its price after staff end the sale (the shelf and
a new preview are at list price again) and is paid at that price."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from servicekit.times import rfc3339

from .shop import ADDRESS, ok, pay_with_wechat, place_order, sign_in, stocked_pair, unique_word

pytestmark = pytest.mark.e2e


def test_a_sale_on_the_shelf_at_the_cart_and_through_payment(mall, admin_token):
    word = unique_word()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ends = now + timedelta(hours=1)
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        first, _second = stocked_pair(mall, admin, word, 2)      # ¥199 and ¥219
        product_id = first["product_id"]
        sale = ok(admin.post("/v1/admin/campaigns", json={
            "name": f"限时8折 {word}", "kind": "sale", "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": ends.isoformat(),
            "sale": {"scope": "sale_products", "product_ids": [product_id], "price_percent": 80}}), 201)
        ended = False
        try:
            def on_the_shelf():
                detail = ok(anonymous.get(f"/v1/products/{product_id}"))
                return detail if (detail.get("sale") or {}).get("on_now") else None
            detail = mall.wait_until(on_the_shelf, timeout=30,
                                     what="catalog showing the sale from campaign.changed")
            shown = detail["sale"]
            assert (shown["sale_min_price_fen"], shown["original_min_price_fen"]) == (15920, 19900)
            assert shown["ends_at"] == rfc3339(ends) and shown["price_percent"] == 80
            assert {s["id"]: s["sale_price_fen"] for s in detail["skus"]}[first["id"]] == 15920
            card = [p for p in ok(anonymous.get("/v1/search", params={"q": word}))["products"]
                    if p["id"] == product_id]
            assert card and card[0]["sale"]["sale_min_price_fen"] == 15920

            _, token = sign_in(anonymous, word)
            with mall.client(token) as shopper:
                body = {"lines": [{"sku_id": first["id"], "quantity": 1}], "shipping_address": ADDRESS}
                preview = ok(shopper.post("/v1/checkout/preview", json=body))
                assert preview["lines"][0]["sale_ends_at"] == rfc3339(ends)
                order = place_order(shopper, [(first["id"], 1)])
                assert order["payable_fen"] == 15920 and order["lines"][0]["discounts"] == {"sale": 3980}

                ok(admin.post(f"/v1/admin/campaigns/{sale['id']}/end"))
                ended = True
                mall.wait_until(lambda: not ok(anonymous.get(f"/v1/products/{product_id}")).get("sale"),
                                timeout=30, what="the ended sale leaving the shelf")
                mall.wait_until(lambda: ok(shopper.post("/v1/checkout/preview", json=body))
                                ["lines"][0]["paid_fen"] == 19900, timeout=30,
                                what="the cart at list price again")
                pay_with_wechat(mall, shopper, order)  # the intent is for the order's 159.20
                paid = ok(shopper.get(f"/v1/orders/{order['order_id']}"))
                assert paid["payable_fen"] == paid["paid_fen"] == 15920
        finally:
            if not ended:
                admin.post(f"/v1/admin/campaigns/{sale['id']}/end")
    for service in ("catalog", "promotion", "order"):
        assert mall.dead_letters(service) == []
