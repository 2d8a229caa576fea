"""Promotions through the gateway against the real promotion server: staff create coupon
templates and campaigns and issue coupons; shoppers claim and list theirs; errors name fields."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from .helpers import bearer, token

OPERATOR = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("operator",)))
ANALYST = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("analyst",)))
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def shopper(member_id: str) -> dict:
    return bearer(token(sub=member_id))


@pytest.fixture
def gateway(gateway_with, monkeypatch):
    # Made-up SKUs, no catalog: promotion's check against catalog is tested in its own tests.
    monkeypatch.setenv("MALL_PROMOTION_CHECK_CATALOG", "0")
    return gateway_with("promotion")


def template_body(**overrides) -> dict:
    body = {"name": "新人券 满199减30", "kind": "fixed_amount", "amount_fen": 3000,
            "threshold_fen": 19900, "per_member_limit": 1, "total_quantity": 100,
            "valid_days_after_claim": 7, "claimable": True}
    body.update(overrides)
    return body


def flash_body(**overrides) -> dict:
    body = {"name": "周五秒杀", "kind": "flash_sale", "starts_at": NOW.isoformat(),
            "ends_at": (NOW + timedelta(days=30)).isoformat(),
            "session": {"weekday": 5, "start": "20:00", "end": "22:00"}, "per_member_limit": 1,
            "flash_items": [{"sku_id": "sku-1", "sale_price_fen": 9900, "quota": 100}]}
    body.update(overrides)
    return body


def test_staff_create_a_template_shoppers_claim_it_once_and_see_it(gateway):
    made = gateway.post("/v1/admin/coupon-templates", headers=OPERATOR, json=template_body())
    assert made.status_code == 201, made.text
    template_id = made.json()["id"]
    assert made.json()["spec"]["kind"] == "FIXED_AMOUNT" and made.json()["spec"]["amount_fen"] == 3000
    listed = gateway.get("/v1/coupons/claimable", headers=shopper("m-1")).json()
    assert [t["id"] for t in listed["templates"]] == [template_id]
    claimed = gateway.post(f"/v1/coupons/{template_id}/claim", headers=shopper("m-1"))
    assert claimed.status_code == 201, claimed.text
    assert (claimed.json()["member_id"], claimed.json()["status"]) == ("m-1", "available")
    again = gateway.post(f"/v1/coupons/{template_id}/claim", headers=shopper("m-1"))
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert [e["rule"] for e in again.json()["errors"]] == ["per_member_limit"]
    mine = gateway.get("/v1/me/coupons", params={"status": "available"}, headers=shopper("m-1")).json()
    assert [c["id"] for c in mine["coupons"]] == [claimed.json()["id"]]
    assert gateway.get("/v1/me/coupons", headers=shopper("m-2")).json()["coupons"] == []


@pytest.fixture
def members(runtime_for):
    """members("m-1", ...): live members on member's real server (the gateway's "member"), which
    promotion asks before a staff issue."""
    from services.member.testing import add_member_ids

    return lambda *ids: add_member_ids(runtime_for("member"), ids)


def test_staff_issue_to_members_and_revoke(gateway_with, members):
    gateway = gateway_with("promotion", "member")
    members("m-1", "m-2")
    template_id = gateway.post("/v1/admin/coupon-templates", headers=OPERATOR,
                               json=template_body(claimable=False)).json()["id"]
    issued = gateway.post(f"/v1/admin/coupon-templates/{template_id}/issue", headers=OPERATOR,
                          json={"member_ids": ["m-1", "m-2"]})
    assert issued.status_code == 201, issued.text
    coupons = issued.json()["coupons"]
    assert [(c["member_id"], c["source"]) for c in coupons] == [("m-1", "staff"), ("m-2", "staff")]
    revoked = gateway.post(f"/v1/admin/coupons/{coupons[0]['id']}/revoke", headers=OPERATOR,
                           json={"reason": "误发"})
    assert revoked.json()["status"] == "revoked"
    assert gateway.post(f"/v1/admin/coupons/{coupons[0]['id']}/revoke", headers=OPERATOR,
                        json={}).status_code == 409
    assert gateway.post(f"/v1/coupons/{template_id}/claim", headers=shopper("m-3")).status_code == 409
    assert gateway.get(f"/v1/admin/coupon-templates/{template_id}",
                       headers=OPERATOR).json()["issued_count"] == 2
    unknown = gateway.post(f"/v1/admin/coupon-templates/{template_id}/issue", headers=OPERATOR,
                           json={"member_ids": ["m-2", "m-404"]})
    assert unknown.status_code == 400, unknown.text
    assert [(e["field"], e["rule"]) for e in unknown.json()["errors"]] == [("member_ids[1]", "unknown")]


def test_campaigns_are_created_listed_and_ended(gateway):
    made = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=flash_body())
    assert made.status_code == 201, made.text
    campaign = made.json()
    assert campaign["spec"]["session"] == {"weekday": 5, "start": "20:00", "end": "22:00",
                                        "weekdays": []}
    assert campaign["spec"]["flash_items"][0]["quota"] == 100
    assert campaign["quotas"] == []  # a weekly sale's quotas are per session, from its first sale
    ladder = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json={
        "name": "满200减50 满400减120", "kind": "threshold", "starts_at": NOW.isoformat(),
        "ends_at": (NOW + timedelta(days=7)).isoformat(), "scope": "categories",
        "category_ids": ["bras"], "rungs": [{"threshold_fen": 20000, "off_fen": 5000},
                                            {"threshold_fen": 40000, "off_fen": 12000}]})
    assert ladder.status_code == 201, ladder.text
    listed = gateway.get("/v1/admin/campaigns", headers=OPERATOR).json()
    assert [c["id"] for c in listed["campaigns"]] == [ladder.json()["id"], campaign["id"]]
    ended = gateway.post(f"/v1/admin/campaigns/{campaign['id']}/end", headers=OPERATOR)
    assert ended.json()["status"] == "ended"
    assert gateway.get("/v1/admin/campaigns/999999", headers=OPERATOR).status_code == 404


def test_a_gift_campaign_states_what_a_refund_below_its_threshold_does(gateway):
    gift: dict = {"threshold_fen": 30000, "gift_sku_id": "sku-bag", "gift_title": "收纳袋",
                  "quantity_per_order": 1, "stock": 50, "return_rule": "deduct",
                  "gift_value_fen": 3000}
    body = {"name": "满300赠", "kind": "gift", "starts_at": NOW.isoformat(),
            "ends_at": (NOW + timedelta(days=7)).isoformat(), "gift": gift}
    idem = {**OPERATOR, "Idempotency-Key": uuid.uuid4().hex}
    made = gateway.post("/v1/admin/campaigns", headers=idem, json=body)
    assert made.status_code == 201, made.text
    assert (made.json()["spec"]["gift"]["return_rule"], made.json()["spec"]["gift"]["gift_value_fen"]) \
        == ("deduct", 3000)
    gift.update(return_rule="keep")
    assert gateway.post("/v1/admin/campaigns", headers={**OPERATOR, "Idempotency-Key": "g-2"},
                        json=body).status_code == 400
    gift.update(return_rule="deduct", gift_value_fen=0)
    free = gateway.post("/v1/admin/campaigns", headers={**OPERATOR, "Idempotency-Key": "g-3"},
                        json=body)
    assert free.status_code == 400 and "spec.gift.gift_value_fen" in free.text


def test_bad_campaigns_name_their_fields(gateway):
    backwards = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=flash_body(
        ends_at=(NOW - timedelta(days=1)).isoformat()))
    assert backwards.status_code == 400
    assert {(e["field"], e["rule"]) for e in backwards.json()["errors"]} == \
        {("spec.ends_at", "after_start")}
    assert gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=flash_body()).status_code == 201
    overlapping = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=flash_body(
        name="周五晚场", session={"weekday": 5, "start": "21:00", "end": "23:00"}))
    assert overlapping.status_code == 400
    assert [(e["field"], e["rule"]) for e in overlapping.json()["errors"]] == \
        [("spec.sku_ids", "overlaps")]
    shapeless = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json={"kind": "lottery"})
    assert shapeless.status_code == 400


def test_roles_and_accounts(gateway):
    assert gateway.get("/v1/admin/campaigns").status_code == 401
    assert gateway.get("/v1/admin/campaigns", headers=ANALYST).status_code == 403
    assert gateway.get("/v1/admin/campaigns", headers=shopper("m-1")).status_code == 403
    assert gateway.get("/v1/me/coupons", headers=OPERATOR).status_code == 403
    assert gateway.get("/v1/me/coupons", params={"status": "lost"},
                       headers=shopper("m-1")).status_code == 400


def sale_body(**overrides) -> dict:
    body = {"name": "周五狂欢", "kind": "sale", "starts_at": NOW.isoformat(),
            "ends_at": (NOW + timedelta(days=30)).isoformat(),
            "session": {"weekdays": [5, 6], "start": "20:00", "end": "22:00"},
            "sale": {"scope": "sale_all", "price_percent": 80, "exclude_category_ids": ["cat-new"]}}
    body.update(overrides)
    return body


def test_staff_create_a_store_wide_sale_and_bad_input_is_named(gateway):
    made = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=sale_body())
    assert made.status_code == 201, made.text
    spec = made.json()["spec"]
    assert spec["kind"] == "SALE" and spec["session"]["weekdays"] == [5, 6]
    assert spec["sale"]["price_percent"] == 80 and made.json()["version"] == 1
    for sale, field, rule in [
            ({"scope": "sale_all", "price_percent": 120}, "spec.sale.price_percent", "range"),
            ({"scope": "sale_categories", "price_percent": 80}, "spec.sale.category_ids", "required")]:
        bad = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=sale_body(sale=sale))
        assert bad.status_code == 400, bad.text
        assert (field, rule) in [(e["field"], e["rule"]) for e in bad.json()["errors"]]
    backwards = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=sale_body(
        session={"weekdays": [5], "start": "22:00", "end": "20:00"}))
    assert backwards.status_code == 400
    assert ("spec.session.end", "after_start") in [(e["field"], e["rule"])
                                                    for e in backwards.json()["errors"]]


def test_staff_read_and_set_the_stacking_rules(gateway):
    first = gateway.get("/v1/admin/promotions/stacking", headers=OPERATOR)
    assert first.status_code == 200, first.text
    assert first.json()["is_default"] is True
    put = gateway.put("/v1/admin/promotions/stacking", headers=OPERATOR, json={
        "on_sale_items": {"coupons_on_sale_items": True, "points_on_sale_items": True},
        "floor_percent": 60})
    assert put.status_code == 200, put.text
    assert put.json()["floor_percent"] == 60 and put.json()["on_sale_items"]["coupons_on_sale_items"]
    assert gateway.get("/v1/admin/promotions/stacking", headers=OPERATOR).json()["is_default"] is False
    bad = gateway.put("/v1/admin/promotions/stacking", headers=OPERATOR, json={
        "on_sale_items": {}, "floor_percent": 101})
    assert bad.status_code == 400
    assert [(e["field"], e["rule"]) for e in bad.json()["errors"]] == [("rules.floor_percent", "range")]
    assert gateway.get("/v1/admin/promotions/stacking", headers=ANALYST).status_code == 403
    assert gateway.put("/v1/admin/promotions/stacking", headers=shopper("m-1"),
                       json={"on_sale_items": {}}).status_code in (401, 403)
