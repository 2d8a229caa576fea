"""What support promises its consumers and producers: its worker accepts the order and coupon
events as order and promotion publish them (one notice per fact, whatever the broker redelivers),
and announces every notice as notification.created (protos/mall/events/v1/support_events.proto),
which member pushes to WeChat; it keeps what was delivered (order.paid lines, logistics'
shipment.delivered) so a shopper may review it, and announces each product's review summary as
review.summary_changed, which catalog reads."""
from __future__ import annotations

import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import member_events_pb2 as member_events
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


def consent(granted: bool, version: int, member_id: str = "m-7") -> member_events.ConsentChanged:
    return member_events.ConsentChanged(member_id=member_id, purpose="marketing", granted=granted,
                                        version=version, changed_at="2026-12-01T08:00:00Z")


def reminder(coupon_id: str, member_id: str = "m-7") -> promotion_events.CouponExpiring:
    return promotion_events.CouponExpiring(coupon_id=coupon_id, member_id=member_id, template_id="t-1",
                                           name="满200减50", valid_until="2026-12-31T16:00:00Z",
                                           amount_fen=5000)


def test_a_coupon_about_to_expire_is_one_notice_announced_to_member(support, inbox):
    deliver(support, "member", "member.consent_changed", consent(True, 1))
    expiring = promotion_events.CouponExpiring(
        coupon_id="c-9", member_id="m-7", template_id="t-1", name="满200减50",
        valid_until="2026-12-31T16:00:00Z", amount_fen=5000)
    deliver(support, "promotion", "coupon.expiring", expiring)
    deliver(support, "promotion", "coupon.expiring", expiring)  # promotion's timer may say it twice
    [announced] = published(support, "notification.created", ev.NotificationCreated)
    [notice] = inbox()
    assert (announced.member_id, announced.kind) == ("m-7", notice.kind_code)
    assert announced.consent_purpose == "marketing"  # member's push checks it too
    assert "满200减50" in notice.body or "满200减50" in notice.title


def test_a_reminder_waits_for_marketing_consent_and_a_withdrawal_stops_the_next(support, inbox):
    deliver(support, "promotion", "coupon.expiring", reminder("c-1"))  # nothing said yet: opt-in
    assert inbox() == [] and outbox_events(support, "notification.created") == []
    deliver(support, "member", "member.consent_changed", consent(True, 1))
    deliver(support, "promotion", "coupon.expiring", reminder("c-2"))
    assert [n.coupon_id for n in inbox()] == ["c-2"]
    deliver(support, "member", "member.consent_changed", consent(False, 2))
    deliver(support, "promotion", "coupon.expiring", reminder("c-3"))
    assert [n.coupon_id for n in inbox()] == ["c-2"]
    assert [a.kind for a in published(
        support, "notification.created", ev.NotificationCreated)] == ["coupon_expiring"]


def test_a_late_or_redelivered_consent_event_never_undoes_a_newer_one(support, inbox):
    granted = deliver(support, "member", "member.consent_changed", consent(True, 5))
    deliver(support, "member", "member.consent_changed", consent(False, 6))
    deliver(support, "member", "member.consent_changed", consent(True, 5),
            event_id=granted["id"])  # redelivered
    deliver(support, "member", "member.consent_changed", consent(True, 4))  # an older grant, late
    deliver(support, "promotion", "coupon.expiring", reminder("c-1"))
    assert inbox() == []


def test_transactional_notices_need_no_consent_and_say_so(support, inbox):
    deliver(support, "member", "member.consent_changed", consent(False, 3))
    deliver(support, "order", "order.paid", order_events.OrderPaid(
        order_id="o-7", order_no="N-7", member_id="m-7", paid_fen=41800))
    [announced] = published(support, "notification.created", ev.NotificationCreated)
    assert (announced.kind, announced.consent_purpose) == ("order_paid", "")
    assert [n.kind_code for n in inbox()] == ["order_paid"]


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


def test_member_deleted_deletes_her_notices_once_and_later_events_tell_her_nothing(support, inbox):
    deliver(support, "order", "order.paid", order_events.OrderPaid(
        order_id="o-7", order_no="N-7", member_id="m-7", paid_fen=41800))
    assert len(inbox()) == 1
    deleted = member_events.MemberDeleted(member_id="m-7", deleted_at="2026-12-04T21:00:00Z")
    first = deliver(support, "member", "member.deleted", deleted)
    deliver(support, "member", "member.deleted", deleted, event_id=first["id"])
    deliver(support, "order", "order.status_changed", changed("shipped"))  # reordered, late
    assert inbox() == []


