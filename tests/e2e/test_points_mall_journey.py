"""Points spent for nothing, no more: through the gateway of the whole suite as processes.

- A coupon item whose template ended after staff listed it: promotion cannot issue the coupon
  (coupon.issue_failed), member gives the points back (a `return` entry) and support's inbox says
  so (points.redemption_failed).
- Staff listing a coupon item naming a template promotion does not know get 400 naming the field.
- A gift redeemed with one of her saved addresses: logistics ships it from the warehouse that has
  it, the parcel appears under her shipments and the carrier stand-in walks it to the door."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from .shop import ok, sign_in, stocked_product, unique_word

pytestmark = pytest.mark.e2e

HANGZHOU = {"recipient": "周女士", "phone": "13700000000", "province": "浙江省", "city": "杭州市",
            "district": "西湖区", "detail": "文三路 1 号"}


def redeem(shopper, item_id: str, **body) -> dict:
    return ok(shopper.post(f"/v1/points-mall/{item_id}/redeem", json=body,
                           headers={"Idempotency-Key": uuid.uuid4().hex}), 201)


def test_a_coupon_that_cannot_be_issued_gives_the_points_back_and_says_so(mall, admin_token):
    word = unique_word()
    now = datetime.now(timezone.utc)
    ends = now + timedelta(seconds=8)
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        member_id, token = sign_in(anonymous, word)
        ok(admin.post(f"/v1/admin/members/{member_id}/points-adjustments",
                      json={"points": 500, "reason": "e2e: 积分兑换"}), 201)
        unknown = admin.post("/v1/admin/points-mall", json={
            "kind": "coupon", "title": "无门槛10元券", "coupon_template_id": "999999999",
            "points_price": 200, "stock": 5})
        assert unknown.status_code == 400, unknown.text
        assert [(e["field"], e["rule"]) for e in unknown.json()["errors"]] == [
            ("coupon_template_id", "unknown")]
        template = ok(admin.post("/v1/admin/coupon-templates", json={
            "name": f"积分券 {word}", "kind": "NO_THRESHOLD", "amount_fen": 1000,
            "window": {"valid_from": now.isoformat(), "valid_until": ends.isoformat()},
            "per_member_limit": 1, "total_quantity": 100}), 201)
        item = ok(admin.post("/v1/admin/points-mall", json={
            "kind": "coupon", "title": f"无门槛10元券 {word}", "coupon_template_id": template["id"],
            "points_price": 200, "stock": 5}), 201)
    time.sleep(max(0.0, (ends - datetime.now(timezone.utc)).total_seconds()) + 0.5)  # it ended

    with mall.client(token) as shopper:
        done = redeem(shopper, item["item_id"])
        assert done["balance"] == 300

        def returned():
            entries = ok(shopper.get("/v1/me/points", params={"page_size": 100}))["entries"]
            return [e for e in entries if e["kind"] == "return"]
        (back,) = mall.wait_until(returned, timeout=60, what="the points coming back")
        assert (back["points"], back["ref"], back["balance_after"]) == (
            200, done["redemption_id"], 500)

        def told():
            notices = ok(shopper.get("/v1/me/notifications"))["notifications"]
            return [n for n in notices if n["kind_code"] == "points_redemption_failed"]
        (notice,) = mall.wait_until(told, timeout=60, what="the inbox telling her")
        assert notice["title"] == "积分已退回" and "200 积分已退回" in notice["body"]
        assert "已结束" in notice["body"]
        coupons = ok(shopper.get("/v1/me/coupons"))["coupons"]
        assert [c for c in coupons if c["template_id"] == template["id"]] == []
    for service in ("promotion", "member", "support"):
        assert mall.dead_letters(service) == []


def test_a_gift_redeemed_for_points_ships_to_her_address_and_is_tracked(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        product, code = stocked_product(mall, admin, f"真丝眼罩 {word}", 2)
        sku_id = product["skus"][0]["id"]
        member_id, token = sign_in(anonymous, word)
        ok(admin.post(f"/v1/admin/members/{member_id}/points-adjustments",
                      json={"points": 800, "reason": "e2e: 积分兑换"}), 201)
        gift = ok(admin.post("/v1/admin/points-mall", json={
            "kind": "gift", "title": f"真丝眼罩 {word}", "gift_sku_id": sku_id,
            "points_price": 300, "stock": 10}), 201)

    with mall.client(token) as shopper:
        home = ok(shopper.post("/v1/me/addresses", json=HANGZHOU), 201)
        needs = shopper.post(f"/v1/points-mall/{gift['item_id']}/redeem", json={},
                             headers={"Idempotency-Key": uuid.uuid4().hex})
        assert needs.status_code == 400 and "address_id" in needs.text
        done = redeem(shopper, gift["item_id"], address_id=home["address_id"])
        assert done["balance"] == 500

        def my_parcels():
            return ok(shopper.get("/v1/shipments"))["shipments"]
        (parcel,) = mall.wait_until(my_parcels, timeout=60, what="the gift's shipment")
        assert [(i["sku_id"], i["quantity"]) for i in parcel["items"]] == [(sku_id, 1)]
        assert (parcel["redemption_id"], parcel["order_id"]) == (done["redemption_id"], "")

        def delivered():
            detail = ok(shopper.get(f"/v1/shipments/{parcel['id']}"))
            return detail if detail["state"] == "SHIPMENT_DELIVERED" else None
        detail = mall.wait_until(delivered, timeout=90, what="the stand-in delivering the gift")
        assert [step["state"] for step in detail["timeline"]] == [
            "SHIPMENT_CREATED", "SHIPMENT_PICKED_UP", "SHIPMENT_IN_TRANSIT",
            "SHIPMENT_OUT_FOR_DELIVERY", "SHIPMENT_DELIVERED"]
        entries = ok(shopper.get("/v1/me/points", params={"page_size": 100}))["entries"]
        assert [e["kind"] for e in entries if e["ref"] == done["redemption_id"]] == ["redeem"]

    with mall.client(admin_token) as admin:
        stock = ok(admin.get("/v1/admin/logistics/stock", params={"sku_id": sku_id}))
        (row,) = stock["skus"][0]["warehouses"]
        assert (row["warehouse_code"], row["on_hand"], row["reserved"]) == (code, 1, 0)
    for service in ("logistics", "member"):
        assert mall.dead_letters(service) == []
    # the parcel's shipment.* events reach order too, which follows no order for them (other
    # journeys of the session may park events of orders order never saw: not this parcel's)
    assert [d for d in mall.dead_letters("order") if "no order \"" in d] == []
