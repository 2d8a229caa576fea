"""Support's reactions: tell the member about their order, from its confirmation to its end, and
about coupons about to expire; announce each notice (notification.created) so it is also pushed
to WeChat."""
from __future__ import annotations

from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import promotion_events_pb2 as promotion_events
from mall.events.v1 import support_events_pb2 as support_events

from servicekit.times import rfc3339
from servicekit.worker import EventWorker, on_event

from . import inbox
from .models import Notification


class Worker(EventWorker):
    name = "support"

    def announce(self, session, notice: Notification | None, order_no: str) -> None:
        if notice is None or not inbox.is_news(session, notice):
            return  # already told, nothing to tell, or a state the order has already left
        self.runtime.emit(session, "notification.created", support_events.NotificationCreated(
            notification_id=notice.id, member_id=notice.member_id, kind=notice.kind,
            title=notice.title, body=notice.body, order_id=notice.order_id or "",
            order_no=order_no, created_at=rfc3339(notice.created_at)))

    @on_event("order", "order.created", order_events.OrderCreated)
    def order_created(self, session, event):
        self.announce(session, inbox.on_order_created(session, event.data), event.data.order_no)

    @on_event("order", "order.paid", order_events.OrderPaid)
    def order_paid(self, session, event):
        self.announce(session, inbox.on_order_paid(session, event.data), event.data.order_no)

    @on_event("order", "order.cancelled", order_events.OrderCancelled)
    def order_cancelled(self, session, event):
        self.announce(session, inbox.on_order_cancelled(session, event.data), event.data.order_no)

    @on_event("order", "order.status_changed", order_events.OrderStatusChanged)
    def order_status_changed(self, session, event):
        self.announce(session, inbox.on_order_status_changed(session, event.data),
                      event.data.order_no)

    @on_event("order", "order.refunded", order_events.OrderRefunded)
    def order_refunded(self, session, event):
        self.announce(session, inbox.on_order_refunded(session, event.data), event.data.order_no)

    @on_event("promotion", "coupon.expiring", promotion_events.CouponExpiring)
    def coupon_expiring(self, session, event):
        self.announce(session, inbox.on_coupon_expiring(session, event.data), "")