def test_a_delivered_parcel_opens_its_lines_to_review_and_a_review_announces_the_summary(
        support, grpc_stub_for):
    from mall.events.v1 import logistics_events_pb2 as logistics_events
    reviews = grpc_stub_for("support", pb_grpc.ReviewServiceStub)
    line = order_events.OrderEventLine(line_id="l-7", product_id="p-7", sku_id="k-7", size="M",
                                       sku_label="M 肤色", title="无痕内裤", quantity=2)
    parcel = logistics_events.ShipmentChanged(
        shipment_id="s-7", order_id="o-7", member_id="m-7",
        state=logistics_events.SHIPMENT_DELIVERED, occurred_at="2026-12-02T09:00:00Z",
        items=[logistics_events.ShipmentItem(sku_id="k-7", quantity=2)])
    deliver(support, "logistics", "shipment.delivered", parcel)  # before the payment: kept
    assert not reviews.ListReviewable(pb.ListReviewableRequest(), metadata=MEMBER).lines
    deliver(support, "order", "order.paid", order_events.OrderPaid(
        order_id="o-7", order_no="N-7", member_id="m-7", paid_fen=5900, lines=[line]))
    [reviewable] = reviews.ListReviewable(pb.ListReviewableRequest(), metadata=MEMBER).lines
    assert (reviewable.line_id, reviewable.size, reviewable.product_id) == ("l-7", "M", "p-7")
    first = deliver(support, "logistics", "shipment.delivered", parcel)
    deliver(support, "logistics", "shipment.delivered", parcel, event_id=first["id"])  # redelivered
    reviews.CreateReview(iter([pb.ReviewUploadRequest(review=pb.ReviewDraft(
        order_id="o-7", line_id="l-7", stars=4, fit=pb.TRUE_TO_SIZE))]), metadata=MEMBER)
    [summary] = published(support, "review.summary_changed", ev.ReviewSummaryChanged)
    assert (summary.product_id, summary.review_count, summary.average_rating, summary.version,
            summary.true_to_size) == ("p-7", 1, 4.0, 1, 1)
    assert [(s.size, s.review_count, s.true_to_size) for s in summary.sizes] == [("M", 1, 1)]


def test_a_presale_deposit_and_its_balance_window_are_notices_announced_to_member(support, inbox):
    deliver(support, "order", "order.deposit_paid", order_events.OrderDepositPaid(
        order_id="o-pre", order_no="N-PRE", member_id="m-7", deposit_fen=5000, balance_fen=5900,
        balance_from="2026-11-10T16:00:00Z", balance_until="2026-11-11T16:00:00Z",
        unpaid_balance="keep_deposit", status_seq=2))
    deliver(support, "order", "order.balance_due", order_events.OrderBalanceDue(
        order_id="o-pre", order_no="N-PRE", member_id="m-7", balance_fen=5900,
        balance_until="2026-11-11T16:00:00Z", unpaid_balance="keep_deposit", summary="您的订单",
        status_seq=3))
    assert [n.kind_code for n in inbox()] == ["order_balance_due", "order_deposit_paid"]
    announced = published(support, "notification.created", ev.NotificationCreated)
    assert [(a.kind, a.order_no) for a in announced] == [("order_deposit_paid", "N-PRE"),
                                                         ("order_balance_due", "N-PRE")]


# ------------------------------------------------------------------ after-sales (售后)

