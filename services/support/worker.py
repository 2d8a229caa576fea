"""Support's reactions: tell the member about their order, from its confirmation to its end, and
about coupons about to expire (only with her consent to marketing: marketing.py); announce each
notice (notification.created) so it is also pushed to WeChat; keep members' consents from
member.consent_changed; keep what each member received (order lines, deliveries), so she may review
it (eligibility.py)."""
from __future__ import annotations

from mall.events.v1 import logistics_events_pb2 as logistics_events
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import payment_events_pb2 as payment_events
from mall.events.v1 import promotion_events_pb2 as promotion_events
from mall.events.v1 import support_events_pb2 as support_events

from servicekit import consents
from servicekit.config import env_float
from servicekit.erasure import erased_at
from servicekit.lazy import once
from servicekit.media_storage import default_storage
from servicekit.times import rfc3339
from servicekit.worker import EventWorker, on_event, timer

from . import aftersales, eligibility, erasure, inbox, marketing
from .models import Notification


@once
def storage():
    """The media root review photos live in (deleted on a member's erasure)."""
    return default_storage("support")


def announce(runtime, session, notice: Notification | None, order_no: str) -> None:
    """notification.created for a new notice (member pushes it to WeChat), in the handler's
    transaction; a module function so a handler runs the same with any worker object."""
    if notice is None or not inbox.is_news(session, notice):
        return  # already told, nothing to tell, or a state the order has already left
    runtime.emit(session, "notification.created", support_events.NotificationCreated(
        notification_id=notice.id, member_id=notice.member_id, kind=notice.kind,
        title=notice.title, body=notice.body, order_id=notice.order_id or "",
        order_no=order_no, created_at=rfc3339(notice.created_at),
        consent_purpose=marketing.consent_purpose(notice.kind)))


class Worker(EventWorker):
    name = "support"

    def announce(self, session, notice: Notification | None, order_no: str) -> None:
        announce(self.runtime, session, notice, order_no)

    @on_event("order", "order.created", order_events.OrderCreated)
    def order_created(self, session, event):
        self.announce(session, inbox.on_order_created(session, event.data), event.data.order_no)

    @on_event("order", "order.paid", order_events.OrderPaid)
    def order_paid(self, session, event):
        eligibility.on_order_paid(session, event.data)  # what she may review once delivered
        self.announce(session, inbox.on_order_paid(session, event.data), event.data.order_no)

    @on_event("order", "order.deposit_paid", order_events.OrderDepositPaid)
    def order_deposit_paid(self, session, event):
        announce(self.runtime, session, inbox.on_order_deposit_paid(session, event.data),
                 event.data.order_no)

    @on_event("order", "order.balance_due", order_events.OrderBalanceDue)
    def order_balance_due(self, session, event):
        """A pre-sale's balance window opened: the inbox, then WeChat (notification.created)."""
        announce(self.runtime, session, inbox.on_order_balance_due(session, event.data),
                 event.data.order_no)

    @on_event("order", "order.cancelled", order_events.OrderCancelled)
    def order_cancelled(self, session, event):
        announce(self.runtime, session, inbox.on_order_cancelled(session, event.data),
                 event.data.order_no)

    @on_event("order", "order.status_changed", order_events.OrderStatusChanged)
    def order_status_changed(self, session, event):
        eligibility.on_order_status_changed(session, event.data)  # delivered: every line reached her
        aftersales.on_order_status_changed(session, event.data)  # shipped: no plain refund any more
        self.announce(session, inbox.on_order_status_changed(session, event.data),
                      event.data.order_no)

    @on_event("order", "order.refunded", order_events.OrderRefunded)
    def order_refunded(self, session, event):
        aftersales.on_order_refunded(session, event.data)  # units no longer available
        self.announce(session, inbox.on_order_refunded(session, event.data), event.data.order_no)

    @on_event("promotion", "coupon.expiring", promotion_events.CouponExpiring)
    def coupon_expiring(self, session, event):
        self.announce(session, inbox.on_coupon_expiring(session, event.data), "")

    @on_event("member", "member.consent_changed", member_events.ConsentChanged)
    def consent_changed(self, session, event):
        """The member's latest word on a consent (the newest version wins, whatever the order)."""
        consents.apply(session, event.data)

    @on_event("member", "member.deleted", member_events.MemberDeleted)
    def member_deleted(self, session, event):
        erasure.erase_member(session, event.data.member_id, erased_at(event),
                             runtime=self.runtime, storage=storage())

    @on_event("member", "points.redemption_failed", member_events.PointsRedemptionFailed)
    def points_redemption_failed(self, session, event):
        self.announce(session, inbox.on_points_redemption_failed(session, event.data), "")

    @on_event("logistics", "shipment.delivered", logistics_events.ShipmentChanged)
    def shipment_delivered(self, session, event):
        """The parcel's SKUs reached her: those lines of the order may be reviewed."""
        eligibility.on_shipment_delivered(session, event.data)

    # ------------------------------------------------------------------ after-sales

    @on_event("logistics", "return.booked", logistics_events.ReturnBooked)
    def return_booked(self, session, event):
        aftersales.on_return_booked(self.runtime, session, event.data)

    @on_event("logistics", "return.inspected", logistics_events.ReturnInspected)
    def return_inspected(self, session, event):
        aftersales.on_return_inspected(self.runtime, session, event.data)

    @on_event("logistics", "exchange.shipped", logistics_events.ExchangeShipped)
    def exchange_shipped(self, session, event):
        aftersales.on_exchange_shipped(self.runtime, session, event.data)

    @on_event("logistics", "exchange.unavailable", logistics_events.ExchangeUnavailable)
    def exchange_unavailable(self, session, event):
        aftersales.on_exchange_unavailable(self.runtime, session, event.data)

    @on_event("payment", "payment.refunded", payment_events.PaymentRefunded)
    def payment_refunded(self, session, event):
        """An after-sale's refund (refund_request_id aftersale:<id>) closes it refunded, once."""
        aftersales.on_payment_refunded(self.runtime, session, event.data)

    @timer(env_float("AFTERSALE_TIMER_SECONDS", 60.0, "support"))
    def aftersale_timeouts(self):
        """Unanswered for 48 h: approved; not sent back in 7 days: closed expired."""
        aftersales.run_timeouts(self.runtime)
