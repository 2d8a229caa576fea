"""What support promises its consumers and producers: its worker accepts the order and coupon
events as order and promotion publish them (one notice per fact, whatever the broker redelivers),
and announces every notice as notification.created (protos/mall/events/v1/support_events.proto),
which member pushes to WeChat. (review.summary_changed is in the proto; support does not publish it
yet.)"""
from __future__ import annotations

import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import promotion_events_pb2 as promotion_events
from mall.events.v1 import support_events_pb2 as ev
from mall.support.v1 import support_pb2 as pb
from mall.support.v1 import support_pb2_grpc as pb_grpc

from servicekit.testing import outbox_events, wait_until
from tests.contract.support_b import assert_relayed, deliver, parked, published, running_worker

MEMBER = (("x-mall-user-id", "m-7"),)


@pytest.fixture(scope="module")
def worker():
    with running_worker("support") as running:
        yield running


@pytest.fixture
def support(runtime_for, worker):
    return runtime_for("support")


@pytest.fixture
def inbox(grpc_stub_for):
    stub = grpc_stub_for("support", pb_grpc.NotificationServiceStub)
    return lambda: list(stub.ListNotifications(pb.ListNotificationsRequest(
        page=common_pb2.PageRequest(page_size=50)), metadata=MEMBER).notifications)


def changed(to_status: str, **fields) -> order_events.OrderStatusChanged:
    return order_events.OrderStatusChanged(order_id="o-7", order_no="N-7", member_id="m-7",
                                           to_status=to_status, summary="您的订单", **fields)


def test_every_notice_is_announced_as_notification_created_with_the_order_number(support, inbox):
    deliver(support, "order", "order.paid", order_events.OrderPaid(
        order_id="o-7", order_no="N-7", member_id="m-7", paid_fen=41800))
    for status in ("partly_shipped", "shipped", "delivered", "completed"):
        deliver(support, "order", "order.status_changed", changed(status))
    notices = inbox()
    announced = published(support, "notification.created", ev.NotificationCreated)
    assert [a.kind for a in announced] == ["order_paid", "order_partly_shipped", "order_shipped",
                                           "order_delivered", "order_completed"]
    by_id = {n.id: n for n in notices}
    for event in announced:
        notice = by_id[str(event.notification_id)]
        assert (event.member_id, event.order_id, event.order_no) == ("m-7", "o-7", "N-7")
        assert (event.title, event.body, event.kind) == (notice.title, notice.body, notice.kind_code)
        assert event.created_at.endswith(("Z", "+00:00"))


def test_a_coupon_about_to_expire_is_one_notice_announced_to_member(support, inbox):
    expiring = promotion_events.CouponExpiring(
        coupon_id="c-9", member_id="m-7", template_id="t-1", name="满200减50",
        valid_until="2026-12-31T16:00:00Z", amount_fen=5000)
    deliver(support, "promotion", "coupon.expiring", expiring)
    deliver(support, "promotion", "coupon.expiring", expiring)  # promotion's timer may say it twice
    [announced] = published(support, "notification.created", ev.NotificationCreated)
    [notice] = inbox()
    assert (announced.member_id, announced.kind) == ("m-7", notice.kind_code)
    assert "满200减50" in notice.body or "满200减50" in notice.title


def test_a_refund_notice_per_partial_refund_and_none_for_a_full_one(support, inbox):
    def refunded(refund_id, fen, full=False):
        return order_events.OrderRefunded(order_id="o-7", order_no="N-7", member_id="m-7",
                                          refund_id=refund_id, refunded_fen=fen, paid_fen=41800,
                                          full=full)
    deliver(support, "order", "order.refunded", refunded("r-1", 21900))
    deliver(support, "order", "order.refunded", refunded("r-2", 19900, full=True))  # the status tells it
    deliver(support, "order", "order.status_changed", changed("refunded"))
    assert [(n.kind, n.kind_code) for n in inbox()] == [
        (pb.ORDER_REFUNDED, "order_refunded"), (pb.ORDER_PARTLY_REFUNDED, "order_partly_refunded")]
    assert "219" in inbox()[1].body  # the amount in yuan


def test_one_notice_per_fact_whatever_is_redelivered_or_announced_twice(support, inbox):
    cancelled = order_events.OrderCancelled(order_id="o-7", order_no="N-7", member_id="m-7",
                                            reason="member")
    first = deliver(support, "order", "order.cancelled", cancelled)
    deliver(support, "order", "order.cancelled", cancelled, event_id=first["id"])  # redelivered
    deliver(support, "order", "order.cancelled", cancelled)  # the same fact under a new id
    deliver(support, "order", "order.cancelled", order_events.OrderCancelled(
        order_id="o-8", member_id="m-7", reason="placement_failed"))  # never became an order
    assert [(n.kind_code, n.order_id) for n in inbox()] == [("order_cancelled", "o-7")]
    assert len(outbox_events(support, "notification.created")) == 1


def test_a_failed_points_redemption_is_one_notice_announced_to_member(support, inbox):
    from mall.events.v1 import member_events_pb2 as member_events

    failed = member_events.PointsRedemptionFailed(
        redemption_id="r-7", member_id="m-7", item_id="i-7", item_title="无门槛10元券",
        item_kind="coupon", points_returned=100, quantity=1, reason="ended",
        failed_at="2026-12-04T02:00:00Z")
    deliver(support, "member", "points.redemption_failed", failed)
    deliver(support, "member", "points.redemption_failed", failed)  # the same fact again
    [notice] = inbox()
    assert (notice.kind, notice.kind_code, notice.title) == (
        pb.POINTS_REDEMPTION_FAILED, "points_redemption_failed", "积分已退回")
    assert "100 积分已退回" in notice.body
    [announced] = published(support, "notification.created", ev.NotificationCreated)
    assert (announced.member_id, announced.kind, announced.body) == ("m-7", notice.kind_code,
                                                                     notice.body)


def test_an_event_naming_no_member_is_parked_not_lost(support, publish_event):
    envelope = publish_event("order", "order.paid", order_events.OrderPaid(order_id="o-9",
                                                                           paid_fen=100))
    [dead] = wait_until(lambda: parked("support", envelope["id"]), timeout=20,
                        message="the event parked in support.dead-letters")
    assert dead["handler"] == "support.order_paid"
    assert outbox_events(support, "notification.created") == []


def test_the_relay_puts_notification_created_on_rabbitmq(support, relay_for, listen_for):
    created = listen_for("support", "notification.created")
    deliver(support, "order", "order.created", order_events.OrderCreated(
        order_id="o-7", order_no="N-7", member_id="m-7", payable_fen=41800))
    relay_for("support")
    envelope = assert_relayed(created.next(), "support", "notification.created")
    assert (envelope["data"]["kind"], envelope["data"]["orderNo"]) == ("order_created", "N-7")
    assert envelope["data"]["notificationId"].isdigit()  # int64: a string in proto3 JSON
