"""Faults under a checkout load through the gateway: one fault in the middle of 40 orders placed and
paid by four shoppers at once, then every paid order must settle by itself within a minute of the
fault's end: order paid, one shipment, points earned once, one "paid" notice, order.paid counted
once by analytics, no dead letter anywhere, no order left `placing`.

The suite runs on a PostgreSQL cluster of this module's own (initdb on a free port: the shared
one is never restarted), started once for all the faults here.

- PostgreSQL stopped (fast: "the database system is shutting down") for 5 s and started again:
  workers used to park the messages they could not apply in those seconds (19 of 194 orders never
  settled); they now wait for the database (`servicekit.worker.is_transient`).
- SIGKILL of a worker: order's (payment.succeeded → paid, the head of the chain), logistics' (the
  longest handler: commit stock and plan shipments) and member's (points, with its own unique
  ledger) in turn: between them they hold every kind of effect checked here; the other five
  workers' handlers are the same kit path (the inbox and the broker's redelivery), already proven
  for analytics by test_worker_crash.py, and each kill costs ~30 s.
- SIGKILL of payment-api while notifications come in (the stand-in resends them).
- RabbitMQ stopped for 5 s and started again, on a node of this module's own too (private
  config file, free port): the outbox relays keep the events until it is back, the workers
  reconnect, and whatever they were handling when it went away is redelivered.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from servicekit.config import SERVICES

from .harness import RunningMall, broker_reachable
from .private_servers import PrivatePostgres, PrivateRabbit
from .shop import ADDRESS, PAID_OR_LATER, event_count, ok, stocked_sku, unique_word

pytestmark = pytest.mark.e2e

ORDERS = 40
THREADS = 4
FAULT_AFTER = 16          # paid orders before the fault (40 %)
SETTLE_SECONDS = 60       # after the fault's end (and the load's)
RETRY_SECONDS = 60        # how long a shopper's app keeps retrying one step

SETTINGS = {
    "MALL_GATEWAY_LOGIN_BURST": "1000000", "MALL_GATEWAY_LOGIN_PER_MINUTE": "1000000",
    # the shop's own pay window: an order must not time out while the load waits on the fault
    "MALL_ORDER_PAY_WINDOW_MINUTES": "30",
    "MALL_CARRIER_STANDIN_STEP_SECONDS": "3600",  # parcels stay put: only the payment's effects
    # quick backoff: the test waits a minute at most
    "MALL_WORKER_TRANSIENT_RETRY_SECONDS": "2",
}


@pytest.fixture(scope="module")
def pg():
    if not broker_reachable():
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672")
    cluster = PrivatePostgres()
    why_not = cluster.available()
    if why_not:
        pytest.skip(f"no private PostgreSQL cluster: {why_not}")
    cluster.init()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def rabbit():
    node = PrivateRabbit()
    why_not = node.available()
    if why_not:
        pytest.skip(f"no private RabbitMQ node: {why_not}")
    node.start()
    try:
        yield node
    finally:
        node.destroy()


@pytest.fixture(scope="module")
def shop(pg, rabbit, tmp_path_factory):
    mall = RunningMall(tmp_path_factory.mktemp("faults"), SETTINGS, pg_admin_url=pg.admin_url,
                       amqp_url=rabbit.url)
    try:
        mall.start()
        yield mall
    finally:
        mall.stop()


class Load:
    """ORDERS orders, each placed and paid at the WeChat Pay stand-in by one of THREADS shoppers;
    a step that fails is retried with the same Idempotency-Key, as the app would."""

    def __init__(self, mall: RunningMall):
        self.mall = mall
        word = unique_word()
        with mall.client(mall.admin_token()) as admin, mall.client() as anonymous:
            self.sku_id = stocked_sku(mall, admin, word, ORDERS)
            logins = [ok(anonymous.post("/v1/auth/wechat-login", json={"code": f"{word}s{i}~1"}))
                      for i in range(THREADS)]
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
            with self.mall.client(self.tokens[i % THREADS]) as shopper:
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

    def run(self, fault) -> float:
        """Runs the load with `fault()` once FAULT_AFTER orders are paid; the monotonic time the
        fault (and the load) ended."""
        with ThreadPoolExecutor(THREADS) as pool:
            futures = [pool.submit(self.one, i) for i in range(ORDERS)]
            self.mall.wait_until(lambda: len(self.paid) >= FAULT_AFTER, timeout=120,
                                 what=f"{FAULT_AFTER} orders paid before the fault")
            fault()
            for future in futures:
                future.result()
        return time.monotonic()


def _engine(mall: RunningMall, service: str):
    return create_engine(mall.suite.env[f"MALL_{service.upper()}_DATABASE_URL"])


def _per_order(engine, sql: str, ids: list[str]) -> Counter:
    with engine.connect() as conn:
        return Counter(row[0] for row in conn.execute(text(sql), {"ids": tuple(ids)}))


def settlement(mall: RunningMall, load: Load, paid_events_before: int) -> dict:
    """What is still wrong with the load's paid orders' effects (empty when all settled, once
    each), and its shoppers' orders left `placing`."""
    paid = load.paid
    engines = {s: _engine(mall, s) for s in ("order", "logistics", "member", "support")}
    try:
        with engines["order"].connect() as conn:
            statuses = dict(conn.execute(text("SELECT id, status FROM orders WHERE id IN :ids"),
                                         {"ids": tuple(paid)}).all())
            placing = conn.execute(text("SELECT count(*) FROM orders WHERE status = 'placing' "
                                        "AND member_id IN :members"),
                                   {"members": tuple(load.members)}).scalar()
        shipments = _per_order(engines["logistics"],
                               "SELECT order_id FROM shipments WHERE order_id IN :ids", paid)
        points = _per_order(engines["member"], "SELECT ref FROM points_entries "
                                               "WHERE kind = 'earn' AND ref IN :ids", paid)
        notices = _per_order(engines["support"], "SELECT order_id FROM notifications "
                                                 "WHERE kind = 'order_paid' AND order_id IN :ids", paid)
    finally:
        for engine in engines.values():
            engine.dispose()
    with mall.client(mall.admin_token()) as admin:
        counted = event_count(admin, "order.paid") - paid_events_before
    wrong: dict = {}
    for what, bad in (
            ("not paid", [o for o in paid if statuses.get(o) not in PAID_OR_LATER]),
            ("shipments", [(o, shipments[o]) for o in paid if shipments[o] != 1]),
            ("points earned", [(o, points[o]) for o in paid if points[o] != 1]),
            ("paid notices", [(o, notices[o]) for o in paid if notices[o] != 1])):
        if bad:
            wrong[what] = bad
    if placing:
        wrong["placing"] = placing
    if counted != len(paid):
        wrong["order.paid counted"] = (counted, len(paid))
    return wrong


