"""order.cancelled through the real broker and worker process releases the order's coupons once."""
from mall.events.v1 import order_events_pb2 as order_events
from sqlalchemy import select

from services.promotion.models import IssuedCoupon

from .helpers import coupon


def test_order_cancelled_releases_locked_coupons_once_even_if_delivered_twice(
        runtime, worker_process, publish_event, wait_until):
    with runtime.transaction() as session:
        locked = coupon(session, order_id="o-1").id
        sentinel = coupon(session, order_id="o-2").id
    worker = worker_process("promotion")
    cancelled = order_events.OrderCancelled(order_id="o-1", member_id="m-1", reason="timeout")
    envelope = publish_event("order", "order.cancelled", cancelled)
    publish_event("order", "order.cancelled", cancelled, event_id=envelope["id"])
    publish_event("order", "order.cancelled",
                  order_events.OrderCancelled(order_id="o-2", member_id="m-1"))

    def status(coupon_id):
        with runtime.transaction() as session:
            return session.get(IssuedCoupon, coupon_id).status

    wait_until(lambda: status(locked) == "available" and status(sentinel) == "available",
               message="both orders' coupons released")
    with runtime.transaction() as session:
        released = [r for r in session.execute(select(runtime.outbox_table))
                    if r.event_type == "coupon.released"]
        handled = session.execute(select(runtime.inbox_table)).all()
    assert len(released) == 2 and len(handled) == 2  # the duplicate delivery did nothing
    assert "Traceback" not in worker.log()
