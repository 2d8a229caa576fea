"""Place and pay orders through the gateway on the real suite (PostgreSQL, RabbitMQ), then wait
until the paid orders' stock is committed (logistics reacts to order.paid last in the chain
that payment's notification starts; an order whose stock never commits counts as lost).

    python bench/checkout.py [orders] [shoppers] [threads]

Before the last line it prints where the time went: CPU milliseconds per settled order of each
process of the suite, of PostgreSQL, of RabbitMQ and of the benchmark's own client. (Not
pg_stat_database's commits: a PostgreSQL 15 backend that stays connected flushes its counts at
most every ten seconds or so, so a run's last seconds, most of a short run, went uncounted.)

Prints the figure; not a test. The machine is shared: figures are noisy."""
from __future__ import annotations

import contextlib
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import cpu_account  # noqa: E402
from tests.e2e.harness import RunningMall  # noqa: E402
from tests.e2e.shop import ADDRESS, ok, stock_row, stocked_sku, unique_word  # noqa: E402


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


SETTINGS = {
    # Every shopper signs in from 127.0.0.1: the per-address sign-in limit is raised for this run.
    "MALL_GATEWAY_LOGIN_BURST": "1000000", "MALL_GATEWAY_LOGIN_PER_MINUTE": "1000000",
    # The shop's own pay window, not the e2e suite's 9 s: in a long run an order waiting its turn
    # for payment would be cancelled, and then never settle.
    "MALL_ORDER_PAY_WINDOW_MINUTES": "30",
    # Parcels move on the carrier's clock (hours), not the e2e suite's 5 s a step: pick-up and
    # delivery are not reactions to the payment, and at 5 s their tracking traffic (4 pushes,
    # status changes and notices per order) ran inside the measured window.
    "MALL_CARRIER_STANDIN_STEP_SECONDS": "3600",
}


def main(orders: int = 200, shoppers: int = 32, threads: int = 16) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        mall = RunningMall(Path(tmp), SETTINGS)
        mall.start()
        try:
            run(mall, orders, shoppers, threads)
        finally:
            mall.stop()


def run(mall: RunningMall, orders: int, shoppers: int, threads: int) -> None:
    word = unique_word()
    with mall.client(mall.admin_token()) as admin, mall.client() as anonymous:
        sku_id = stocked_sku(mall, admin, word, orders)
        # one shopper each: the WeChat stand-in names the shopper by the part before "~"
        tokens = [ok(anonymous.post("/v1/auth/wechat-login", json={"code": f"{word}s{i}~1"}))
                  ["tokens"]["access_token"] for i in range(shoppers)]
    standin = f"http://127.0.0.1:{mall.suite.env['MALL_WECHATPAY_STANDIN_PORT']}"
    place_ms: list[float] = []
    # One keep-alive client per shopper (as a phone keeps its connection), made before the clock
    # starts: an httpx.Client per order cost the bench ~10 ms of CPU each (a TLS context), taken
    # from the same two cores the suite runs on.
    shopper_clients = [mall.client(token) for token in tokens]
    wechat = httpx.Client(base_url=standin, timeout=30)

    failures: list[str] = []

    def one(i: int) -> str | None:
        """The paid order's id; None (counted, the first few shown) when a step was refused, so
        one refusal (a shared PostgreSQL out of connections, say) does not void the run."""
        shopper = shopper_clients[i % shoppers]
        body = {"lines": [{"sku_id": sku_id, "quantity": 1}], "shipping_address": ADDRESS}
        try:
            started = time.perf_counter()
            order = ok(shopper.post("/v1/orders", json=body,
                                    headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
            place_ms.append((time.perf_counter() - started) * 1000)
            paying = ok(shopper.post(f"/v1/orders/{order['order_id']}/payments",
                                     json={"method": "wechat_jsapi", "payer_openid": f"o-{i}"},
                                     headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
            ok(wechat.post("/standin/pay",
                           json={"out_trade_no": paying["intent"]["out_trade_no"]}))
        except (AssertionError, httpx.HTTPError) as err:
            if len(failures) < 3:
                print(f"refused: {str(err)[:300]}", flush=True)
            failures.append(str(err))
            return None
        return order["order_id"]

    groups = {name: proc.pid for name, proc in mall.suite.processes.items()}
    cpu_before = cpu_account.snapshot(groups)
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(threads) as pool:
            order_ids = list(pool.map(one, range(orders)))
    finally:
        for client in (*shopper_clients, wechat):
            client.close()
    paid = sum(1 for order_id in order_ids if order_id)
    with mall.client(mall.admin_token()) as admin:
        def settled() -> bool:  # a refused order's stock comes back (released, or its hold expires)
            on_hand, reserved = stock_row(admin, sku_id)
            return on_hand == orders - paid and reserved == 0
        with contextlib.suppress(AssertionError):  # a timeout still reports what settled
            mall.wait_until(settled, timeout=300, what="every order paid and its stock committed")
        on_hand, reserved = stock_row(admin, sku_id)
    seconds = time.perf_counter() - started
    cpu_after = cpu_account.snapshot(groups)
    done = orders - on_hand - reserved
    print(cpu_account.report(cpu_before, cpu_after, per=max(done, 1), unit="order"))
    print(f"checkout orders={len(order_ids)} rate_per_s={done / seconds:.0f} "
          f"place_p99_ms={p99(place_ms):.0f} settled={done} lost_events={paid - done} "
          f"refused={orders - paid}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
