"""Marketing consent through the gateway on the real suite: a shopper who consented to marketing
hears that her coupon is about to expire (in the inbox and as a WeChat subscribe message at the
stand-in); once she withdraws, the next reminder (another coupon) reaches her nowhere, while a
shopper who still consents gets hers from the same reminder run."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from standins.wechat import WechatStandin

from .shop import ok, sign_in, unique_word

pytestmark = pytest.mark.e2e

REMINDER = "coupon_expiring"


def ending_soon(admin: httpx.Client, word: str) -> dict:
    """A coupon template whose coupons end in two days: inside promotion's three-day reminder."""
    now = datetime.now(timezone.utc)
    return ok(admin.post("/v1/admin/coupon-templates", json={
        "name": f"满199减30 {word}", "kind": "fixed_amount", "amount_fen": 3000,
        "threshold_fen": 19900, "per_member_limit": 1, "total_quantity": 10,
        "window": {"valid_from": (now - timedelta(minutes=5)).isoformat(),
                   "valid_until": (now + timedelta(days=2)).isoformat()}}), 201)


def issue(admin: httpx.Client, template: dict, *member_ids: str) -> dict[str, str]:
    """member id -> the coupon issued to her."""
    coupons = ok(admin.post(f"/v1/admin/coupon-templates/{template['id']}/issue",
                            json={"member_ids": list(member_ids)}), 201)["coupons"]
    return {c["member_id"]: c["id"] for c in coupons}


def consent(shopper: httpx.Client, granted: bool) -> None:
    ok(shopper.post("/v1/me/consents", json={"purpose": "marketing", "granted": granted,
                                             "source": "miniprogram:settings"}), 201)


def reminders(shopper: httpx.Client) -> list[str]:
    """The coupons the shopper's inbox reminds her of."""
    notices = ok(shopper.get("/v1/me/notifications", params={"page_size": 50}))["notifications"]
    return sorted(n["coupon_id"] for n in notices if n["kind_code"] == REMINDER)


def pushed_reminders(mall, openid: str) -> int:
    """Coupon reminders the WeChat stand-in accepted for this openid."""
    port = mall.suite.env["MALL_WECHAT_STANDIN_PORT"]
    sent = ok(httpx.get(f"http://127.0.0.1:{port}/standin/subscribe-messages", timeout=10))["sent"]
    return sum(1 for m in sent if m["touser"] == openid and m["template_id"] == "demo-coupon_expiring")


def test_a_withdrawal_stops_the_next_reminder_in_the_inbox_and_on_wechat(mall, admin_token):
    word = unique_word()
    ann_word, bea_word = f"{word}ann", f"{word}bea"
    openid = WechatStandin().openid_of  # the stand-in's openids follow from the shopper's code
    with mall.client() as anonymous:
        ann, ann_token = sign_in(anonymous, ann_word)
        bea, bea_token = sign_in(anonymous, bea_word)

    with mall.client(admin_token) as admin, mall.client(ann_token) as ann_app, \
            mall.client(bea_token) as bea_app:
        consent(ann_app, True)
        consent(bea_app, True)
        first = issue(admin, ending_soon(admin, f"{word}-1"), ann)
        mall.wait_until(lambda: reminders(ann_app) == [first[ann]], timeout=30,
                        what="the reminder of Ann's first coupon in her inbox")
        mall.wait_until(lambda: pushed_reminders(mall, openid(ann_word)) == 1, timeout=30,
                        what="the reminder pushed to Ann's WeChat")

        consent(ann_app, False)
        assert [c["granted"] for c in ok(ann_app.get("/v1/me/consents"))["current"]] == [False]
        second = issue(admin, ending_soon(admin, f"{word}-2"), ann, bea)
        # Bea's reminder comes from the same reminder run as Ann's would: once Bea has hers on
        # both channels, Ann's was handled too
        mall.wait_until(lambda: reminders(bea_app) == [second[bea]], timeout=30,
                        what="the reminder of Bea's coupon in her inbox")
        mall.wait_until(lambda: pushed_reminders(mall, openid(bea_word)) == 1, timeout=30,
                        what="the reminder pushed to Bea's WeChat")
        time.sleep(2)  # and a little longer, should Ann's have come later
        assert reminders(ann_app) == [first[ann]]
        assert pushed_reminders(mall, openid(ann_word)) == 1
