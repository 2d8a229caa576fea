"""After-sales to their outcomes, end to end on the real suite (support, logistics, payment,
order, member, promotion, analytics, the carrier's and WeChat Pay's stand-ins):

- a size exchange: delivered, applied for (the other SKU of the product), approved (logistics holds
  the new size), the return booked with the carrier stand-in, inspected as new with the seal
  intact (the unit sellable again), the new size shipped (exchange.shipped), the request closed
  exchanged; points unchanged; a notice at each step;
- a return of one line of an order paid with a coupon and points: refunded by the WeChat Pay
  stand-in to the fen the pricing engine apportioned to that line, shown on the order's line and
  the request, the points of that share clawed back, counted by reason in analytics;
- a refund-only before the parcel left: approved by the default rule and refunded at once, the
  uncollected parcel cancelled, its unit and the order's coupon back."""
from __future__ import annotations

import json

import httpx
import pytest

from services.logistics.shipments import shipment_id

from .shop import (
    ok,
    pay_with_wechat,
    place_order,
    sign_in,
    stock_row,
    stocked_pair,
    stocked_product,
    unique_word,
    wait_until_delivered,
)

pytestmark = pytest.mark.e2e


def options_allow(mall, shopper: httpx.Client, order_id: str, line_id: str, kind: str) -> dict:
    """The line's options once support allows `kind` on it (it heard the payment / delivery)."""
    def allowed():
        options = ok(shopper.get(f"/v1/me/orders/{order_id}/aftersale-options"))
        (line,) = [x for x in options["lines"] if x["line_id"] == line_id]
        kinds = {k["kind"]: k for k in line["kinds"]}
        return line if kinds.get(kind, {}).get("allowed") else None
    return mall.wait_until(allowed, timeout=30, what=f"support allowing {kind}")


def apply(shopper: httpx.Client, order_id: str, kind: str, reason: str, lines: list[dict]) -> dict:
    form = {"order_id": order_id, "kind": kind, "reason_code": reason, "text": "e2e",
            "seal_intact": "true", "lines": json.dumps(lines)}
    return ok(shopper.post("/v1/me/aftersales", data=form), 201)


def request_in(mall, shopper: httpx.Client, request_id: str, state: str, timeout: float = 30):
    def reached():
        request = ok(shopper.get(f"/v1/me/aftersales/{request_id}"))
        return request if request["state"] == state else None
    return mall.wait_until(reached, timeout=timeout, what=f"the request {state}")


def book_and_inspect(mall, admin: httpx.Client, shopper: httpx.Client, request_id: str,
                     line_id: str) -> dict:
    """She books a pick-up with the carrier stand-in (once logistics heard aftersale.approved: until
    then booking answers 404); the warehouse inspects: as new, seal intact."""
    mall.wait_until(lambda: ok(admin.get("/v1/admin/returns", params={
        "request_id": request_id, "status": "expected"}))["returns"], timeout=30,
        what="logistics expecting the return")
    booked = ok(shopper.post(f"/v1/me/aftersales/{request_id}/return",
                             json={"mode": "pickup", "carrier": "sf"}))
    assert booked["status"] == "booked", booked
    assert booked["waybill_no"], booked
    request_in(mall, shopper, request_id, "returning")
    inspected = ok(admin.post(f"/v1/admin/returns/{request_id}/inspection", json={
        "lines": [{"line_id": line_id, "quantity": 1}], "seal_intact": True,
        "condition": "as_new", "accepted": True}))
    assert inspected["status"] == "inspected", inspected
    return inspected


def notice_kinds(shopper: httpx.Client, order_no: str) -> list[str]:
    """The after-sale notices about this order (keyed by the request: they name the order)."""
    notices = ok(shopper.get("/v1/me/notifications", params={"page_size": 100}))["notifications"]
    return [n["kind_code"] for n in notices
            if n["kind_code"].startswith("aftersale_") and order_no in n["body"]]


def points(shopper: httpx.Client) -> tuple[int, list[dict]]:
    mine = ok(shopper.get("/v1/me/points", params={"page_size": 100}))
    return mine["balance"], mine["entries"]


