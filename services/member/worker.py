"""The member worker: reacts to other services' events (no gRPC calls from here), pushes support's
notices to the shopper's WeChat, and runs the scheduled jobs (points expiry, birthday gifts, the
yearly tier review)."""
from __future__ import annotations

from mall.events.v1 import (
    logistics_events_pb2,
    order_events_pb2,
    payment_events_pb2,
    promotion_events_pb2,
    support_events_pb2,
)
from nameko.extensions import DependencyProvider

from servicekit.config import env_float
from servicekit.times import today_in_shanghai, utcnow
from servicekit.worker import EventWorker, on_event, timer

from .loyalty import birthday, order_effects, sweeps
from .loyalty import redemption_outcomes as redemptions
from .partners import credentials as partners
from .profile import habits
from .profile.vault import default_vault
from .wechat import pushes as wechat_pushes
from .wechat import shipping as wechat_shipping

# Hourly by default: each job is idempotent, so running more often than needed only costs a query.
SWEEP_SECONDS = env_float("SWEEP_SECONDS", 3600.0, "member")
NONCE_PRUNE_SECONDS = env_float("NONCE_PRUNE_SECONDS", 300.0, "member")
# WeChat's shipping-info calls that must be tried again (backed off per row) are picked up this often.
WECHAT_SHIPPING_SWEEP_SECONDS = env_float("WECHAT_SHIPPING_SWEEP_SECONDS", 30.0, "member")


class _Pusher(DependencyProvider):
    """One WeChat pusher per worker process: its access token and connections outlive a message."""

    def setup(self):
        self.pusher = wechat_pushes.WechatPusher.from_env()

    def stop(self):
        self.pusher.close()

    def get_dependency(self, worker_ctx):
        return self.pusher


class _Shipper(DependencyProvider):
    """One WeChat shipping-info client per worker process (its access token, its connections)."""

    def setup(self):
        self.shipper = wechat_shipping.WechatShipper.from_env()

    def stop(self):
        self.shipper.close()

    def get_dependency(self, worker_ctx):
        return self.shipper


