"""SIGKILL analytics' worker in the middle of a burst of events: after a restart every event is
counted exactly once (the outbox re-sends nothing lost, the broker redelivers what was unacked,
the inbox drops what was already counted)."""
from __future__ import annotations

import threading
import time

import pytest

from .shop import event_count, published_product, unique_word

pytestmark = pytest.mark.e2e

PRODUCTS = 3
UPDATES_EACH = 100  # 300 product.updated events in all, from three senders at once
WORKER = "analytics-worker"


def send_updates(mall, token: str, product: dict, sent: list, failures: list) -> None:
    fields = {"title": product["title"], "category_id": product["category"]["id"],
              "size_system": "BRA"}
    with mall.client(token) as http:
        for i in range(UPDATES_EACH):
            reply = http.put(f"/v1/admin/products/{product['id']}",
                             json={**fields, "subtitle": f"第 {i} 次修改"})
            if reply.status_code != 200:
                failures.append(f"update {i} of {product['id']}: {reply.status_code} {reply.text}")
                return
            sent.append(i)


def test_killing_the_analytics_worker_mid_burst_loses_and_doubles_nothing(mall, admin_token):
    total = PRODUCTS * UPDATES_EACH
    with mall.client(admin_token) as admin:
        products = [published_product(admin, f"聚拢文胸 {unique_word()}") for _ in range(PRODUCTS)]
        updated_before = event_count(admin, "product.updated")

        sent: list[int] = []
        failures: list[str] = []
        senders = [threading.Thread(target=send_updates, daemon=True,
                                    args=(mall, admin_token, p, sent, failures)) for p in products]
        for sender in senders:
            sender.start()
        # Kill once the worker is busy with the burst: it holds unacknowledged deliveries then.
        mall.wait_until(lambda: len(sent) >= total // 6
                        and event_count(admin, "product.updated") > updated_before,
                        timeout=60, what="the worker to be counting the burst")
        mall.suite.kill(WORKER)
        counted_at_kill = event_count(admin, "product.updated") - updated_before
        time.sleep(1.0)  # events keep flowing into the worker's queue while it is down
        mall.suite.start(WORKER)
        for sender in senders:
            sender.join(timeout=300)
        assert not any(s.is_alive() for s in senders), "the burst of updates did not finish"
        assert not failures, failures[0]
        assert 0 < counted_at_kill < total, \
            f"the worker had counted {counted_at_kill} of {total} when killed: not mid-burst"

        mall.wait_until(lambda: event_count(admin, "product.updated") - updated_before >= total,
                        timeout=120, what=f"{total} product.updated events counted")
        time.sleep(3.0)  # a redelivered duplicate would show up now
        assert event_count(admin, "product.updated") - updated_before == total
        assert mall.dead_letters("analytics") == []  # nothing was parked on the way either