def earned_for(mall, shopper: httpx.Client, order_id: str) -> int:
    def earned():
        return [e["points"] for e in points(shopper)[1] if e["kind"] == "earn" and e["ref"] == order_id]
    (earn,) = mall.wait_until(earned, timeout=30, what="the points for the paid order")
    return earn


def issued_coupon(admin: httpx.Client, word: str, member_id: str) -> dict:
    """满 199 减 30, issued to the member."""
    template = ok(admin.post("/v1/admin/coupon-templates", json={
        "name": f"满199减30 {word}", "kind": "fixed_amount", "amount_fen": 3000,
        "threshold_fen": 19900, "per_member_limit": 1, "total_quantity": 10,
        "valid_days_after_claim": 7}), 201)
    (coupon,) = ok(admin.post(f"/v1/admin/coupon-templates/{template['id']}/issue",
                              json={"member_ids": [member_id]}), 201)["coupons"]
    return coupon


def coupon_ids(shopper: httpx.Client, status: str) -> list[str]:
    return [c["id"] for c in ok(shopper.get("/v1/me/coupons", params={"status": status}))["coupons"]]


def test_a_size_exchange_ships_the_new_size_once_the_return_is_inspected(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        first, second = stocked_pair(mall, admin, word, 2)
        _, token = sign_in(anonymous, word)
    with mall.client(token) as shopper, mall.client(admin_token) as admin:
        order = place_order(shopper, [(first["id"], 1)])
        order_id = order["order_id"]
        pay_with_wechat(mall, shopper, order)
        earned_for(mall, shopper, order_id)
        wait_until_delivered(mall, shopper, order_id)
        assert stock_row(admin, first["id"]) == (1, 0) and stock_row(admin, second["id"]) == (2, 0)
        (line,) = ok(shopper.get(f"/v1/orders/{order_id}"))["lines"]
        options_allow(mall, shopper, order_id, line["line_id"], "exchange")
        balance_before, _ = points(shopper)

        request = apply(shopper, order_id, "exchange", "wrong_size", [
            {"line_id": line["line_id"], "quantity": 1, "exchange_sku_id": second["id"]}])
        assert request["state"] == "applied"
        approved = ok(admin.post(f"/v1/admin/aftersales/{request['id']}/approve", json={}))
        assert approved["state"] == "awaiting_return"
        mall.wait_until(lambda: stock_row(admin, second["id"]) == (2, 1), timeout=30,
                        what="logistics holding the new size at approval")

        book_and_inspect(mall, admin, shopper, request["id"], line["line_id"])
        closed = request_in(mall, shopper, request["id"], "closed", timeout=60)
        assert closed["outcome"] == "exchanged", closed
        assert (closed["refund_fen"], closed["refunded_fen"]) == (0, 0)
        # the returned unit is sellable again; the new size left the shelf
        mall.wait_until(lambda: stock_row(admin, first["id"]) == (2, 0), timeout=30,
                        what="the returned unit back to sellable")
        mall.wait_until(lambda: stock_row(admin, second["id"]) == (1, 0), timeout=30,
                        what="the new size committed and shipped")
        returns = [r for status in ("inspected", "closed") for r in ok(admin.get(
            "/v1/admin/returns", params={"request_id": request["id"], "status": status}))["returns"]]
        assert [(r["exchange_status"], r["inspection"]["restocked_to"]) for r in returns] \
            == [("shipped", "sellable")], returns

        # she sees the replacement parcel among her shipments, naming her request
        parcels = ok(shopper.get("/v1/shipments"))["shipments"]
        (parcel,) = [p for p in parcels if p["aftersale_request_id"] == request["id"]]
        assert parcel["id"] == returns[0]["exchange_shipment_id"]
        assert [(i["sku_id"], i["quantity"]) for i in parcel["items"]] == [(second["id"], 1)]

        view = ok(shopper.get(f"/v1/orders/{order_id}"))
        (ref,) = view["lines"][0]["aftersales"]
        assert (ref["request_id"], ref["kind"], ref["outcome"]) == (request["id"], "exchange",
                                                                    "exchanged"), ref
        assert view["refunded_fen"] == 0
        assert points(shopper)[0] == balance_before  # an exchange moves no points

        wanted = {"aftersale_applied", "aftersale_approved", "aftersale_closed"}
        mall.wait_until(lambda: wanted <= set(notice_kinds(shopper, order["order_no"])), timeout=30,
                        what="a notice at each step")
    for service in ("support", "logistics", "order", "member"):
        assert mall.dead_letters(service) == []


def return_counts(admin: httpx.Client) -> dict[str, dict]:
    counts = ok(admin.get("/v1/admin/analytics/return-counts",
                          params={"by": "reason", "kind": "return_refund"}))["counts"]
    return {c["key"]: c for c in counts}


def test_a_return_of_a_line_paid_with_a_coupon_and_points_refunds_it_to_the_fen(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        first, second = stocked_pair(mall, admin, word, 2)
        member_id, token = sign_in(anonymous, word)
        coupon = issued_coupon(admin, word, member_id)
        ok(admin.post(f"/v1/admin/members/{member_id}/points-adjustments",
                      json={"points": 5000, "reason": "e2e: 客服补偿"}), 201)
        counted_before = return_counts(admin).get("wrong_size", {})

    with mall.client(token) as shopper, mall.client(admin_token) as admin:
        # ¥199 + ¥219 = ¥418; the coupon's ¥30 and 1000 points' ¥10 apportioned over both lines
        order = place_order(shopper, [(first["id"], 1), (second["id"], 1)],
                            coupon_ids=[coupon["id"]], points_to_use=1000)
        order_id = order["order_id"]
        assert order["payable_fen"] == 41800 - 3000 - 1000
        kept, returned = order["lines"]
        assert returned["sku_id"] == second["id"]
        assert kept["paid_fen"] + returned["paid_fen"] == order["payable_fen"]
        assert returned["paid_fen"] < 21900 and set(returned["discounts"]) == {"coupon", "points"}
        pay_with_wechat(mall, shopper, order)
        earned = earned_for(mall, shopper, order_id)
        wait_until_delivered(mall, shopper, order_id)
        line_id = ok(shopper.get(f"/v1/orders/{order_id}"))["lines"][1]["line_id"]
        options_allow(mall, shopper, order_id, line_id, "return_refund")

        request = apply(shopper, order_id, "return_refund", "wrong_size",
                        [{"line_id": line_id, "quantity": 1}])
        approved = ok(admin.post(f"/v1/admin/aftersales/{request['id']}/approve", json={}))
        assert approved["state"] == "awaiting_return"
        book_and_inspect(mall, admin, shopper, request["id"], line_id)

        closed = request_in(mall, shopper, request["id"], "closed", timeout=60)
        assert (closed["outcome"], closed["refund_fen"], closed["refunded_fen"]) \
            == ("refunded", returned["paid_fen"], returned["paid_fen"]), closed
        (refund,) = ok(admin.get(f"/v1/admin/orders/{order_id}/refunds"))["refunds"]
        assert (refund["status"], refund["amount_fen"]) == ("succeeded", returned["paid_fen"])
        assert [ln["line_id"] for ln in refund["lines"]] == [line_id]

        def refunded_view():
            view = ok(shopper.get(f"/v1/orders/{order_id}"))
            return view if view["refunded_fen"] else None
        view = mall.wait_until(refunded_view, timeout=30, what="the order following the refund")
        assert view["refunded_fen"] == returned["paid_fen"]
        assert [ln["refunded_fen"] for ln in view["lines"]] == [0, returned["paid_fen"]]
        (ref,) = view["lines"][1]["aftersales"]
        assert (ref["request_id"], ref["outcome"], ref["refunded_fen"]) \
            == (request["id"], "refunded", returned["paid_fen"]), ref
        assert view["lines"][0]["aftersales"] == []
        mall.wait_until(lambda: stock_row(admin, second["id"]) == (2, 0), timeout=30,
                        what="the returned unit back to sellable")

        # the refunded share of the points earned comes back off (as the staff refund journey)
        share = earned * returned["paid_fen"] // order["payable_fen"]

        def clawed_back():
            return [e["points"] for e in points(shopper)[1]
                    if e["kind"] == "clawback" and e["ref"] == refund["id"]]
        assert mall.wait_until(clawed_back, timeout=30, what="member clawing back points") \
            == [-share]

        # one line of two refunded: the coupon stays used (the merchant's rule: whole orders only)
        assert coupon_ids(shopper, "used") == [coupon["id"]]

        mall.wait_until(lambda: {"aftersale_applied", "aftersale_approved", "aftersale_refunding",
                                 "aftersale_closed"} <= set(notice_kinds(shopper, order["order_no"])),
                        timeout=30, what="a notice at each step")

        def counted():
            now = return_counts(admin).get("wrong_size", {})
            return now if int(now.get("refunded_units", 0)) \
                > int(counted_before.get("refunded_units", 0)) else None
        now = mall.wait_until(counted, timeout=30, what="analytics counting the refunded return")
        assert int(now["requests"]) == int(counted_before.get("requests", 0)) + 1
        assert int(now["refunded_fen"]) \
            == int(counted_before.get("refunded_fen", 0)) + returned["paid_fen"]
    for service in ("support", "payment", "order", "member", "analytics"):
        assert mall.dead_letters(service) == []


def test_a_refund_only_before_shipping_is_approved_by_the_rule_and_refunded_at_once(mall,
                                                                                     admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        product, code = stocked_product(mall, admin, f"蕾丝无痕文胸 {word}", 2)
        sku_id = product["skus"][0]["id"]
        member_id, token = sign_in(anonymous, word)
        coupon = issued_coupon(admin, word, member_id)
    carrier = f"http://127.0.0.1:{mall.suite.env['MALL_CARRIER_STANDIN_PORT']}"
    with mall.client(token) as shopper, mall.client(admin_token) as admin:
        order = place_order(shopper, [(sku_id, 1)], coupon_ids=[coupon["id"]])
        order_id = order["order_id"]
        assert order["payable_fen"] == 19900 - 3000
        ok(httpx.post(f"{carrier}/standin/hold", timeout=10, json={  # the courier never comes
            "order_id": shipment_id(order_id, code), "steps": 0}))
        pay_with_wechat(mall, shopper, order)
        (line,) = ok(shopper.get(f"/v1/orders/{order_id}"))["lines"]
        options_allow(mall, shopper, order_id, line["line_id"], "refund_only")

        request = apply(shopper, order_id, "refund_only", "not_wanted",
                        [{"line_id": line["line_id"], "quantity": 1}])
        closed = request_in(mall, shopper, request["id"], "closed", timeout=60)
        assert (closed["outcome"], closed["refunded_fen"]) == ("refunded", order["payable_fen"])
        (refund,) = ok(admin.get(f"/v1/admin/orders/{order_id}/refunds"))["refunds"]
        assert (refund["status"], refund["amount_fen"]) == ("succeeded", order["payable_fen"])
        mall.wait_until(lambda: ok(shopper.get(f"/v1/orders/{order_id}"))["status"] == "refunded",
                        timeout=30, what="the order refunded in full")

        # the parcel the courier never collected is cancelled and its unit is sellable again
        def cancelled():
            parcels = ok(shopper.get("/v1/shipments", params={"order_id": order_id}))["shipments"]
            return [p["state"] for p in parcels] == ["SHIPMENT_CANCELLED"]
        mall.wait_until(cancelled, timeout=30, what="the uncollected parcel cancelled")
        mall.wait_until(lambda: stock_row(admin, sku_id) == (2, 0), timeout=30,
                        what="the unit back on the shelf")
        # the whole order refunded: its coupon is hers again (the merchant's default rule)
        mall.wait_until(lambda: coupon_ids(shopper, "available") == [coupon["id"]], timeout=30,
                        what="promotion giving the coupon back")
    for service in ("support", "payment", "order"):
        assert mall.dead_letters(service) == []
