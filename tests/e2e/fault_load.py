"""A checkout load with one fault in the middle, and every paid order's effects counted in the
databases: what tests/e2e/test_faults.py asserts and bench/fault_drill.py prints.

- `private_mall(tmp)`: the whole suite on a PostgreSQL cluster and a RabbitMQ node of its own
  (tests/e2e/private_servers.py: the shared servers are never restarted).
- `Load(mall, orders, threads)`: orders placed and paid at the WeChat Pay stand-in by `threads`
  shoppers at once, each step retried with the same Idempotency-Key as the app would;
  `run(fault, fault_after)` injects `fault()` once that many orders are paid.
- `effects(mall, load)`: per paid order, its status in order, its succeeded payments, shipments,
  points earned, "paid" notices; the shoppers' orders left `placing`; order.paid counted by
  analytics. `wrong(...)` says what is not settled once each; `tally(...)` counts it.
- The faults: `restart_postgres`, `restart_rabbit`, `kill(mall, names)`.
"""
from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from servicekit.config import SERVICES

from .harness import RunningMall
from .private_servers import PrivatePostgres, PrivateRabbit
from .shop import ADDRESS, PAID_OR_LATER, event_count, ok, stocked_sku, unique_word

SETTINGS = {
    "MALL_GATEWAY_LOGIN_BURST": "1000000", "MALL_GATEWAY_LOGIN_PER_MINUTE": "1000000",
    # the shop's own pay window: an order must not time out while the load waits on the fault
    "MALL_ORDER_PAY_WINDOW_MINUTES": "30",
    "MALL_CARRIER_STANDIN_STEP_SECONDS": "3600",  # parcels stay put: only the payment's effects
    # quick backoff: a settled order is waited for a minute at most
    "MALL_WORKER_TRANSIENT_RETRY_SECONDS": "2",
}
RETRY_SECONDS = 60  # how long a shopper's app keeps retrying one step

WORKERS = [f"{s}-worker" for s in SERVICES]
API_PROCESSES = [f"{s}-api" for s in SERVICES] + ["order-import", "gateway"]


def why_no_private_servers() -> str | None:
    return PrivatePostgres().available() or PrivateRabbit().available()


@contextlib.contextmanager
def private_servers() -> Iterator[tuple[PrivatePostgres, PrivateRabbit]]:
    cluster, node = PrivatePostgres(), PrivateRabbit()
    cluster.init()
    try:
        node.start()
        try:
            yield cluster, node
        finally:
            node.destroy()
    finally:
        cluster.destroy()


@contextlib.contextmanager
def private_mall(tmp: Path, settings: dict[str, str] | None = None
                 ) -> Iterator[tuple[RunningMall, PrivatePostgres, PrivateRabbit]]:
    with private_servers() as (cluster, node):
        mall = RunningMall(tmp, {**SETTINGS, **(settings or {})}, pg_admin_url=cluster.admin_url,
                           amqp_url=node.url)
        try:
            mall.start()
            yield mall, cluster, node
        finally:
            mall.stop()


# --- the faults -------------------------------------------------------------------------------
def restart_postgres(cluster: PrivatePostgres, down_seconds: float = 5) -> None:
    cluster.stop("fast")  # every session: "the database system is shutting down"
    time.sleep(down_seconds)
    cluster.start()


def restart_rabbit(node: PrivateRabbit, down_seconds: float = 5) -> None:
    node.stop()
    time.sleep(down_seconds)
    node.start()


def kill(mall: RunningMall, names: list[str], down_seconds: float = 1.0) -> None:
    """SIGKILL of every process named, at once; started again `down_seconds` later (events,
    notifications and requests keep coming meanwhile)."""
    for name in names:
        mall.suite.kill(name)
    time.sleep(down_seconds)
    for name in names:
        mall.suite.start(name)


# --- the load ---------------------------------------------------------------------------------
class Load:
    """`orders` orders, each placed and paid at the WeChat Pay stand-in by one of `threads`
    shoppers; a step that fails is retried with the same Idempotency-Key, as the app would."""

    def __init__(self, mall: RunningMall, orders: int, threads: int):
        self.mall, self.orders, self.threads = mall, orders, threads
        word = unique_word()
        with mall.client(mall.admin_token()) as admin, mall.client() as anonymous:
            self.paid_events_before = event_count(admin, "order.paid")
            self.sku_id = stocked_sku(mall, admin, word, orders)
            logins = [ok(anonymous.post("/v1/auth/wechat-login", json={"code": f"{word}s{i}~1"}))
                      for i in range(threads)]
        self.tokens = [login["tokens"]["access_token"] for login in logins]
        self.members = [login["member_id"] for login in logins]
        self.paid: list[str] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()

    def _retrying(self, what: str, call) -> dict:
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                reply = call()
                if reply.status_code in (200, 201):
                    return reply.json()
                error = f"{reply.status_code} {reply.text[:200]}"
            except httpx.HTTPError as err:
                error = repr(err)
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: {error}")
            time.sleep(0.5)

    def one(self, i: int) -> None:
        place_key, pay_key = uuid.uuid4().hex, uuid.uuid4().hex
        body = {"lines": [{"sku_id": self.sku_id, "quantity": 1}], "shipping_address": ADDRESS}
        standin = f"http://127.0.0.1:{self.mall.suite.env['MALL_WECHATPAY_STANDIN_PORT']}"
        try:
            with self.mall.client(self.tokens[i % self.threads]) as shopper:
                order = self._retrying(f"order {i} placed", lambda: shopper.post(
                    "/v1/orders", json=body, headers={"Idempotency-Key": place_key}))
                paying = self._retrying(f"order {i} payment", lambda: shopper.post(
                    f"/v1/orders/{order['order_id']}/payments",
                    json={"method": "wechat_jsapi", "payer_openid": f"o-{i}"},
                    headers={"Idempotency-Key": pay_key}))
                self._retrying(f"order {i} paid at WeChat", lambda: httpx.post(
                    f"{standin}/standin/pay", json={"out_trade_no": paying["intent"]["out_trade_no"]},
                    timeout=30))
        except AssertionError as err:
            with self.lock:
                self.refused.append(str(err))
            return
        with self.lock:
            self.paid.append(order["order_id"])

    def run(self, fault: Callable[[], None], fault_after: int) -> tuple[float, float]:
        """Runs the load with `fault()` once `fault_after` orders are paid; the monotonic times
        the fault ended and the load ended."""
        with ThreadPoolExecutor(self.threads) as pool:
            futures = [pool.submit(self.one, i) for i in range(self.orders)]
            self.mall.wait_until(lambda: len(self.paid) >= fault_after, timeout=300,
                                 what=f"{fault_after} orders paid before the fault")
            fault()
            fault_ended = time.monotonic()
            for future in futures:
                future.result()
        return fault_ended, time.monotonic()