def dead_letters(mall: RunningMall) -> dict:
    return {s: parked for s in SERVICES if (parked := mall.dead_letters(s))}


def run_fault(mall: RunningMall, fault) -> None:
    with mall.client(mall.admin_token()) as admin:
        paid_events_before = event_count(admin, "order.paid")
    load = Load(mall)
    ended = load.run(fault)
    assert len(load.paid) >= ORDERS - 2, f"orders the shoppers could not pay: {load.refused[:3]}"
    last: dict = {}

    def settled() -> bool:
        nonlocal last
        last = settlement(mall, load, paid_events_before)
        return not last
    deadline = SETTLE_SECONDS - (time.monotonic() - ended)
    try:
        mall.wait_until(settled, timeout=max(deadline, 5), what="every paid order settled")
    except AssertionError as err:
        raise AssertionError(f"{err}; still wrong: {last}; dead letters: {dead_letters(mall)}; "
                             f"refused: {load.refused[:2]}") from None
    time.sleep(2)  # a doubled effect would show now
    assert settlement(mall, load, paid_events_before) == {}
    assert dead_letters(mall) == {}


def test_a_postgresql_restart_in_the_middle_of_a_checkout_load_loses_nothing(shop, pg):
    def restart():
        pg.stop("fast")  # every session: "the database system is shutting down"
        time.sleep(5)
        pg.start()
    run_fault(shop, restart)


def test_a_rabbitmq_restart_in_the_middle_of_a_checkout_load_loses_nothing(shop, rabbit):
    """A worker that acks a message while the broker is gone can exit (nameko's container dies
    on the ConnectionResetError); its supervisor (Kubernetes, here the test) starts it again and
    the broker redelivers what it had not acked."""
    def restart():
        rabbit.stop()
        time.sleep(5)
        rabbit.start()
        time.sleep(3)
        for name in shop.suite.dead():
            shop.suite.say(f"faults: {name} exited while the broker was away; restarting it")
            shop.suite.start(name)
    run_fault(shop, restart)


@pytest.mark.parametrize("process", ["order-worker", "logistics-worker", "member-worker",
                                     "payment-api"])
def test_a_process_killed_in_the_middle_of_a_checkout_load_loses_nothing(shop, process):
    def kill():
        shop.suite.kill(process)
        time.sleep(1.0)  # events and notifications keep coming while it is down
        shop.suite.start(process)
    run_fault(shop, kill)
