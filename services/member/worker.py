"""The member worker: reacts to other services' events (no gRPC calls from here), pushes support's
notices to the shopper's WeChat, and runs the scheduled jobs (points expiry, birthday gifts, the
yearly tier review)."""
from __future__ import annotations

from mall.events.v1 import order_events_pb2, support_events_pb2
from nameko.extensions import DependencyProvider

from servicekit.config import env_float
from servicekit.times import today_in_shanghai, utcnow
from servicekit.worker import EventWorker, on_event, timer

from .loyalty import birthday, order_effects, sweeps
from .partners import credentials as partners
from .profile import habits
from .profile.vault import default_vault
from .wechat import pushes as wechat_pushes

# Hourly by default: each job is idempotent, so running more often than needed only costs a query.
SWEEP_SECONDS = env_float("SWEEP_SECONDS", 3600.0, "member")
NONCE_PRUNE_SECONDS = env_float("NONCE_PRUNE_SECONDS", 300.0, "member")


class _Pusher(DependencyProvider):
    """One WeChat pusher per worker process: its access token and connections outlive a message."""

    def setup(self):
        self.pusher = wechat_pushes.WechatPusher.from_env()

    def stop(self):
        self.pusher.close()

    def get_dependency(self, worker_ctx):
        return self.pusher


class Worker(EventWorker):
    name = "member"
    wechat = _Pusher()

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

    @on_event("support", "notification.created", support_events_pb2.NotificationCreated)
    def push_to_wechat(self, session, event):
        """Support's notice as a WeChat subscribe message, at most once per notification."""
        wechat_pushes.push_notification(session, event.data, self.wechat)

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
