"""After-sales through the gateway against the real support server: the options before applying,
applying with a photo (bad input named by field and rule, as problem bodies), the desk's list,
approve, refuse and partial refund with the roles, the merchant's rules (admin edits them)."""
from __future__ import annotations

import io
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from mall.events.v1 import logistics_events_pb2 as logistics_events
from mall.events.v1 import order_events_pb2 as order_events
from PIL import Image

from services.support import aftersales, eligibility

from .helpers import bearer, token


@pytest.fixture
def gateway(gateway_with):
    return gateway_with("support")


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (240, 200, 210)).save(out, "JPEG")
    return out.getvalue()


def delivered_order(runtime_for, member_id: str) -> str:
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    with runtime_for("support").transaction() as session:
        eligibility.on_order_paid(session, order_events.OrderPaid(
            order_id=order_id, order_no="N1", member_id=member_id, lines=[
                order_events.OrderEventLine(line_id="l-1", product_id="p-1", sku_id="k-1",
                                            size="M", title="T恤", quantity=2, paid_fen=19800)]))
        aftersales.on_order_status_changed(session, order_events.OrderStatusChanged(
            order_id=order_id, to_status="delivered"))
        eligibility.on_shipment_delivered(session, logistics_events.ShipmentChanged(
            order_id=order_id, occurred_at=(datetime.now(timezone.utc) - timedelta(days=1))
            .isoformat(), items=[logistics_events.ShipmentItem(sku_id="k-1", quantity=1)]))
    return order_id


def test_apply_then_the_desk_decides(gateway, runtime_for):
    member_id = f"m-{uuid.uuid4().hex[:8]}"
    me = bearer(token(sub=member_id))
    order_id = delivered_order(runtime_for, member_id)
    options = gateway.get(f"/v1/me/orders/{order_id}/aftersale-options", headers=me)
    assert options.status_code == 200, options.text
    kinds = {k["kind"]: k for k in options.json()["lines"][0]["kinds"]}
    assert kinds["return_refund"]["allowed"] and not kinds["refund_only"].get("allowed")
    reasons = gateway.get("/v1/me/aftersale-reasons", headers=me).json()["reasons"]
    assert {"code": "quality", "label": "质量问题"}.items() <= reasons[4].items()

    bad = gateway.post("/v1/me/aftersales", headers=me, data={
        "order_id": order_id, "kind": "return_refund", "reason_code": "quality",
        "lines": json.dumps([{"line_id": "l-1", "quantity": 0}])})
    assert bad.status_code == 400
    assert [(e["field"], e["rule"]) for e in bad.json()["errors"]] == [
        ("lines[0].quantity", "greater_than_equal")]
    too_many = gateway.post("/v1/me/aftersales", headers=me, data={
        "order_id": order_id, "kind": "return_refund", "reason_code": "quality",
        "lines": json.dumps([{"line_id": "l-1", "quantity": 3}])})
    assert too_many.status_code == 409
    assert [(e["field"], e["rule"]) for e in too_many.json()["errors"]] == [
        ("lines[0].quantity", "available")]
    made = gateway.post("/v1/me/aftersales", headers=me, data={
        "order_id": order_id, "kind": "return_refund", "reason_code": "quality", "text": "开线",
        "lines": json.dumps([{"line_id": "l-1", "quantity": 1}])},
        files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))])
    assert made.status_code == 201, made.text
    request = made.json()
    assert (request["state"], request["lines"][0]["paid_fen"]) == ("applied", 9900)
    assert gateway.get(request["photos"][0]["url"]).status_code == 200
    assert [r["id"] for r in gateway.get("/v1/me/aftersales", headers=me).json()["requests"]] \
        == [request["id"]]

    cs = bearer(token(sub="s-cs", kind="staff", roles=("cs_agent",)))
    operator = bearer(token(sub="s-op", kind="staff", roles=("operator",)))
    admin = bearer(token(sub="s-ad", kind="staff", roles=("admin",)))
    assert gateway.get("/v1/admin/aftersales", headers=operator).status_code == 403
    assert gateway.get("/v1/admin/aftersales", headers=me).status_code == 403
    listed = gateway.get("/v1/admin/aftersales", headers=cs, params={"state": "applied"})
    assert request["id"] in [r["id"] for r in listed.json()["requests"]]
    lost = gateway.get("/v1/admin/aftersales", headers=cs, params={"state": "lost"})
    assert lost.status_code == 400 and lost.json()["errors"][0]["field"] == "state"
    refuse = gateway.post(f"/v1/admin/aftersales/{request['id']}/refuse", headers=cs,
                          json={"note": ""})
    assert refuse.status_code == 400 and refuse.json()["errors"][0]["field"] == "note"
    approved = gateway.post(f"/v1/admin/aftersales/{request['id']}/approve", headers=cs, json={})
    assert approved.status_code == 200 and approved.json()["state"] == "awaiting_return"
    again = gateway.post(f"/v1/admin/aftersales/{request['id']}/approve", headers=cs, json={})
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "request_id"
    partial = gateway.post(f"/v1/admin/aftersales/{request['id']}/partial-refund", headers=cs,
                           json={"reason": "x", "lines": [{"line_id": "l-1", "refund_fen": 1}]})
    assert partial.status_code == 409  # only after an inspection
    withdrawn = gateway.post(f"/v1/me/aftersales/{request['id']}/withdraw", headers=me)
    assert withdrawn.json()["outcome"] == "withdrawn"

    settings = gateway.get("/v1/admin/aftersale-settings", headers=cs).json()
    assert settings["no_reason_days"] == 7
    assert gateway.put("/v1/admin/aftersale-settings", headers=cs,
                       json={"quality_days": 30}).status_code == 403
    put = gateway.put("/v1/admin/aftersale-settings", headers=admin,
                      json={"quality_days": 30, "intimate_category_ids": ["c-bras"]})
    assert put.status_code == 200 and put.json()["quality_days"] == 30
    assert gateway.put("/v1/admin/aftersale-settings", headers=admin,
                       json={"quality_days": 0}).status_code == 400