class Worker(EventWorker):
    name = "member"
    wechat = _Pusher()
    wechat_shipping = _Shipper()

    @on_event("order", "order.paid", order_events_pb2.OrderPaid)
    def order_paid(self, session, event):
        """A paid order updates its member's shopping habits (once per event: the kit's inbox)."""
        habits.record_paid_order(session, event.data, event.occurred_at)

    @on_event("order", "order.imported", order_events_pb2.OrderImported)
    def order_imported(self, session, event):
        """A partner's order matched by phone enriches the member's habits (no points: the
        customer paid the partner, not the mall)."""
        habits.record_imported_order(session, event.data, event.occurred_at)

    @on_event("order", "order.imported_batch", order_events_pb2.OrdersImported)
    def orders_imported(self, session, event):
        """A batch of partner orders (one event per written batch of an import): each order does
        what an `order.imported` does, all in this one transaction."""
        habits.record_imported_orders(session, event.data, event.occurred_at)

    @on_event("order", "order.paid", order_events_pb2.OrderPaid)
    def earn_points(self, session, event):
        """A paid order earns points (every ¥100 → 10 by default, times the tier's multiplier),
        less what its refunds or cancellation heard first already took (order_effects)."""
        order_effects.earn_for_paid_order(session, event.data, event.occurred_at, self.runtime)

    @on_event("order", "order.completed", order_events_pb2.OrderCompleted)
    def order_completed(self, session, event):
        order_effects.order_completed(self.runtime, session, event.data, event.occurred_at)

    @on_event("order", "order.refunded", order_events_pb2.OrderRefunded)
    def order_refunded(self, session, event):
        order_effects.order_refunded(self.runtime, session, event.data, event.occurred_at)

    @on_event("order", "order.cancelled", order_events_pb2.OrderCancelled)
    def order_cancelled(self, session, event):
        order_effects.order_cancelled(session, event.data, event.occurred_at, self.runtime)

    @on_event("promotion", "coupon.issued", promotion_events_pb2.CouponIssued)
    def redemption_coupon_issued(self, session, event):
        """A points-mall redemption's coupon reached the wallet: it can no longer be refunded."""
        if event.data.source == "points":
            redemptions.fulfilled(session, redemptions.Outcome(event.data.source_ref,
                                                               event.data.member_id))

    @on_event("promotion", "coupon.issue_failed", promotion_events_pb2.CouponIssueFailed)
    def redemption_coupon_failed(self, session, event):
        """Promotion could not issue a redemption's coupon: its points come back, once."""
        if event.data.source == "points":
            redemptions.failed(self.runtime, session, redemptions.Outcome(
                event.data.source_ref, event.data.member_id, event.data.reason))

    @on_event("logistics", "gift.shipment_planned", logistics_events_pb2.GiftShipmentPlanned)
    def redemption_gift_planned(self, session, event):
        redemptions.fulfilled(session, redemptions.Outcome(event.data.redemption_id,
                                                           event.data.member_id))

    @on_event("logistics", "gift.unavailable", logistics_events_pb2.GiftUnavailable)
    def redemption_gift_unavailable(self, session, event):
        """No warehouse had the gift: its points come back, once."""
        redemptions.failed(self.runtime, session, redemptions.Outcome(
            event.data.redemption_id, event.data.member_id, event.data.reason))

    @on_event("support", "notification.created", support_events_pb2.NotificationCreated)
    def push_to_wechat(self, session, event):
        """Support's notice as a WeChat subscribe message, at most once per notification."""
        wechat_pushes.push_notification(session, event.data, self.wechat)

    @on_event("payment", "payment.succeeded", payment_events_pb2.PaymentSucceeded)
    def wechat_shipping_payment(self, session, event):
        """A WeChat Pay payment names WeChat's transaction: waybills booked before it can go now."""
        wechat_shipping.record_payment(session, event.data)
        wechat_shipping.deliver_due(session, self.wechat_shipping, order_id=event.data.order_id)

    @on_event("logistics", "shipment.created", logistics_events_pb2.ShipmentChanged)
    def wechat_shipping_booked(self, session, event):
        """A booked waybill: its shipping info uploaded to WeChat (WeChat Pay orders)."""
        wechat_shipping.record_shipment(session, event.data)
        wechat_shipping.deliver_due(session, self.wechat_shipping, order_id=event.data.order_id)

    @on_event("logistics", "shipment.picked_up", logistics_events_pb2.ShipmentChanged)
    def wechat_shipping_picked_up(self, session, event):
        """The carrier collected it: the same upload, should shipment.created have gone astray."""
        wechat_shipping.record_shipment(session, event.data)
        wechat_shipping.deliver_due(session, self.wechat_shipping, order_id=event.data.order_id)

    @on_event("logistics", "shipment.delivered", logistics_events_pb2.ShipmentChanged)
    def wechat_shipping_delivered(self, session, event):
        """Every parcel delivered: WeChat reminds the shopper to confirm receipt."""
        wechat_shipping.record_shipment(session, event.data, delivered=True)
        wechat_shipping.deliver_due(session, self.wechat_shipping, order_id=event.data.order_id)

    @timer(WECHAT_SHIPPING_SWEEP_SECONDS)
    def retry_wechat_shipping(self):
        """Calls WeChat asked to try again, once their back-off has passed."""
        with self.runtime.transaction() as session:
            wechat_shipping.deliver_due(session, self.wechat_shipping)

    @timer(SWEEP_SECONDS)
    def expire_points(self):
        sweeps.expire_points(self.runtime, utcnow())

    @timer(SWEEP_SECONDS)
    def birthday_gifts(self):
        birthday.grant_due(self.runtime, default_vault(), today_in_shanghai())

    @timer(SWEEP_SECONDS)
    def yearly_tier_review(self):
        sweeps.yearly_review(self.runtime, utcnow())

    @timer(NONCE_PRUNE_SECONDS)
    def prune_partner_nonces(self):
        """Partner nonces past the signature window cannot be replayed: drop them."""
        with self.runtime.transaction() as session:
            partners.prune_nonces(session, utcnow())