def _aftersale_request(support, grpc_stub_for, kind: str, line: dict, **draft) -> str:
    """Eve's order o-ae, delivered yesterday; she applies through the real server."""
    from datetime import datetime, timedelta, timezone

    from mall.events.v1 import logistics_events_pb2 as logistics_events
    deliver(support, "order", "order.paid", order_events.OrderPaid(
        order_id="o-ae", order_no="N-AE", member_id="eve", paid_fen=9900, lines=[
            order_events.OrderEventLine(line_id="l-1", product_id="p-1", sku_id="k-1",
                                        size="M", quantity=1, paid_fen=9900)]))
    deliver(support, "logistics", "shipment.delivered", logistics_events.ShipmentChanged(
        shipment_id="s-ae", order_id="o-ae", member_id="eve",
        occurred_at=(datetime.now(timezone.utc) - timedelta(days=1)).isoformat(),
        items=[logistics_events.ShipmentItem(sku_id="k-1", quantity=1)]))
    shopper = grpc_stub_for("support", pb_grpc.AfterSaleServiceStub)
    made = shopper.ApplyAfterSale(iter([pb.AfterSaleUploadRequest(application=pb.AfterSaleDraft(
        order_id="o-ae", kind=kind, reason_code="quality",
        lines=[pb.AfterSaleLineDraft(line_id="l-1", quantity=1, **line)], **draft))]),
        metadata=(("x-mall-user-id", "eve"),))
    desk = grpc_stub_for("support", pb_grpc.AfterSaleAdminServiceStub)
    desk.ApproveAfterSale(pb.DecideAfterSaleRequest(request_id=made.id),
                          metadata=(("x-mall-user-id", "s-cs"), ("x-mall-roles", "cs_agent")))
    return made.id


def test_a_return_is_booked_inspected_refunded_and_closed_once(support, grpc_stub_for,
                                                               monkeypatch):
    from mall.events.v1 import logistics_events_pb2 as logistics_events
    from mall.events.v1 import payment_events_pb2 as payment_events
    monkeypatch.setenv("MALL_SUPPORT_CHECK_CATALOG", "0")
    rid = _aftersale_request(support, grpc_stub_for, "return_refund", {})
    applied = published(support, "aftersale.applied", ev.AfterSaleApplied)
    assert [(a.request_id, a.kind, a.reason_code, a.lines[0].refund_fen) for a in applied] == [
        (rid, "return_refund", "quality", 9900)]
    approved = published(support, "aftersale.approved", ev.AfterSaleApproved)
    assert approved[0].return_expected and approved[0].free_return_shipping
    booked = deliver(support, "logistics", "return.booked", logistics_events.ReturnBooked(
        request_id=rid, order_id="o-ae", member_id="eve", carrier="SF", waybill_no="SF1"))
    deliver(support, "logistics", "return.booked", logistics_events.ReturnBooked(
        request_id=rid), event_id=booked["id"])  # redelivered
    deliver(support, "logistics", "return.inspected", logistics_events.ReturnInspected(
        request_id=rid, order_id="o-ae", member_id="eve", accepted=True, seal_intact=True))
    asked = published(support, "aftersale.refund_requested", ev.AfterSaleRefundRequested)
    assert [(a.refund_request_id, a.amount_fen) for a in asked] == [(f"aftersale:{rid}", 9900)]
    refunded = payment_events.PaymentRefunded(refund_request_id=f"aftersale:{rid}",
                                              order_id="o-ae", member_id="eve", amount_fen=9900)
    deliver(support, "payment", "payment.refunded", refunded)
    deliver(support, "payment", "payment.refunded", refunded)  # announced twice: closed once
    closed = published(support, "aftersale.closed", ev.AfterSaleClosed)
    assert [(c.request_id, c.outcome, c.refunded_fen, c.reason_code) for c in closed] == [
        (rid, "refunded", 9900, "quality")]
    kinds = [n.kind for n in published(support, "notification.created", ev.NotificationCreated)]
    assert kinds.count("aftersale_closed") == 1 and "aftersale_refunding" in kinds


def test_an_exchange_unavailable_then_shipped_closes_exchanged(support, grpc_stub_for,
                                                              monkeypatch):
    from mall.events.v1 import logistics_events_pb2 as logistics_events
    monkeypatch.setenv("MALL_SUPPORT_CHECK_CATALOG", "0")
    rid = _aftersale_request(support, grpc_stub_for, "exchange", {"exchange_sku_id": "k-2"})
    deliver(support, "logistics", "exchange.unavailable", logistics_events.ExchangeUnavailable(
        request_id=rid, order_id="o-ae", member_id="eve"))
    deliver(support, "logistics", "exchange.shipped", logistics_events.ExchangeShipped(
        request_id=rid, order_id="o-ae", member_id="eve", carrier="SF", waybill_no="SF2"))
    closed = published(support, "aftersale.closed", ev.AfterSaleClosed)
    assert [(c.outcome, c.lines[0].exchange_sku_id) for c in closed] == [("exchanged", "k-2")]
    kinds = [n.kind for n in published(support, "notification.created", ev.NotificationCreated)]
    assert "aftersale_exchange_unavailable" in kinds
