"""A shopper pays and staff refund the whole order at once; whatever order member and support
hear the events in, her points and tier are as before the order and her inbox's newest notice
for it is the refund (issue 14: the refund was handled 15 ms before the earn, and the points
stayed; "支付成功" showed as the newest notice of a refunded order).

How the late order.paid is forced, deterministically: member's and support's workers are stopped
before the payment, so the order's events queue up (each handler has its own queue). The test
then takes order.paid out of member's `earn_points` queue and support's `order_paid` queue and
holds it unacknowledged (the broker gives it to nobody else meanwhile), restarts the workers,
waits until both have handled the refund, and only then puts the held order.paid back on its
queue (same body and message id, as the broker's redelivery would) and acknowledges the held
copy. So both workers hear the refund first and the payment last: the reordering of the issue.
The second case lets the events arrive as they come, with the workers running: same end state."""
from __future__ import annotations

import json
import uuid

import pika
import pytest
from sqlalchemy import text

from servicekit.db import make_engine
from servicekit.worker import handler_queue

from .shop import ok, pay_with_wechat, place_order, sign_in, status_of, stocked_sku, unique_word

pytestmark = pytest.mark.e2e

HELD = {"member-worker": handler_queue("order", "order.paid", "member", "earn_points"),
        "support-worker": handler_queue("order", "order.paid", "support", "order_paid")}


def standing(shopper) -> tuple[int, str]:
    points = ok(shopper.get("/v1/me/points", params={"page_size": 100}))
    return int(points.get("balance", 0)), ok(shopper.get("/v1/me/tier"))["tier"]["code"]


def order_notices(shopper, order_id: str) -> list[dict]:
    """The order's notices as the inbox lists them, newest first."""
    notices = ok(shopper.get("/v1/me/notifications", params={"page_size": 100}))["notifications"]
    return [n for n in notices if n["order_id"] == order_id]


def member_order(mall, order_id: str) -> dict | None:
    """member's folded row for the order: only a sign that the worker has handled an event
    (nothing through the gateway shows it); the assertions are the shopper's own answers."""
    engine = make_engine(mall.suite.env["MALL_MEMBER_DATABASE_URL"], pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT earn_settled, refunded_in_full FROM member_orders "
                                    "WHERE order_id = :id"), {"id": order_id}).mappings().first()
            return dict(row) if row else None
    finally:
        engine.dispose()


class HeldPayments:
    """order.paid of one order, taken off the given handler queues and held unacknowledged."""

    def __init__(self, mall):
        self.connection = pika.BlockingConnection(pika.URLParameters(mall.suite.env["MALL_AMQP_URL"]))
        self.channel = self.connection.channel()
        self.held: dict[str, tuple] = {}

    def take(self, mall, queue: str, order_id: str) -> None:
        others = []

        def ours():
            method, properties, body = self.channel.basic_get(queue, auto_ack=False)
            if method is None:
                return None
            if json.loads(body)["data"].get("orderId") == order_id:
                return method, properties, body
            others.append(method.delivery_tag)  # another journey's payment: back after ours
            return None
        self.held[queue] = mall.wait_until(ours, timeout=30, what=f"order.paid on {queue}")
        for tag in others:
            self.channel.basic_nack(tag, requeue=True)

    def put_back(self, queue: str) -> None:
        method, properties, body = self.held.pop(queue)
        self.channel.basic_publish("", queue, body, properties)
        self.channel.basic_ack(method.delivery_tag)

    def close(self) -> None:
        self.connection.close()  # anything still held goes back to its queue


@pytest.mark.parametrize("late_payment", [True, False], ids=["refund-heard-first", "as-it-comes"])
def test_a_full_refund_right_after_payment_leaves_no_points_and_tells_the_refund_last(
        mall, admin_token, late_payment):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        sku = stocked_sku(mall, admin, word, 2)
        _, token = sign_in(anonymous, word)
        with mall.client(token) as shopper:
            before = standing(shopper)
            order = place_order(shopper, [(sku, 1)])
            order_id = order["order_id"]
            held = HeldPayments(mall) if late_payment else None
            try:
                if held:
                    for worker in HELD:
                        mall.suite.stop(worker)
                pay_with_wechat(mall, shopper, order)
                ok(admin.post(f"/v1/admin/orders/{order_id}/refunds", json={
                    "refund_request_id": f"e2e-{uuid.uuid4().hex[:12]}", "reason": "不想要了",
                    "amount_fen": order["payable_fen"]}), 201)
                mall.wait_until(lambda: status_of(shopper, order_id) == "refunded", timeout=30,
                                what="the order refunded in full")
                if held:
                    for worker, queue in HELD.items():
                        held.take(mall, queue, order_id)
                        mall.suite.start(worker)
                    mall.wait_until(lambda: (member_order(mall, order_id) or {}).get("refunded_in_full"),
                                    timeout=90, what="member handling the refund")
                    mall.wait_until(lambda: [n for n in order_notices(shopper, order_id)
                                             if n["kind_code"] == "order_refunded"],
                                    timeout=90, what="support telling of the refund")
                    for queue in HELD.values():  # now the payment, last
                        held.put_back(queue)
            finally:
                if held:
                    held.close()
                    for worker in HELD:
                        if not mall.suite.running(worker):
                            mall.suite.start(worker)

            mall.wait_until(lambda: (row := member_order(mall, order_id) or {}).get("earn_settled")
                            and row.get("refunded_in_full"),  # both heard, in whichever order
                            timeout=90, what="member handling the payment and the refund")
            notices = mall.wait_until(
                lambda: (found := order_notices(shopper, order_id))
                and {"order_paid", "order_refunded"} <= {n["kind_code"] for n in found} and found,
                timeout=60, what="both notices in the inbox")

            assert standing(shopper) == before  # no points kept, the same tier
            assert notices[0]["kind_code"] == "order_refunded", [n["kind_code"] for n in notices]
            if late_payment:  # heard after the refund, 支付成功 is history, not news
                assert next(n for n in notices if n["kind_code"] == "order_paid")["read"] is True
    for service in ("member", "support", "order", "payment"):
        assert mall.dead_letters(service) == []
