"""VIP 优先购 and a gift with purchase, through the gateway on the real suite.

Early access: staff put a product on early access for 金卡 and above; a standard shopper sees
"coming soon" on its detail and is refused at the cart and at checkout (409 naming the rule),
then, invited to its trial, buys it.
A gift returned: "spend 300, get a bag" on one product, deducting ¥30 when the goods come back;
the order carries the gift line (¥0) and logistics reserves it; staff refund one of two units,
the order falls below ¥300, and ¥30 is kept from that refund; the order says so."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from servicekit.times import rfc3339

from .shop import ADDRESS, ok, pay_with_wechat, place_order, receive, sign_in, stock_row, stocked_pair, unique_word

pytestmark = pytest.mark.e2e
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def test_early_access_refused_then_allowed_once_invited(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        first, _ = stocked_pair(mall, admin, word, 3)
        member_id, token = sign_in(anonymous, word)
        product_id = first["product_id"]
        ok(admin.put(f"/v1/admin/products/{product_id}/early-access", json={
            "min_tier_rank": 2, "tier_name": "金卡", "opens_at": rfc3339(NOW - timedelta(hours=1)),
            "public_at": rfc3339(NOW + timedelta(days=2))}))
        with mall.client(token) as shopper:
            detail = ok(shopper.get(f"/v1/products/{product_id}"))["early_access"]
            assert detail["tier_name"] == "金卡" and detail["open_to_you"] is False

            def refused_at_the_cart():  # once order heard product.updated with the rule
                reply = shopper.post("/v1/cart/items", json={"sku_id": first["id"], "quantity": 1},
                                     headers={"Idempotency-Key": uuid.uuid4().hex})
                return reply if reply.status_code == 409 else None
            problem = mall.wait_until(refused_at_the_cart, timeout=30,
                                      what="order keeping the early-access rule").json()
            assert [(e["field"], e["rule"]) for e in problem["errors"]] == [("sku_id", "early_access")]
            placed = shopper.post("/v1/orders", json={
                "lines": [{"sku_id": first["id"], "quantity": 1}], "shipping_address": ADDRESS},
                headers={"Idempotency-Key": uuid.uuid4().hex})
            assert placed.status_code == 409 and "early_access" in placed.text

            ok(admin.post(f"/v1/admin/products/{product_id}/trial-invitations",
                          json={"member_ids": [member_id]}))

            def added():  # once order heard product.trial_invited
                reply = shopper.post("/v1/cart/items", json={"sku_id": first["id"], "quantity": 1},
                                     headers={"Idempotency-Key": uuid.uuid4().hex})
                return reply if reply.status_code == 200 else None
            mall.wait_until(added, timeout=30, what="order keeping the invitation")
            assert ok(shopper.get(f"/v1/products/{product_id}"))["early_access"]["open_to_you"]
            order = place_order(shopper, [(first["id"], 1)])
            assert order["status"] == "pending_payment"
    assert mall.dead_letters("order") == [] and mall.dead_letters("catalog") == []


def test_a_gift_is_reserved_and_its_value_kept_when_the_goods_come_back(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        bra, bag = stocked_pair(mall, admin, word, 2)  # ¥199 and ¥219; the second is the gift
        warehouse = ok(admin.get("/v1/admin/logistics/stock", params={"sku_id": bra["id"]})
                       )["skus"][0]["warehouses"][0]["warehouse_code"]
        receive(admin, warehouse, bag["id"], 1)
        _, token = sign_in(anonymous, word)
        ok(admin.post("/v1/admin/campaigns", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
            "name": f"满300赠 {word}", "kind": "gift", "starts_at": rfc3339(NOW - timedelta(hours=1)),
            "ends_at": rfc3339(NOW + timedelta(days=1)), "scope": "products",
            "product_ids": [bra["product_id"]],
            "gift": {"threshold_fen": 30000, "gift_sku_id": bag["id"],
                     "gift_product_id": bag["product_id"], "gift_title": "收纳袋",
                     "quantity_per_order": 1, "stock": 5, "return_rule": "deduct",
                     "gift_value_fen": 3000}}), 201)
        with mall.client(token) as shopper:
            def previewed_with_the_gift():  # promotion's api reloads its rules within seconds
                preview = ok(shopper.post("/v1/checkout/preview", json={
                    "lines": [{"sku_id": bra["id"], "quantity": 2}], "shipping_address": ADDRESS}))
                return preview if any(line["gift"] for line in preview["lines"]) else None
            mall.wait_until(previewed_with_the_gift, timeout=30, what="the gift in the quote")
            order = place_order(shopper, [(bra["id"], 2)])
            bought, gift = order["lines"]
            assert (gift["sku_id"], gift["gift"], gift.get("paid_fen", 0)) == (bag["id"], True, 0)
            assert stock_row(admin, bag["id"])[1] == 1  # the gift is reserved with the order
            pay_with_wechat(mall, shopper, order)

            refund = ok(admin.post(f"/v1/admin/orders/{order['order_id']}/refunds", json={
                "refund_request_id": f"e2e-{uuid.uuid4().hex[:12]}", "reason": "退一件",
                "lines": [{"line_id": bought["line_id"], "sku_id": bra["id"], "quantity": 1,
                           "amount_fen": bought["paid_fen"] // 2}]}), 201)
            assert refund["amount_fen"] == bought["paid_fen"] // 2 - 3000  # ¥30 kept for the gift
            assert refund["lines"][0]["deducted_fen"] == 3000

            def gift_settled():
                lines = ok(shopper.get(f"/v1/orders/{order['order_id']}"))["lines"]
                return lines if lines[1].get("gift_outcome") else None
            bought_now, gift_now = mall.wait_until(gift_settled, timeout=30,
                                                   what="order recording the gift's outcome")
            assert (gift_now["gift_outcome"], gift_now["gift_deducted_fen"]) == ("deducted", 3000)
            assert bought_now["refunded_quantity"] == 1
    for service in ("order", "payment", "logistics", "promotion"):
        assert mall.dead_letters(service) == []
