"""Staff edit campaigns and coupon templates through the gateway against the real promotion
server: PUT with the version read, the refusals as problem bodies (stale version, repricing a
running campaign, an end in the past, an ended campaign, a template in use), retiring a template,
and the history of who changed what."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from .helpers import bearer, token

STAFF_ID = str(uuid.uuid4())
OPERATOR = bearer(token(sub=STAFF_ID, kind="staff", roles=("operator",)))
ANALYST = bearer(token(sub=str(uuid.uuid4()), kind="staff", roles=("analyst",)))
NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def gateway(gateway_with, monkeypatch):
    # Made-up SKUs, no catalog: promotion's check against catalog is tested in its own tests.
    monkeypatch.setenv("MALL_PROMOTION_CHECK_CATALOG", "0")
    return gateway_with("promotion")


def flash_body(**overrides) -> dict:
    body = {"name": "天天秒杀", "kind": "flash_sale", "starts_at": (NOW - timedelta(hours=1)).isoformat(),
            "ends_at": (NOW + timedelta(days=3)).isoformat(), "per_member_limit": 1,
            "flash_items": [{"sku_id": "sku-1", "sale_price_fen": 9900, "quota": 100}]}
    body.update(overrides)
    return body


def template_body(**overrides) -> dict:
    body = {"name": "新人券 满199减30", "kind": "fixed_amount", "amount_fen": 3000,
            "threshold_fen": 19900, "per_member_limit": 1, "total_quantity": 100,
            "valid_days_after_claim": 7, "claimable": True}
    body.update(overrides)
    return body


def problem(response, status: int, slug: str) -> list[tuple[str, str]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:mall:problem:{slug}"
    return [(e["field"], e["rule"]) for e in response.json()["errors"]]


def test_staff_edit_a_running_campaign_within_the_rules(gateway):
    made = gateway.post("/v1/admin/campaigns", headers=OPERATOR, json=flash_body())
    assert made.status_code == 201, made.text
    campaign_id, path = made.json()["id"], f"/v1/admin/campaigns/{made.json()['id']}"
    assert made.json()["version"] == 1
    later = (NOW + timedelta(days=7)).isoformat()
    edited = gateway.put(path, headers=OPERATOR, json=flash_body(
        name="天天秒杀 延长", ends_at=later, version=1,
        flash_items=[{"sku_id": "sku-1", "sale_price_fen": 9900, "quota": 300}]))
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["spec"]["name"]) == (2, "天天秒杀 延长")
    assert edited.json()["quotas"][0]["total"] == 300

    stale = gateway.put(path, headers=OPERATOR, json=flash_body(name="又改", version=1))
    assert problem(stale, 409, "aborted") == [("version", "stale")]
    repriced = gateway.put(path, headers=OPERATOR, json=flash_body(
        ends_at=later, version=2, flash_items=[{"sku_id": "sku-1", "sale_price_fen": 5900, "quota": 300}]))
    assert problem(repriced, 400, "invalid-argument") == [("spec.flash_items[0].sale_price_fen", "running")]
    past = gateway.put(path, headers=OPERATOR, json=flash_body(
        ends_at=(NOW - timedelta(minutes=5)).isoformat(), version=2,
        flash_items=[{"sku_id": "sku-1", "sale_price_fen": 9900, "quota": 300}]))
    assert ("spec.ends_at", "future") in problem(past, 400, "invalid-argument")
    no_version = gateway.put(path, headers=OPERATOR, json=flash_body())
    assert problem(no_version, 400, "invalid-argument")[0][0].endswith("version")

    gateway.post(f"{path}/end", headers=OPERATOR)
    ended = gateway.put(path, headers=OPERATOR, json=flash_body(ends_at=later, version=3))
    assert problem(ended, 409, "failed-precondition") == [("id", "ended")]

    history = gateway.get(f"{path}/history", headers=OPERATOR, params={"page_size": 2})
    assert history.status_code == 200, history.text
    entries = history.json()["entries"]
    assert [(e["action"], e["version"], e["changed_by"]) for e in entries] == [
        ("ended", 3, STAFF_ID), ("updated", 2, STAFF_ID)]
    assert {(c["field"], c["before"], c["after"]) for c in entries[1]["changes"]} >= {
        ("name", "天天秒杀", "天天秒杀 延长"), ("flash_items[0].quota", "100", "300")}
    rest = gateway.get(f"{path}/history", headers=OPERATOR,
                       params={"page_token": history.json()["page"]["next_page_token"]}).json()
    assert [e["action"] for e in rest["entries"]] == ["created"]
    assert gateway.get("/v1/admin/campaigns/999999/history", headers=OPERATOR).status_code == 404
    assert campaign_id


def test_staff_edit_and_retire_a_coupon_template(gateway):
    made = gateway.post("/v1/admin/coupon-templates", headers=OPERATOR, json=template_body())
    template_id = made.json()["id"]
    path = f"/v1/admin/coupon-templates/{template_id}"
    richer = gateway.put(path, headers=OPERATOR, json=template_body(amount_fen=5000, version=1))
    assert richer.status_code == 200, richer.text  # nobody holds one yet: any change
    assert (richer.json()["version"], richer.json()["spec"]["amount_fen"]) == (2, 5000)
    shopper = bearer(token(sub="m-1"))
    assert gateway.post(f"/v1/coupons/{template_id}/claim", headers=shopper).status_code == 201
    revalued = gateway.put(path, headers=OPERATOR, json=template_body(amount_fen=8000, version=2))
    assert problem(revalued, 400, "invalid-argument") == [("spec.amount_fen", "in_use")]
    more = gateway.put(path, headers=OPERATOR, json=template_body(
        amount_fen=5000, total_quantity=500, valid_days_after_claim=14, version=2))
    assert more.status_code == 200, more.text

    retired = gateway.post(f"{path}/retire", headers=OPERATOR)
    assert retired.status_code == 200, retired.text
    assert (retired.json()["retired"], retired.json()["version"]) == (True, 4)
    again = gateway.post(f"{path}/retire", headers=OPERATOR)
    assert again.json() == retired.json()
    claim = gateway.post(f"/v1/coupons/{template_id}/claim", headers=bearer(token(sub="m-2")))
    assert problem(claim, 409, "failed-precondition") == [("template_id", "retired")]
    listed = gateway.get("/v1/admin/coupon-templates", headers=OPERATOR).json()["templates"]
    assert [(t["id"], t["retired"]) for t in listed] == [(template_id, True)]
    history = gateway.get(f"{path}/history", headers=OPERATOR).json()["entries"]
    assert [e["action"] for e in history] == ["retired", "updated", "updated", "created"]


def test_edit_routes_are_for_operators_and_admins_and_bounded(gateway):
    assert gateway.put("/v1/admin/campaigns/1", json=flash_body(version=1)).status_code == 401
    assert gateway.put("/v1/admin/campaigns/1", headers=ANALYST,
                       json=flash_body(version=1)).status_code == 403
    assert gateway.post("/v1/admin/coupon-templates/1/retire",
                        headers=bearer(token(sub="m-1"))).status_code == 403
    assert gateway.get("/v1/admin/coupon-templates/1/history", headers=ANALYST).status_code == 403
    huge = gateway.put("/v1/admin/campaigns/1", headers=OPERATOR, json=flash_body(version=2**63))
    assert problem(huge, 400, "invalid-argument")[0][0].endswith("version")
    assert gateway.put("/v1/admin/campaigns/1", headers=OPERATOR,
                       json=flash_body(version=0)).status_code == 400
    assert gateway.put("/v1/admin/campaigns/999999", headers=OPERATOR,
                       json=flash_body(version=1)).status_code == 404
