"""After-sales end to end on the real suite: a shopper pays, the carrier stand-in delivers, the
options say what each line allows (support heard order.paid and shipment.delivered); bad input is
refused naming the field; she applies with a photo; customer service sees it on the desk,
asks for more photos, she adds them, the agent approves (aftersale.approved); she withdraws;
each step is a notice in her inbox; her export holds the request."""
from __future__ import annotations

import json

import pytest

from .shop import (
    ok,
    pay_with_wechat,
    place_order,
    png_bytes,
    sign_in,
    stocked_product,
    unique_word,
    wait_until_delivered,
)

pytestmark = pytest.mark.e2e


def test_apply_ask_for_photos_approve_and_withdraw(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        product, _ = stocked_product(mall, admin, f"塑身衣 {word}", 3)
        sku = product["skus"][0]
        _, token = sign_in(anonymous, word)

    with mall.client(token) as shopper:
        order = place_order(shopper, [(sku["id"], 2)])
        pay_with_wechat(mall, shopper, order)
        wait_until_delivered(mall, shopper, order["order_id"])

        def returnable():
            options = ok(shopper.get(f"/v1/me/orders/{order['order_id']}/aftersale-options"))
            kinds = {k["kind"]: k for k in options["lines"][0]["kinds"]}
            return options if kinds["return_refund"].get("allowed") else None
        options = mall.wait_until(returnable, timeout=30, what="support hearing the delivery")
        line = options["lines"][0]
        assert (line["quantity"], line["available_quantity"]) == (2, 2)

        form = {"order_id": order["order_id"], "kind": "return_refund", "reason_code": "quality",
                "text": "开线", "lines": json.dumps([{"line_id": line["line_id"], "quantity": 3}])}
        refused = shopper.post("/v1/me/aftersales", data=form)
        assert refused.status_code == 409
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
            ("lines[0].quantity", "available")]
        form["lines"] = json.dumps([{"line_id": line["line_id"], "quantity": 1}])
        request = ok(shopper.post("/v1/me/aftersales", data=form,
                                  files=[("photos", ("a.png", png_bytes(), "image/png"))]), 201)
        assert request["state"] == "applied" and request["photos"]

    with mall.client(admin_token) as desk:
        listed = ok(desk.get("/v1/admin/aftersales", params={"state": "applied"}))["requests"]
        assert request["id"] in [r["id"] for r in listed]
        asked = ok(desk.post(f"/v1/admin/aftersales/{request['id']}/ask-photos",
                             json={"note": "请拍开线处特写"}))
        assert asked["state"] == "awaiting_photos"

    with mall.client(token) as shopper:
        more = ok(shopper.post(f"/v1/me/aftersales/{request['id']}/photos", data={"note": "特写"},
                               files=[("photos", ("b.png", png_bytes(), "image/png"))]))
        assert more["state"] == "applied" and len(more["photos"]) == 2

    with mall.client(admin_token) as desk:
        approved = ok(desk.post(f"/v1/admin/aftersales/{request['id']}/approve", json={}))
        assert approved["state"] == "awaiting_return" and approved["deadline"]

    with mall.client(token) as shopper:
        withdrawn = ok(shopper.post(f"/v1/me/aftersales/{request['id']}/withdraw"))
        assert withdrawn["outcome"] == "withdrawn"

        def told():
            kinds = [n.get("kind_code") for n in ok(shopper.get(
                "/v1/me/notifications", params={"page_size": 50}))["notifications"]]
            wanted = {"aftersale_applied", "aftersale_photos_wanted", "aftersale_approved",
                      "aftersale_closed"}
            return wanted <= set(kinds)
        mall.wait_until(told, timeout=15, what="the after-sales notices")
        exported = ok(shopper.get("/v1/me/export"))
        assert [a["id"] for a in exported["support"]["aftersales"]] == [request["id"]]
