"""Promotion's worker through the real broker: order.cancelled releases, order.paid consumes,
points.redeemed and member.birthday_gift_granted issue coupons, each once."""
import time
from datetime import timedelta

from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from sqlalchemy import select

from services.promotion import locks, templates
from services.promotion.locks import LockRequest
from services.promotion.models import IssuedCoupon, OrderLock

from .helpers import NOW, coupon, fixed_spec


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


def test_paid_orders_consume_and_member_events_issue_coupons_once(
        runtime, worker_process, publish_event, wait_until):
    with runtime.transaction() as session:
        paid_coupon = coupon(session, status="available").id
        template_id = str(templates.create(session, runtime, fixed_spec(name="积分兑换券"),
                                           created_by="staff-1").id)
    with runtime.transaction() as session:
        locks.lock_for_order(session, runtime, LockRequest(
            "o-paid", "m-1", (str(paid_coupon),), (), NOW + timedelta(minutes=30)), NOW)
    worker_process("promotion")
    publish_event("order", "order.paid", order_events.OrderPaid(order_id="o-paid", member_id="m-1"))
    redeemed = member_events.PointsRedeemed(redemption_id="r-1", member_id="m-7", item_kind="coupon",
                                            coupon_template_id=template_id, points=500, quantity=1)
    first = publish_event("member", "points.redeemed", redeemed)
    publish_event("member", "points.redeemed", redeemed, event_id=first["id"])  # redelivered
    publish_event("member", "points.redeemed", redeemed)  # replayed under a new event id
    publish_event("member", "member.birthday_gift_granted", member_events.BirthdayGiftGranted(
        grant_id="g-1", member_id="m-8", year=2026, coupon_template_id=template_id))

    def settled():
        with runtime.transaction() as session:
            owners = [c.member_id for c in session.scalars(select(IssuedCoupon))
                      if c.member_id in ("m-7", "m-8")]
            return session.get(OrderLock, "o-paid").status == "consumed" and sorted(owners) == ["m-7", "m-8"]

    wait_until(settled, message="order consumed and both coupons issued")
    time.sleep(1)  # let any duplicate arrive: it must change nothing
    with runtime.transaction() as session:
        assert session.get(IssuedCoupon, paid_coupon).status == "used"
        sources = sorted((c.member_id, c.source) for c in session.scalars(select(IssuedCoupon))
                         if c.member_id != "m-1")
    assert sources == [("m-7", "points"), ("m-8", "birthday")]
