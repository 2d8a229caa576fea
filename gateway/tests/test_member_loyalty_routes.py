"""The shopper's member routes (/v1/me/..., /v1/points-mall) and the staff's loyalty routes
(/v1/admin/tiers, loyalty-settings, points-mall, adjustments, find-by-phone), through the gateway
against the real member server."""
from __future__ import annotations

import uuid

import pytest

from .helpers import bearer, token

OPERATOR = bearer(token(sub="00000000-0000-4000-8000-0000000000aa", kind="staff",
                        roles=("operator",)))
AGENT = bearer(token(sub="00000000-0000-4000-8000-0000000000ab", kind="staff",
                     roles=("cs_agent",)))


@pytest.fixture
def gateway(gateway_with):
    return gateway_with("member")


def sign_in(gateway) -> tuple[str, dict]:
    login = gateway.post("/v1/auth/wechat-login", json={"code": f"gw{uuid.uuid4().hex[:8]}~1"})
    assert login.status_code == 200, login.text
    body = login.json()
    return body["member_id"], bearer(body["tokens"]["access_token"])


def test_profile_addresses_and_consents(gateway):
    member_id, me = sign_in(gateway)
    changed = gateway.patch("/v1/me/profile", headers=me, json={
        "name": "林晓梅", "phone": "+86 139 1234 5678", "birthday": "1994-07-21",
        "sizes": {"bra_band": 75, "bra_cup": "B", "bottoms_size": "M"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "13912345678"
    bad = gateway.patch("/v1/me/profile", headers=me, json={"phone": "12345"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    assert "phone" in bad.text

    made = gateway.post("/v1/me/addresses", headers=me, json={
        "recipient": "林女士", "phone": "13912345678", "province": "广东省", "city": "深圳市",
        "district": "南山区", "detail": "科技园南路88号"})
    assert made.status_code == 201 and made.json()["is_default"] is True
    no_province = gateway.post("/v1/me/addresses", headers=me, json={
        "recipient": "林女士", "phone": "13912345678", "city": "深圳市", "detail": "x"})
    assert no_province.status_code == 400 and "address.province" in no_province.text
    assert len(gateway.get("/v1/me/addresses", headers=me).json()["addresses"]) == 1
    gone = gateway.delete(f"/v1/me/addresses/{made.json()['address_id']}", headers=me)
    assert gone.status_code == 204

    consent = gateway.post("/v1/me/consents", headers=me,
                           json={"granted": True, "source": "miniprogram:settings"})
    assert consent.status_code == 201 and consent.json()["granted"] is True
    assert gateway.get("/v1/me/consents", headers=me).json()["current"][0]["purpose"] == "marketing"

    found = gateway.post("/v1/admin/members/find-by-phone", headers=AGENT,
                         json={"phone": "139-1234-5678"})
    assert found.status_code == 200 and found.json()["member_id"] == member_id
    assert gateway.post("/v1/admin/members/find-by-phone", headers=me,
                        json={"phone": "13912345678"}).status_code == 403


EXPORTERS = ("member", "order", "logistics", "payment", "promotion", "support", "analytics")


def test_export_gathers_a_section_per_service_then_delete(gateway_with):
    gateway = gateway_with(*EXPORTERS)
    member_id, me = sign_in(gateway)
    gateway.patch("/v1/me/profile", headers=me, json={"name": "删除我"})
    exported = gateway.get("/v1/me/export", headers=me)
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert set(body) == {*EXPORTERS, "exported_at"}
    assert body["member"]["profile"]["name"] == "删除我"
    assert body["order"] == {"orders": [], "cart": {"lines": [], "subtotal_fen": 0, "item_count": 0,
                                                    "unavailable_line_count": 0}}
    assert body["analytics"] == {"fact_count": 0, "by_type": []}
    assert exported.headers["cache-control"] == "no-store"
    assert gateway.delete("/v1/me", headers=me).status_code == 400  # confirm=true is required
    deleted = gateway.delete("/v1/me?confirm=true", headers=me)
    assert deleted.status_code == 200, deleted.text
    assert gateway.get("/v1/me/profile", headers=me).status_code == 401


def test_an_export_with_a_service_down_is_a_503_naming_it(gateway_with):
    gateway = gateway_with(*(name for name in EXPORTERS if name != "logistics"))
    _, me = sign_in(gateway)
    refused = gateway.get("/v1/me/export", headers=me)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["type"] == "urn:mall:problem:service-unavailable"
    assert "logistics" in refused.json()["detail"]


def test_the_export_is_documented_section_by_section(gateway):
    schema = gateway.get("/openapi.json").json()
    operation = schema["paths"]["/v1/me/export"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    documented = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(documented["required"]) == {*EXPORTERS, "exported_at"}


def test_tiers_points_and_the_points_mall(gateway_with):
    gateway = gateway_with("member", "promotion")  # a coupon item's template is checked at save
    member_id, me = sign_in(gateway)
    tiers = gateway.get("/v1/admin/tiers", headers=OPERATOR)
    assert [t["code"] for t in tiers.json()["tiers"]] == ["standard", "silver", "gold", "diamond"]
    negative = gateway.put("/v1/admin/tiers/vip", headers=OPERATOR, json={
        "name": "VIP", "rank": 9, "threshold": -1})
    assert negative.status_code == 400 and "threshold" in negative.text
    assert gateway.get("/v1/admin/tiers", headers=me).status_code == 403

    settings = gateway.put("/v1/admin/loyalty-settings", headers=OPERATOR, json={
        "earn_unit_fen": 10000, "earn_points_per_unit": 10, "birthday_coupon_template_id": "tpl-bd"})
    assert settings.status_code == 200 and settings.json()["birthday_coupon_template_id"] == "tpl-bd"

    adjusted = gateway.post(f"/v1/admin/members/{member_id}/points-adjustments", headers=OPERATOR,
                            json={"points": 150, "reason": "welcome gift"})
    assert adjusted.status_code == 201 and adjusted.json()["balance_after"] == 150
    unknown = gateway.post("/v1/admin/points-mall", headers=OPERATOR, json={
        "kind": "coupon", "title": "无门槛10元券", "coupon_template_id": "tpl-10",
        "points_price": 100, "stock": 5})
    assert unknown.status_code == 400 and [(e["field"], e["rule"]) for e in unknown.json()["errors"]] \
        == [("coupon_template_id", "unknown")]
    template = gateway.post("/v1/admin/coupon-templates", headers=OPERATOR, json={
        "name": "无门槛10元券", "kind": "no_threshold", "amount_fen": 1000, "per_member_limit": 1,
        "total_quantity": 100, "valid_days_after_claim": 7})
    assert template.status_code == 201, template.text
    item = gateway.post("/v1/admin/points-mall", headers=OPERATOR, json={
        "kind": "coupon", "title": "无门槛10元券", "coupon_template_id": template.json()["id"],
        "points_price": 100, "stock": 5})
    assert item.status_code == 201, item.text
    item_id = item.json()["item_id"]
    assert item_id in [i["item_id"] for i in gateway.get("/v1/points-mall", headers=me).json()["items"]]

    key = {**me, "Idempotency-Key": uuid.uuid4().hex}
    redeemed = gateway.post(f"/v1/points-mall/{item_id}/redeem", headers=key, json={})
    assert redeemed.status_code == 201 and redeemed.json()["balance"] == 50
    again = gateway.post(f"/v1/points-mall/{item_id}/redeem", headers=key, json={})
    assert again.json()["redemption_id"] == redeemed.json()["redemption_id"]
    short = gateway.post(f"/v1/points-mall/{item_id}/redeem", headers=me, json={})
    assert short.status_code == 409 and "balance is 50" in short.json()["detail"]
    unknown = gateway.post(f"/v1/points-mall/{uuid.uuid4()}/redeem", headers=me, json={})
    assert unknown.status_code == 404

    points = gateway.get("/v1/me/points?page_size=1", headers=me).json()
    assert points["balance"] == 50 and [e["kind"] for e in points["entries"]] == ["redeem"]
    assert points["page"]["next_page_token"]
    tier = gateway.get("/v1/me/tier", headers=me).json()
    assert tier["tier"]["code"] == "standard" and tier["next_tier"]["code"] == "silver"
