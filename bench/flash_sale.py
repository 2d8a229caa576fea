"""A flash sale through the gateway on the real suite (PostgreSQL, RabbitMQ): many buyers sign in
with WeChat, place an order for the one flash-sale SKU (quota 100, 1 per member, 100 in stock) and
pay through the WeChat Pay stand-in; then wait until every payment has settled.

    python bench/flash_sale.py [buyers] [threads]

Last line: flash_sale buyers=N paid_orders=N oversold=N lost_events=N seconds=N
(oversold: paid orders beyond the quota, or stock committed beyond stock; lost_events: payments
the stand-in accepted whose order never became paid). A measurement, not a test.
"""
from __future__ import annotations

import contextlib
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.harness import RunningMall  # noqa: E402
from tests.e2e.shop import ADDRESS, ok, stock_row, stocked_sku, unique_word  # noqa: E402

UNITS = 100  # the campaign's quota, and the stock
UNPAID = ("pending_payment", "cancelled")  # a paid order may already be shipped or delivered


def main(buyers: int = 2000, threads: int = 32) -> None:
    # Every buyer signs in from 127.0.0.1: raise the per-address sign-in limit for this run, and
    # keep unpaid orders alive while the queue of buyers drains.
    settings = {"MALL_GATEWAY_LOGIN_BURST": "1000000", "MALL_GATEWAY_LOGIN_PER_MINUTE": "1000000",
                "MALL_ORDER_PAY_WINDOW_MINUTES": "30", "MALL_ORDER_FLASH_PAY_WINDOW_MINUTES": "30"}
    with tempfile.TemporaryDirectory() as tmp:
        mall = RunningMall(Path(tmp), settings)
        mall.start()
        try:
            run(mall, buyers, threads)
        finally:
            mall.stop()


def open_campaign(admin: httpx.Client, sku_id: str) -> None:
    now = datetime.now(timezone.utc)
    ok(admin.post("/v1/admin/campaigns", json={
        "name": "bench flash", "kind": "flash_sale", "per_member_limit": 1,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "flash_items": [{"sku_id": sku_id, "price_percent": 50, "quota": UNITS}]}), 201)


def run(mall: RunningMall, buyers: int, threads: int) -> None:
    word = unique_word()
    with mall.client(mall.admin_token()) as admin:
        sku_id = stocked_sku(mall, admin, word, UNITS)
        open_campaign(admin, sku_id)
    standin = f"http://127.0.0.1:{mall.suite.env['MALL_WECHATPAY_STANDIN_PORT']}"
    outcomes: Counter[str] = Counter()
    reasons: dict[int, str] = {}  # the first refusal of each status, to tell sold out from a fault
    paid: list[tuple[str, str]] = []  # (token, order id) the stand-in accepted a payment for

    def buyer(i: int) -> None:
        with mall.client() as anonymous:
            # one shopper per buyer: the stand-in names the shopper by the part before "~"
            signed_in = anonymous.post("/v1/auth/wechat-login", json={"code": f"{word}b{i}~1"})
        if signed_in.status_code != 200:
            outcomes[f"sign_in_{signed_in.status_code}"] += 1
            return
        token = signed_in.json()["tokens"]["access_token"]
        with mall.client(token) as shopper:
            body = {"lines": [{"sku_id": sku_id, "quantity": 1}], "shipping_address": ADDRESS}
            placed = shopper.post("/v1/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            if placed.status_code != 201:  # sold out: quota or stock taken
                outcomes[f"place_{placed.status_code}"] += 1
                reasons.setdefault(placed.status_code, placed.text[:300])
                return
            order_id = placed.json()["order_id"]
            paying = shopper.post(f"/v1/orders/{order_id}/payments",
                                  json={"method": "wechat_jsapi", "payer_openid": f"o-{i}"},
                                  headers={"Idempotency-Key": uuid.uuid4().hex})
            if paying.status_code != 201:  # the order stays unpaid: counted, not fatal
                outcomes[f"pay_{paying.status_code}"] += 1
                reasons.setdefault(paying.status_code, paying.text[:300])
                return
            ok(httpx.post(f"{standin}/standin/pay",
                          json={"out_trade_no": paying.json()["intent"]["out_trade_no"]}, timeout=30))
            outcomes["paid"] += 1
            paid.append((token, order_id))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(buyer, range(buyers)))

    def paid_orders() -> int:
        count = 0
        for token, order_id in paid:
            with mall.client(token) as shopper:
                count += ok(shopper.get(f"/v1/orders/{order_id}"))["status"] not in UNPAID
        return count

    with mall.client(mall.admin_token()) as admin:
        def settled() -> bool:
            on_hand, reserved = stock_row(admin, sku_id)
            return reserved == 0 and on_hand == UNITS - len(paid)
        with contextlib.suppress(Exception):  # a timeout still reports what settled
            mall.wait_until(settled, timeout=300, what="every paid order's stock committed")
        on_hand, _ = stock_row(admin, sku_id)
    seconds = time.perf_counter() - started
    confirmed = paid_orders()
    oversold = max(0, confirmed - UNITS) + max(0, (UNITS - on_hand) - UNITS) + max(0, -on_hand)
    print("outcomes:", dict(sorted(outcomes.items())), "first refusals:", reasons)
    print(f"flash_sale buyers={buyers} paid_orders={confirmed} oversold={oversold} "
          f"lost_events={len(paid) - confirmed} seconds={seconds:.0f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
