"""Faults under a checkout load through the gateway: one fault in the middle of 40 orders placed and
paid by four shoppers at once, then every paid order must settle by itself within a minute of the
fault's end: order paid, one succeeded payment, one shipment, points earned once, one "paid"
notice, order.paid counted once by analytics, no dead letter anywhere, no order left `placing`.
The load and the counting: tests/e2e/fault_load.py (bench/fault_drill.py runs the same with 200
orders and prints the figures).

The suite runs on a PostgreSQL cluster and a RabbitMQ node of this module's own (initdb and a
node on free ports: the shared ones are never restarted), started once for all the faults here.

- PostgreSQL stopped (fast: "the database system is shutting down") for 5 s and started again:
  workers used to park the messages they could not apply in those seconds (19 of 194 orders never
  settled); they now wait for the database (`servicekit.worker.is_transient`).
- RabbitMQ stopped for 5 s and started again: the outbox relays keep the events until it is back,
  the workers reconnect (an ack into the dropped connection is not fatal: `_QueueConsumer`), and
  whatever they were handling when it went away is redelivered. No process may exit.
- SIGKILL of every worker and every api process, each restarted a second later, in four
  experiments (each costs ~25 s): order's worker alone (payment.succeeded → paid, the head of the
  chain), logistics' and member's together (the longest handler: commit stock and plan shipments;
  points, with its own unique ledger), the five other workers at once (catalog, promotion,
  payment, support, analytics), and every api process at once with the gateway (the shopper's
  app retries with the same keys; a placement cut short resumes; the stand-in resends payment's
  notifications).
"""
from __future__ import annotations

import time

import pytest

from .fault_load import (
    API_PROCESSES,
    SETTINGS,
    WORKERS,
    Load,
    dead_letters,
    kill,
    restart_postgres,
    restart_rabbit,
    wait_settled,
    wrong,
)
from .harness import RunningMall, broker_reachable
from .private_servers import PrivatePostgres, rabbit_or_skip

pytestmark = pytest.mark.e2e

ORDERS = 40
THREADS = 4
FAULT_AFTER = 16          # paid orders before the fault (40 %)
SETTLE_SECONDS = 60       # after the fault's end (and the load's)

KILLED_TOGETHER = [["order-worker"], ["logistics-worker", "member-worker"],
                   [w for w in WORKERS if w not in ("order-worker", "logistics-worker",
                                                    "member-worker")],
                   API_PROCESSES]


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
    yield from rabbit_or_skip()


@pytest.fixture(scope="module")
def shop(pg, rabbit, tmp_path_factory):
    mall = RunningMall(tmp_path_factory.mktemp("faults"), SETTINGS, pg_admin_url=pg.admin_url,
                       amqp_url=rabbit.url)
    try:
        mall.start()
        yield mall
    finally:
        mall.stop()


def run_fault(mall: RunningMall, fault) -> None:
    load = Load(mall, ORDERS, THREADS)
    _, ended = load.run(fault, FAULT_AFTER)
    assert len(load.paid) >= ORDERS - 2, f"orders the shoppers could not pay: {load.refused[:3]}"
    settled_at, last = wait_settled(mall, load, max(SETTLE_SECONDS - (time.monotonic() - ended), 5))
    if settled_at is None:
        raise AssertionError(f"gave up waiting for every paid order settled; still wrong: "
                             f"{wrong(last)}; dead letters: {dead_letters(mall)}; "
                             f"refused: {load.refused[:2]} (logs: {mall.tmp / 'logs'})")
    time.sleep(2)  # a doubled effect would show now
    _, again = wait_settled(mall, load, 0)
    assert wrong(again) == {}
    assert dead_letters(mall) == {}


def test_a_postgresql_restart_in_the_middle_of_a_checkout_load_loses_nothing(shop, pg):
    run_fault(shop, lambda: restart_postgres(pg))


def test_a_rabbitmq_restart_in_the_middle_of_a_checkout_load_loses_nothing(shop, rabbit):
    """No process may exit meanwhile (`wait_settled` checks them all)."""
    run_fault(shop, lambda: restart_rabbit(rabbit))


@pytest.mark.parametrize("processes", KILLED_TOGETHER, ids=[
    "order-worker", "logistics-and-member-workers", "five-other-workers", "every-api-process"])
def test_processes_killed_in_the_middle_of_a_checkout_load_lose_nothing(shop, processes):
    run_fault(shop, lambda: kill(shop, processes))
