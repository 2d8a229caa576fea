"""Paying with Alipay in Huabei installments, and a partial refund, through the gateway on the
real suite: the Alipay stand-in checks the order string's Huabei parameters and sends a notification
signed RSA2 as Alipay signs it; an installment count Alipay does not offer is refused before
anything is created. Staff refund one line of a paid two-line order through the WeChat Pay
stand-in; its refund notification moves the order (that line, the order's refunded amount),
and the other line is untouched; member takes back that share of the points."""
from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qsl

import httpx
import pytest

from .shop import (
    ok,
    pay_with_wechat,
    place_order,
    sign_in,
    stocked_pair,
    unique_word,
    wait_until_paid,
)

pytestmark = pytest.mark.e2e


def pay(shopper: httpx.Client, order_id: str, **choice) -> httpx.Response:
    return shopper.post(f"/v1/orders/{order_id}/payments", json={"method": "alipay", **choice},
                        headers={"Idempotency-Key": uuid.uuid4().hex})


def test_alipay_huabei_in_six_installments_pays_the_order(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        first, _ = stocked_pair(mall, admin, word, 2)
        _, token = sign_in(anonymous, word)
    with mall.client(token) as shopper:
        order = place_order(shopper, [(first["id"], 1)])
        order_id = order["order_id"]

        refused = pay(shopper, order_id, installments=5, seller_percent=0)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        (problem,) = [e for e in refused.json()["errors"] if e["field"] == "installments"]
        assert "3, 6 or 12" in json.dumps(problem, ensure_ascii=False), problem
        assert shopper.get(f"/v1/orders/{order_id}/payment").status_code == 404  # nothing created

        paying = ok(pay(shopper, order_id, installments=6, seller_percent=0), 201)
        intent = paying["intent"]
        assert (intent["method_code"], intent["installment_periods"], intent["seller_percent"],
                int(intent["amount_fen"])) == ("alipay", 6, 0, order["payable_fen"])
        biz = json.loads(dict(parse_qsl(paying["alipay_order_string"]))["biz_content"])
        assert biz["extend_params"] == {"hb_fq_num": "6", "hb_fq_seller_percent": "0"}
        assert biz["total_amount"] == f"{order['payable_fen'] / 100:.2f}"

        # the shopper opens the order string at the stand-in and pays; it notifies the gateway
        standin = f"http://127.0.0.1:{mall.suite.env['MALL_ALIPAY_STANDIN_PORT']}"
        notified = ok(httpx.post(f"{standin}/standin/pay",
                                 json={"order_string": paying["alipay_order_string"]}, timeout=30))
        assert notified["notified"] == 200  # the gateway answered the signed notification
        wait_until_paid(mall, shopper, order_id)
        settled = ok(shopper.get(f"/v1/orders/{order_id}/payment"))
        assert (settled["status_code"], settled["installment_periods"]) == ("succeeded", 6)
        assert ok(shopper.get(f"/v1/orders/{order_id}"))["paid_fen"] == order["payable_fen"]
    assert mall.dead_letters("payment") == [] and mall.dead_letters("order") == []


def test_staff_refund_one_line_of_a_paid_order_through_the_provider(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        first, second = stocked_pair(mall, admin, word, 2)
        _, token = sign_in(anonymous, word)
        with mall.client(token) as shopper:
            order = place_order(shopper, [(first["id"], 1), (second["id"], 1)])
            order_id = order["order_id"]
            assert order["payable_fen"] == 19900 + 21900  # no discount, ships free
            pay_with_wechat(mall, shopper, order)

            kept, returned = ok(admin.get(f"/v1/admin/orders/{order_id}"))["lines"]
            assert returned["sku_id"] == second["id"] and returned["line_id"]
            refund = ok(admin.post(f"/v1/admin/orders/{order_id}/refunds", json={
                "refund_request_id": f"e2e-{uuid.uuid4().hex[:12]}", "reason": "尺码不合适",
                "lines": [{"line_id": returned["line_id"], "sku_id": returned["sku_id"],
                           "quantity": 1, "amount_fen": returned["paid_fen"]}]}), 201)
            assert refund["amount_fen"] == returned["paid_fen"] == 21900
            assert refund["status"] in ("processing", "succeeded"), refund

            def refunded_view():  # the stand-in's REFUND.SUCCESS → payment.refunded → order
                view = ok(shopper.get(f"/v1/orders/{order_id}"))
                return view if view["refunded_fen"] else None
            view = mall.wait_until(refunded_view, timeout=30, what="the order following the refund")
            assert view["refunded_fen"] == returned["paid_fen"]
            assert view["status"] not in ("refunded", "cancelled"), view["status"]  # half of it
            assert [(ln["line_id"], ln["refunded_fen"]) for ln in view["lines"]] \
                == [(kept["line_id"], 0), (returned["line_id"], returned["paid_fen"])]
            assert ok(admin.get(f"/v1/admin/orders/{order_id}"))["lines"] == view["lines"]
            in_refunds_tab = ok(shopper.get("/v1/orders", params={"tab": "refunds"}))["orders"]
            assert [o["order_id"] for o in in_refunds_tab] == [order_id]

            # ¥418 paid earned 40 points; the refunded share comes back off: 40 × 219/418 → 20
            def clawed_back():
                entries = ok(shopper.get("/v1/me/points", params={"page_size": 100}))["entries"]
                return [(e["kind"], e["points"]) for e in entries if e["ref"] == refund["id"]]
            assert mall.wait_until(clawed_back, timeout=30, what="member clawing back points") \
                == [("clawback", -20)]

            def refund_notices():  # the order stays paid: support's notice of the refund itself
                notices = ok(shopper.get("/v1/me/notifications"))["notifications"]
                return [n for n in notices if n["order_id"] == order_id
                        and n["kind_code"] == "order_partly_refunded"]
            (notice,) = mall.wait_until(refund_notices, timeout=30,
                                        what="the inbox telling of the partial refund")
            assert "¥219.00" in notice["body"], notice

        (done,) = ok(admin.get(f"/v1/admin/orders/{order_id}/refunds"))["refunds"]
        assert (done["id"], done["status"], done["amount_fen"]) == (refund["id"], "succeeded", 21900)
        assert [ln["line_id"] for ln in done["lines"]] == [returned["line_id"]]
        payment = ok(admin.get(f"/v1/admin/orders/{order_id}/payment"))
        assert (payment["status_code"], payment["refunded_fen"]) == ("succeeded", 21900)
    for service in ("order", "payment", "member"):
        assert mall.dead_letters(service) == []
