"""Reviews through the gateway against the real support (and member, for the nickname) servers:
a shopper reviews a delivered line with a photo (served back at /media/), bad input names the
field and the rule, anyone reads a product's reviews, staff reply and hide, customer service
closes the bad review's task; the roles are the kit's."""
from __future__ import annotations

import io
import uuid

import pytest
from mall.events.v1 import logistics_events_pb2 as logistics_events
from mall.events.v1 import order_events_pb2 as order_events
from PIL import Image

from services.support import eligibility

from .helpers import bearer, token


@pytest.fixture
def gateway(gateway_with):
    return gateway_with("support", "member")


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (240, 200, 210)).save(out, "JPEG")
    return out.getvalue()


def shopper(gateway) -> tuple[str, dict]:
    login = gateway.post("/v1/auth/wechat-login",
                         json={"code": f"shopper{uuid.uuid4().hex[:8]}~1"}).json()
    return login["member_id"], bearer(login["tokens"]["access_token"])


def delivered_line(runtime_for, member_id: str, product_id: str) -> str:
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    with runtime_for("support").transaction() as session:
        eligibility.on_order_paid(session, order_events.OrderPaid(
            order_id=order_id, order_no="N1", member_id=member_id, lines=[
                order_events.OrderEventLine(line_id="l-1", product_id=product_id, sku_id="k-1",
                                            size="75B", sku_label="75B 黑色", title="文胸",
                                            quantity=1)]))
        eligibility.on_shipment_delivered(session, logistics_events.ShipmentChanged(
            order_id=order_id, items=[logistics_events.ShipmentItem(sku_id="k-1", quantity=1)]))
    return order_id


def test_review_with_a_photo_then_reply_hide_and_the_task(gateway, runtime_for):
    member_id, me = shopper(gateway)
    product_id = f"p-{uuid.uuid4().hex[:8]}"
    order_id = delivered_line(runtime_for, member_id, product_id)
    assert [line["line_id"] for line in gateway.get("/v1/me/reviewable", headers=me).json()["lines"]] \
        == ["l-1"]

    bad = gateway.post("/v1/me/reviews", headers=me, data={
        "order_id": order_id, "line_id": "l-1", "stars": "6"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"].endswith("stars")
    not_image = gateway.post("/v1/me/reviews", headers=me, data={
        "order_id": order_id, "line_id": "l-1", "stars": "2"},
        files=[("photos", ("a.jpg", b"<html>not an image</html>", "image/jpeg"))])
    assert not_image.status_code == 400, not_image.text
    assert [(e["field"], e["rule"]) for e in not_image.json()["errors"]] == [("photos[0]", "image")]

    created = gateway.post("/v1/me/reviews", headers=me, data={
        "order_id": order_id, "line_id": "l-1", "stars": "2", "text": "偏小一码",
        "fit": "runs_small", "usual_size": "75B", "anonymous": "true"},
        files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))])
    assert created.status_code == 201, created.text
    review = created.json()
    assert (review["stars"], review["fit"], review["anonymous"]) == (2, "RUNS_SMALL", True)
    assert review["display_name"].endswith("***")
    photo = gateway.get(review["photos"][0]["url"])
    assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"
    again = gateway.post("/v1/me/reviews", headers=me, data={
        "order_id": order_id, "line_id": "l-1", "stars": "5"})
    assert again.status_code == 409 and again.json()["errors"][0]["rule"] == "once"

    listed = gateway.get(f"/v1/products/{product_id}/reviews", params={"stars": [1, 2]}).json()
    assert [r["id"] for r in listed["reviews"]] == [review["id"]]
    assert "member_id" not in listed["reviews"][0] or not listed["reviews"][0]["member_id"]
    assert (listed["summary"]["review_count"], listed["summary"]["runs_small"]) == (1, 1)

    followed = gateway.post(f"/v1/me/reviews/{review['id']}/follow-up", headers=me,
                            data={"text": "换了大一码正好"})
    assert followed.status_code == 201 and followed.json()["follow_up"]["text"] == "换了大一码正好"

    operator = bearer(token(sub="s-op", kind="staff", roles=("operator",)))
    cs = bearer(token(sub="s-cs", kind="staff", roles=("cs_agent",)))
    assert gateway.put(f"/v1/admin/reviews/{review['id']}/reply", headers=me,
                       json={"text": "x"}).status_code == 403
    replied = gateway.put(f"/v1/admin/reviews/{review['id']}/reply", headers=operator,
                          json={"text": "亲，可以联系客服换码"})
    assert replied.status_code == 200 and replied.json()["reply"]["text"] == "亲，可以联系客服换码"
    hidden = gateway.post(f"/v1/admin/reviews/{review['id']}/hide", headers=cs,
                          json={"reason": "含联系方式"})
    assert hidden.status_code == 200 and hidden.json()["hidden_reason"] == "含联系方式"
    assert not gateway.get(f"/v1/products/{product_id}/reviews").json().get("reviews")

    assert gateway.get("/v1/admin/review-tasks", headers=operator).status_code == 403
    tasks = gateway.get("/v1/admin/review-tasks", headers=cs).json()["tasks"]
    [task] = [t for t in tasks if t["review_id"] == review["id"]]
    done = gateway.post(f"/v1/admin/review-tasks/{task['id']}/done", headers=cs,
                        json={"note": "已换码"})
    assert done.status_code == 200 and done.json()["status"] == "done"


def test_reviewing_needs_a_shopper(gateway):
    assert gateway.get("/v1/me/reviews").status_code == 401
    staff = bearer(token(kind="staff", roles=("admin",)))
    assert gateway.post("/v1/me/reviews", headers=staff,
                        data={"order_id": "o", "line_id": "l", "stars": "5"}).status_code == 403
