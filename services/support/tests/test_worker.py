"""order.paid and order.cancelled through the real broker and worker process: one notice each."""
from mall.events.v1 import order_events_pb2 as order_events
from sqlalchemy import select

from services.support.models import Notification


def notices(runtime):
    with runtime.transaction() as session:
        return [(n.member_id, n.kind, n.order_id) for n in
                session.scalars(select(Notification).order_by(Notification.id))]


def test_each_order_event_notifies_the_member_once_even_if_delivered_twice(
        runtime, worker_process, publish_event, wait_until):
    worker = worker_process("support")
    paid = order_events.OrderPaid(order_id="o-1", order_no="N-1", member_id="m-1", paid_fen=19900)
    cancelled = order_events.OrderCancelled(order_id="o-2", order_no="N-2", member_id="m-1",
                                            reason="member")
    first = publish_event("order", "order.paid", paid)
    publish_event("order", "order.paid", paid, event_id=first["id"])        # redelivery
    publish_event("order", "order.paid", paid)                               # same fact, new id
    second = publish_event("order", "order.cancelled", cancelled)
    publish_event("order", "order.cancelled", cancelled, event_id=second["id"])
    # Sentinels behind the duplicates on each queue.
    publish_event("order", "order.paid", order_events.OrderPaid(order_id="o-3", member_id="m-2"))
    publish_event("order", "order.cancelled",
                  order_events.OrderCancelled(order_id="o-4", member_id="m-2"))
    wait_until(lambda: len(notices(runtime)) >= 4, message="four notices")

    def inbox_rows():
        with runtime.transaction() as session:
            return len(session.execute(select(runtime.inbox_table)).all())

    wait_until(lambda: inbox_rows() == 5, message="every distinct event id handled")
    assert sorted(notices(runtime)) == [("m-1", "order_cancelled", "o-2"), ("m-1", "order_paid", "o-1"),
                                        ("m-2", "order_cancelled", "o-4"), ("m-2", "order_paid", "o-3")]
    # Each notice announced once, for the WeChat push.
    from servicekit.testing import outbox_events
    announced = outbox_events(runtime, "notification.created")
    assert sorted((e["data"]["memberId"], e["data"]["kind"]) for e in announced) == [
        ("m-1", "order_cancelled"), ("m-1", "order_paid"), ("m-2", "order_cancelled"),
        ("m-2", "order_paid")]
    assert "Traceback" not in worker.log()


def test_an_order_event_naming_no_member_is_parked_not_lost(
        runtime, worker_process, publish_event, wait_until):
    from servicekit.deadletters import list_parked

    worker = worker_process("support")
    envelope = publish_event("order", "order.paid", order_events.OrderPaid(order_id="o-9",
                                                                           paid_fen=100))
    parked = wait_until(lambda: [p for p in list_parked("support") if p["event_id"] == envelope["id"]],
                        timeout=20, message="the event parked in support.dead-letters")
    assert parked[0]["handler"] == "support.order_paid" and "names no member" in parked[0]["error"]
    assert notices(runtime) == []
    assert worker.proc.poll() is None  # the worker keeps going


def test_partial_refunds_reach_the_inbox_and_the_wechat_push_once_each(
        runtime, worker_process, publish_event, wait_until):
    from servicekit.testing import outbox_events

    worker_process("support")

    def refund(refund_id: str, fen: int, full: bool = False):
        return order_events.OrderRefunded(order_id="o-7", order_no="N-7", member_id="m-7",
                                          refund_id=refund_id, refunded_fen=fen, paid_fen=41800,
                                          full=full)
    first = publish_event("order", "order.refunded", refund("r-1", 21900))
    publish_event("order", "order.refunded", refund("r-1", 21900), event_id=first["id"])
    publish_event("order", "order.refunded", refund("r-2", 19900))
    publish_event("order", "order.refunded", refund("r-3", 0, full=True))  # the status tells that
    publish_event("order", "order.paid", order_events.OrderPaid(order_id="o-8", member_id="m-8"))

    def inbox_rows():
        with runtime.transaction() as session:
            return len(session.execute(select(runtime.inbox_table)
                                       .where(runtime.inbox_table.c.event_type == "order.refunded")).all())

    wait_until(lambda: inbox_rows() == 3, message="every distinct refund event handled")
    refunds = [(m, k) for m, k, o in notices(runtime) if o == "o-7"]
    assert refunds == [("m-7", "order_partly_refunded")] * 2
    announced = [e["data"] for e in outbox_events(runtime, "notification.created")
                 if e["data"]["orderId"] == "o-7"]
    assert [(a["kind"], a["orderNo"]) for a in announced] == [("order_partly_refunded", "N-7")] * 2