# --- the effects ------------------------------------------------------------------------------
@dataclass
class Effects:
    paid: list[str]
    statuses: dict[str, str] = field(default_factory=dict)
    payments: Counter = field(default_factory=Counter)   # succeeded payment intents
    shipments: Counter = field(default_factory=Counter)
    points: Counter = field(default_factory=Counter)     # points earned
    notices: Counter = field(default_factory=Counter)    # "paid" notices
    placing: int = 0                                     # the shoppers' orders left placing
    counted: int = 0                                     # order.paid counted by analytics

    def per_order(self, order_id: str) -> dict[str, int]:
        return {"payments": self.payments[order_id], "shipments": self.shipments[order_id],
                "points earned": self.points[order_id], "paid notices": self.notices[order_id]}

    def settled(self, order_id: str) -> bool:
        return (self.statuses.get(order_id) in PAID_OR_LATER
                and all(n >= 1 for n in self.per_order(order_id).values()))

    def doubled(self, order_id: str) -> bool:
        return any(n > 1 for n in self.per_order(order_id).values())


def _count(engine, sql: str, ids: list[str]) -> Counter:
    with engine.connect() as conn:
        return Counter(row[0] for row in conn.execute(text(sql), {"ids": tuple(ids)}))


def effects(mall: RunningMall, load: Load) -> Effects:
    paid = list(load.paid)
    found = Effects(paid)
    engines = {s: create_engine(mall.suite.env[f"MALL_{s.upper()}_DATABASE_URL"])
               for s in ("order", "payment", "logistics", "member", "support")}
    try:
        with engines["order"].connect() as conn:
            found.placing = conn.execute(text("SELECT count(*) FROM orders WHERE status = 'placing' "
                                              "AND member_id IN :members"),
                                         {"members": tuple(load.members)}).scalar()
            if paid:
                found.statuses = dict(conn.execute(
                    text("SELECT id, status FROM orders WHERE id IN :ids"), {"ids": tuple(paid)}).all())
        if paid:
            found.payments = _count(engines["payment"], "SELECT order_id FROM payment_intents "
                                    "WHERE status = 'succeeded' AND order_id IN :ids", paid)
            found.shipments = _count(engines["logistics"],
                                     "SELECT order_id FROM shipments WHERE order_id IN :ids", paid)
            found.points = _count(engines["member"], "SELECT ref FROM points_entries "
                                  "WHERE kind = 'earn' AND ref IN :ids", paid)
            found.notices = _count(engines["support"], "SELECT order_id FROM notifications "
                                   "WHERE kind = 'order_paid' AND order_id IN :ids", paid)
    finally:
        for engine in engines.values():
            engine.dispose()
    with mall.client(mall.admin_token()) as admin:
        found.counted = event_count(admin, "order.paid") - load.paid_events_before
    return found


def wrong(found: Effects) -> dict:
    """What is still wrong with the paid orders' effects (empty when all settled, once each)."""
    bad: dict = {}
    if unpaid := [o for o in found.paid if found.statuses.get(o) not in PAID_OR_LATER]:
        bad["not paid"] = unpaid
    for what in ("payments", "shipments", "points earned", "paid notices"):
        if off := [(o, n) for o in found.paid if (n := found.per_order(o)[what]) != 1]:
            bad[what] = off
    if found.placing:
        bad["placing"] = found.placing
    if found.counted != len(found.paid):
        bad["order.paid counted"] = (found.counted, len(found.paid))
    return bad


def dead_letters(mall: RunningMall) -> dict[str, list[str]]:
    return {s: parked for s in SERVICES if (parked := mall.dead_letters(s))}


def wait_settled(mall: RunningMall, load: Load, timeout: float) -> tuple[float | None, Effects]:
    """Polls the effects until every paid order settled once each (or `timeout`); the monotonic
    time it was first seen settled (None if never) and the last effects seen."""
    deadline = time.monotonic() + timeout
    while True:
        mall.suite.check_alive()
        found = effects(mall, load)
        if not wrong(found):
            return time.monotonic(), found
        if time.monotonic() > deadline:
            return None, found
        time.sleep(0.5)
