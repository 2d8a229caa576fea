"""Promotion's reactions and timers.

- order.paid: the order's coupons are used and its quota units sold (ConsumeForOrder).
- order.cancelled: everything the order held goes back (ReleaseForOrder).
- order.refunded: the order's coupons back by the merchant's rule (default: the whole order
  refunded and the coupon still valid; refund_coupons.py), once.
- order.deposit_paid: a pre-sale order's lock is held until its balance window closed.
- points.redeemed (item_kind coupon), member.birthday_gift_granted: the coupon is issued, once
  per redemption / grant.
- member.deleted: the member's available coupons are revoked.
- timers: locks past expires_at are released, coupons past validity expire, and a reminder is
  written three days before a coupon expires. All take rows with SKIP LOCKED, so several worker
  replicas share the work and never do it twice.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events

from servicekit.config import env_float
from servicekit.errors import FailedPrecondition
from servicekit.times import parse_rfc3339
from servicekit.worker import EventWorker, on_event, timer

from . import coupons, locks, refund_coupons

log = logging.getLogger(__name__)

# How often coupons ending within three days are looked for (each is reminded once whatever the
# interval); the e2e suite shortens it to see a reminder within seconds.
REMIND_SECONDS = env_float("REMIND_SECONDS", 300.0, "promotion")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Worker(EventWorker):
    name = "promotion"

    @on_event("order", "order.cancelled", order_events.OrderCancelled)
    def order_cancelled(self, session, event):
        locks.release_for_order(session, self.runtime, event.data.order_id, _now(),
                                member_id=event.data.member_id, paid=event.data.was_paid)

    @on_event("order", "order.paid", order_events.OrderPaid)
    def order_paid(self, session, event):
        try:
            locks.consume_for_order(session, self.runtime, event.data.order_id, _now(),
                                    member_id=event.data.member_id)
        except FailedPrecondition as err:
            # Paid after its lock lapsed: the shopper keeps the price they paid; staff see this.
            log.warning("order.paid %s: %s", event.data.order_id, err.message)

    @on_event("order", "order.refunded", order_events.OrderRefunded)
    def order_refunded(self, session, event):
        """The order's coupon back by the merchant's rule (refund_coupons.py)."""
        refund_coupons.on_order_refunded(session, self.runtime, event.data, _now())

    @on_event("order", "order.deposit_paid", order_events.OrderDepositPaid)
    def order_deposit_paid(self, session, event):
        """A pre-sale order waits for its balance: its coupons and quota stay held meanwhile."""
        if event.data.hold_until:
            locks.hold_until(session, event.data.order_id, parse_rfc3339(event.data.hold_until))

    @on_event("member", "points.redeemed", member_events.PointsRedeemed)
    def points_redeemed(self, session, event):
        data = event.data
        if data.item_kind != "coupon":
            return
        coupons.issue_for_event(session, self.runtime, template_id=data.coupon_template_id,
                                member_id=data.member_id, source="points",
                                source_ref=data.redemption_id, quantity=max(data.quantity, 1))

    @on_event("member", "member.birthday_gift_granted", member_events.BirthdayGiftGranted)
    def birthday_gift_granted(self, session, event):
        data = event.data
        coupons.issue_for_event(session, self.runtime, template_id=data.coupon_template_id,
                                member_id=data.member_id, source="birthday", source_ref=data.grant_id)

    @on_event("member", "member.deleted", member_events.MemberDeleted)
    def member_deleted(self, session, event):
        coupons.revoke_all_of(session, self.runtime, event.data.member_id, reason="member deleted")

    @timer(30)
    def release_expired_locks(self):
        with self.runtime.transaction() as session:
            locks.release_expired(session, self.runtime, _now())

    @timer(60)
    def expire_coupons(self):
        with self.runtime.transaction() as session:
            coupons.expire_due(session, self.runtime, _now())

    @timer(REMIND_SECONDS)
    def remind_expiring_coupons(self):
        with self.runtime.transaction() as session:
            coupons.remind_expiring(session, self.runtime, _now())
