"""A pre-sale (新品预售) through the gateway on the real suite, its windows seconds long: staff
create the pre-sale (deposit ¥50 counting as ¥100, pre-sale price ¥159, release date, deposit kept
if the balance is unpaid); the shopper's preview states the deposit, the balance and its window,
the ship date and the rule before she pays; she pays the deposit with WeChat Pay (the stand-in's
signed notification); the order waits (the unpaid-order timer leaves it), the balance is refused
with 409 until its window opens; the window opens with a notice (inbox and WeChat); she pays the
balance (a second payment of the same order); nothing is booked before the release date, then
the parcel ships and is delivered, points are earned on the whole amount, and analytics counted
both phases."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from standins.wechat import WechatStandin

from .shop import ADDRESS, event_count, ok, sign_in, status_of, stocked_sku, unique_word, wait_until_delivered

pytestmark = pytest.mark.e2e

DEPOSIT, COUNTS_AS, PRESALE_PRICE = 5000, 10000, 15900
# ¥199 listed, ¥159 in the pre-sale, the deposit worth ¥50 more: ¥109 (free shipping over ¥99)
TOTAL = PRESALE_PRICE - (COUNTS_AS - DEPOSIT)
BALANCE = TOTAL - DEPOSIT


def at(moment: datetime) -> str:
    return moment.isoformat()


def pay(mall, shopper: httpx.Client, order_id: str, openid: str) -> httpx.Response:
    return shopper.post(f"/v1/orders/{order_id}/payments",
                        json={"method": "wechat_jsapi", "payer_openid": openid},
                        headers={"Idempotency-Key": uuid.uuid4().hex})


def pay_at_wechat(mall, intent: dict) -> None:
    standin = f"http://127.0.0.1:{mall.suite.env['MALL_WECHATPAY_STANDIN_PORT']}"
    ok(httpx.post(f"{standin}/standin/pay", json={"out_trade_no": intent["out_trade_no"]}, timeout=10))


def notices(shopper: httpx.Client, kind: str) -> list[dict]:
    listed = ok(shopper.get("/v1/me/notifications", params={"page_size": 50}))["notifications"]
    return [n for n in listed if n["kind_code"] == kind]


def pushed(mall, openid: str, template: str) -> int:
    port = mall.suite.env["MALL_WECHAT_STANDIN_PORT"]
    sent = ok(httpx.get(f"http://127.0.0.1:{port}/standin/subscribe-messages", timeout=10))["sent"]
    return sum(1 for m in sent if m["touser"] == openid and m["template_id"] == template)


def test_deposit_notice_balance_release_shipment_and_points_on_the_whole(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        sku_id = stocked_sku(mall, admin, word, 3)
        # the deposit phase lasts 30 s (placing and paying the deposit take a few), the balance
        # window a minute after it, the release 12 s into the balance window
        now = datetime.now(timezone.utc)
        deposits_end = now + timedelta(seconds=30)
        balance_until, release = deposits_end + timedelta(seconds=60), deposits_end + timedelta(seconds=12)
        campaign = ok(admin.post("/v1/admin/campaigns", json={
            "name": f"新品预售 {word}", "kind": "PRESALE", "starts_at": at(now - timedelta(minutes=1)),
            "ends_at": at(deposits_end),
            "presale": {"items": [{"sku_id": sku_id, "deposit_fen": DEPOSIT,
                                   "deposit_counts_as_fen": COUNTS_AS,
                                   "presale_price_fen": PRESALE_PRICE}],
                        "balance_from": at(deposits_end), "balance_until": at(balance_until),
                        "release_at": at(release), "unpaid_balance": "keep_deposit"}},
            headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
        # a release before the balance opens is refused naming the field and the rule
        refused = admin.post("/v1/admin/campaigns", json={
            "name": f"坏预售 {word}", "kind": "PRESALE", "starts_at": at(now), "ends_at": at(deposits_end),
            "presale": {"items": [{"sku_id": f"{sku_id}-x", "deposit_fen": DEPOSIT,
                                   "deposit_counts_as_fen": COUNTS_AS}],
                        "balance_from": at(deposits_end), "balance_until": at(balance_until),
                        "release_at": at(now), "unpaid_balance": "keep_deposit"}},
            headers={"Idempotency-Key": uuid.uuid4().hex})
        assert refused.status_code == 400, refused.text
        assert ("spec.presale.release_at", "after_balance_opens") in \
            {(e["field"], e["rule"]) for e in refused.json()["errors"]}
        member_id, token = sign_in(anonymous, word)
        deposits_before = event_count(admin, "order.deposit_paid")
    openid = WechatStandin().openid_of(word)  # the stand-in's openids follow from the code

    with mall.client(token) as shopper:
        checkout = {"lines": [{"sku_id": sku_id, "quantity": 1}], "shipping_address": ADDRESS}

        def previewed():  # promotion's rules reload within two seconds of the campaign
            preview = ok(shopper.post("/v1/checkout/preview", json=checkout))
            return preview if preview.get("presale", {}).get("campaign_id") else None
        preview = mall.wait_until(previewed, timeout=15, what="the pre-sale in the quote")
        terms = preview["presale"]
        assert (preview["total_fen"], terms["deposit_fen"], terms["balance_fen"], terms["due_now_fen"]) \
            == (TOTAL, DEPOSIT, BALANCE, DEPOSIT)
        assert terms["campaign_id"] == campaign["id"] and terms["unpaid_balance"] == "keep_deposit"
        assert terms["unpaid_balance_text"] and terms["release_at"] and terms["balance_until"]
        assert any("定金膨胀" in line for line in preview["explanation"])

        order = ok(shopper.post("/v1/orders", json=checkout,
                                headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
        order_id = order["order_id"]
        assert (order["status"], order["payable_fen"], order["presale"]["phase"]) == \
            ("pending_payment", TOTAL, "deposit_due")

        # 1. the deposit, with WeChat Pay
        deposit = ok(pay(mall, shopper, order_id, openid), 201)["intent"]
        assert (int(deposit["amount_fen"]), deposit["phase"]) == (DEPOSIT, "deposit")
        pay_at_wechat(mall, deposit)
        mall.wait_until(lambda: status_of(shopper, order_id) == "deposit_paid", timeout=30,
                        what="the deposit's notification")

        # 2. the balance before its window: 409 saying when it opens
        early = pay(mall, shopper, order_id, openid)
        assert early.status_code == 409, early.text
        assert ("order_id", "balance_not_open") in {(e["field"], e["rule"]) for e in early.json()["errors"]}
        assert "opens" in early.text

        # 3. the window opens (the suite's unpaid-order timer, 9 s, has long passed): a notice
        mall.wait_until(lambda: status_of(shopper, order_id) == "balance_due", timeout=60,
                        what="the balance window opening")
        (notice,) = mall.wait_until(lambda: notices(shopper, "order_balance_due"), timeout=30,
                                    what="the balance notice in the inbox")
        assert "尾款" in notice["title"]
        mall.wait_until(lambda: pushed(mall, openid, "demo-order_balance_due") == 1, timeout=30,
                        what="the balance notice on WeChat")
        detail = ok(shopper.get(f"/v1/orders/{order_id}"))
        assert (detail["presale"]["phase"], detail["presale"]["deposit_paid_fen"],
                detail["presale"]["due_now_fen"]) == ("balance_due", DEPOSIT, BALANCE)

        # 4. the balance: a second payment of the same order
        balance = ok(pay(mall, shopper, order_id, openid), 201)["intent"]
        assert (int(balance["amount_fen"]), balance["phase"]) == (BALANCE, "balance")
        assert balance["id"] != deposit["id"]
        pay_at_wechat(mall, balance)
        mall.wait_until(lambda: status_of(shopper, order_id) == "paid", timeout=30,
                        what="the balance's notification")
        paid = ok(shopper.get(f"/v1/orders/{order_id}"))
        assert (paid["paid_fen"], paid["presale"]["balance_paid_fen"], paid["presale"]["phase"]) == \
            (TOTAL, BALANCE, "paid")

        # 5. nothing is booked before the release date
        def parcels():
            return ok(shopper.get("/v1/shipments", params={"order_id": order_id}))["shipments"]
        while datetime.now(timezone.utc) < release - timedelta(seconds=2):
            assert all(not p.get("waybill_no") for p in parcels()), parcels()
            assert status_of(shopper, order_id) == "paid"
            time.sleep(1)
        # 6. then it ships, and is delivered
        booked = mall.wait_until(lambda: [p for p in parcels() if p.get("waybill_no")], timeout=60,
                                 what="the parcel booked from the release date")
        assert datetime.now(timezone.utc) >= release - timedelta(seconds=1), booked
        wait_until_delivered(mall, shopper, order_id)

        # 7. points on the whole amount (¥109: 10 points), not on the deposit alone (¥50: 0)
        def earned():
            entries = ok(shopper.get("/v1/me/points", params={"page_size": 100}))["entries"]
            return [e for e in entries if e["kind"] == "earn" and e["ref"] == order_id]
        (earn,) = mall.wait_until(earned, timeout=30, what="the points for the paid order")
        assert earn["points"] == TOTAL // 10000 * 10

    with mall.client(admin_token) as admin:
        mall.wait_until(lambda: event_count(admin, "order.deposit_paid") > deposits_before,
                        timeout=30, what="analytics counting the deposit")
    for service in ("order", "payment", "logistics", "promotion", "support", "member"):
        assert mall.dead_letters(service) == []
