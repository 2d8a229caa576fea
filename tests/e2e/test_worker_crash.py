"""SIGKILL analytics' worker in the middle of a burst of events: after a restart every event is
counted exactly once (the outbox re-sends nothing lost, the broker redelivers what was unacked,
the inbox drops what was already counted)."""
from __future__ import annotations

import threading
import time

import pytest

from .shop import event_count, ok, published_product, unique_word

pytestmark = pytest.mark.e2e

UPDATES = 300
WORKER = "analytics-worker"


def test_killing_the_analytics_worker_mid_burst_loses_and_doubles_nothing(mall, admin_token):
    with mall.client(admin_token) as admin:
        word = unique_word()
        product = published_product(admin, f"聚拢文胸 {word}")
        fields = {"title": product["title"], "category_id": product["category"]["id"],
                  "size_system": "BRA"}
        updated_before = event_count(admin, "product.updated")

        sent: list[int] = []
        failures: list[str] = []

        def send_updates() -> None:
            with mall.client(admin_token) as http:
                for i in range(UPDATES):
                    reply = http.put(f"/v1/admin/products/{product['id']}",
                                     json={**fields, "subtitle": f"第 {i} 次修改"})
                    if reply.status_code != 200:
                        failures.append(f"update {i}: {reply.status_code} {reply.text}")
                        return
                    sent.append(i)

        burst = threading.Thread(target=send_updates, daemon=True)
        burst.start()
        mall.wait_until(lambda: len(sent) >= UPDATES // 6, what="the burst to get going")
        mall.suite.kill(WORKER)
        counted_at_kill = event_count(admin, "product.updated") - updated_before
        time.sleep(1.0)  # events keep flowing into the worker's queue while it is down
        mall.suite.start(WORKER)
        burst.join(timeout=300)
        assert not burst.is_alive(), "the burst of updates did not finish"
        assert not failures, failures[0]
        assert counted_at_kill < UPDATES, "the worker was killed after the burst, not during it"

        mall.wait_until(lambda: event_count(admin, "product.updated") - updated_before >= UPDATES,
                        timeout=120, what=f"{UPDATES} product.updated events counted")
        time.sleep(3.0)  # a redelivered duplicate would show up now
        assert event_count(admin, "product.updated") - updated_before == UPDATES
