"""The inbox lists an order's notices by the order's own history, not by when they arrived
(issue 14: a late "支付成功" showed as the newest notice of a refunded order), and a notice for a
state the order has already left is kept but not announced (no WeChat push)."""
import itertools
from types import SimpleNamespace

import pytest
from mall.events.v1 import order_events_pb2 as order_events

import servicekit.worker
from servicekit.events import make_envelope
from servicekit.testing import outbox_events
from services.support import inbox
from services.support.worker import Worker


@pytest.fixture(autouse=True)
def failures_raise(monkeypatch):
    def raise_it(rt, service_name, source, event_type, method, body, headers, err):
        raise err
    monkeypatch.setattr(servicekit.worker, "_dead_letter", raise_it)


def deliver(runtime, event_type, message):
    """One delivery through the worker's handler as nameko calls it (the kit's inbox included)."""
    handler = {"order.created": Worker.order_created, "order.paid": Worker.order_paid,
               "order.status_changed": Worker.order_status_changed,
               "order.refunded": Worker.order_refunded,
               "order.cancelled": Worker.order_cancelled}[event_type]
    handler(SimpleNamespace(runtime=runtime, name="support", worker_ctx=SimpleNamespace(context_data={}),
                            announce=lambda session, notice, no: Worker.announce(
                                SimpleNamespace(runtime=runtime), session, notice, no)),
            make_envelope("order", event_type, message))


def listed(runtime, member_id):
    with runtime.transaction() as session:
        return [(n.kind, n.read_at is None) for n in inbox.page(session, member_id, 50, None)]


def announced(runtime):
    return [e["data"]["kind"] for e in outbox_events(runtime, "notification.created")]


# A paid order refunded in full at once, as order publishes it (status_seq: its history).
PAID_THEN_REFUNDED = [
    ("order.created", order_events.OrderCreated(order_id="o-1", order_no="N1", member_id="m-1",
                                                payable_fen=19_900, status_seq=1)),
    ("order.paid", order_events.OrderPaid(order_id="o-1", order_no="N1", member_id="m-1",
                                          paid_fen=19_900, status_seq=2)),
    ("order.status_changed", order_events.OrderStatusChanged(
        order_id="o-1", order_no="N1", member_id="m-1", from_status="paid", to_status="refunded",
        status_seq=3)),
]


@pytest.mark.parametrize("arrival", list(itertools.permutations(range(3))))
def test_the_refund_is_the_newest_notice_whatever_the_arrival(runtime, arrival):
    for i in arrival:
        deliver(runtime, *PAID_THEN_REFUNDED[i])
    assert [kind for kind, _ in listed(runtime, "m-1")] == ["order_refunded", "order_paid",
                                                            "order_created"]
    # A notice is news (pushed) only when nothing later in the order's history came before it.
    kinds = ["order_created", "order_paid", "order_refunded"]
    assert announced(runtime) == [kinds[i] for n, i in enumerate(arrival) if i == max(arrival[:n + 1])]


def test_a_late_paid_notice_is_kept_but_neither_new_nor_pushed(runtime):
    deliver(runtime, *PAID_THEN_REFUNDED[0])
    deliver(runtime, *PAID_THEN_REFUNDED[2])
    deliver(runtime, *PAID_THEN_REFUNDED[1])  # 支付成功, after the refund
    assert listed(runtime, "m-1") == [("order_refunded", True), ("order_paid", False),
                                      ("order_created", True)]
    assert announced(runtime) == ["order_created", "order_refunded"]


def test_other_orders_keep_their_places(runtime):
    """Only the late order's own notices change places: another order's notice that arrived in
    between stays where its arrival put it."""
    deliver(runtime, *PAID_THEN_REFUNDED[2])  # o-1 refunded
    deliver(runtime, "order.paid", order_events.OrderPaid(order_id="o-2", order_no="N2",
                                                          member_id="m-1", paid_fen=100,
                                                          status_seq=2))
    deliver(runtime, *PAID_THEN_REFUNDED[1])  # o-1 paid, late
    with runtime.transaction() as session:
        assert [(n.order_id, n.kind) for n in inbox.page(session, "m-1", 50, None)] == [
            ("o-1", "order_refunded"), ("o-2", "order_paid"), ("o-1", "order_paid")]


def test_without_a_status_seq_the_status_order_places_them(runtime):
    """Events from an order that does not yet say status_seq: the statuses' own order."""
    deliver(runtime, "order.cancelled", order_events.OrderCancelled(
        order_id="o-3", order_no="N3", member_id="m-1", reason="staff"))
    deliver(runtime, "order.paid", order_events.OrderPaid(order_id="o-3", order_no="N3",
                                                          member_id="m-1", paid_fen=100))
    assert listed(runtime, "m-1") == [("order_cancelled", True), ("order_paid", False)]
    assert announced(runtime) == ["order_cancelled"]


def test_a_partial_refund_sits_after_the_status_it_happened_in(runtime):
    deliver(runtime, "order.refunded", order_events.OrderRefunded(
        order_id="o-4", order_no="N4", member_id="m-1", refund_id="r-1", refunded_fen=100,
        paid_fen=500, status_seq=2))  # while paid
    deliver(runtime, "order.paid", order_events.OrderPaid(order_id="o-4", order_no="N4",
                                                          member_id="m-1", paid_fen=500,
                                                          status_seq=2))
    assert listed(runtime, "m-1") == [("order_partly_refunded", True), ("order_paid", False)]
