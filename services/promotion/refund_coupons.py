"""A refunded order's coupon back to its owner, by the merchant's rule.

Heard on order's `order.refunded` rather than support's `aftersale.closed`: order is the one that
knows when the whole order is refunded (`full`, whatever refunds made it so: one after-sale
request, several, or a staff refund), while a closed request only knows its own lines.

The rule is the setting `MALL_PROMOTION_COUPON_BACK_ON_REFUND`:
- `whole_order` (default): the coupons an order used come back only when the whole order is
  refunded, and only those still within their validity (an expired one stays used);
- `any_refund`: on any refund of the order, still only within their validity;
- `never`: a refund gives no coupon back.

Exactly once: a coupon given back is no longer `used` by the order (used_order_id cleared), so a
redelivered or later order.refunded finds nothing; a coupon given back and spent again on another
order belongs to that order. A paid order cancelled gave its coupons back already
(order.cancelled, locks.release_for_order); its refund then finds none.
"""
from __future__ import annotations

import logging
from datetime import datetime

from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import promotion_events_pb2 as events
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.config import env
from servicekit.runtime import Runtime

from .models import IssuedCoupon

log = logging.getLogger(__name__)
RULES = ("whole_order", "any_refund", "never")


def rule() -> str:
    value = env("COUPON_BACK_ON_REFUND", "whole_order", "promotion")
    if value not in RULES:
        raise ValueError(f"MALL_PROMOTION_COUPON_BACK_ON_REFUND must be one of {', '.join(RULES)}; "
                         f"got {value!r}")
    return value


def on_order_refunded(session: Session, runtime: Runtime, refunded: order_events.OrderRefunded,
                      now: datetime) -> list[IssuedCoupon]:
    """The coupons this refund gives back (none when the rule says so)."""
    merchant_rule = rule()
    if merchant_rule == "never" or (merchant_rule == "whole_order" and not refunded.full):
        return []
    used = list(session.scalars(select(IssuedCoupon).where(
        IssuedCoupon.used_order_id == refunded.order_id, IssuedCoupon.status == "used")
        .order_by(IssuedCoupon.id).with_for_update()))
    back = [c for c in used if c.valid_from <= now < c.valid_until]
    for coupon in used:
        if coupon not in back:
            log.info("order %s refunded: coupon %s stays used (its validity ended %s)",
                     refunded.order_id, coupon.id, coupon.valid_until)
    if not back:
        return []
    for coupon in back:
        coupon.status, coupon.updated_at = "available", now
        coupon.used_order_id, coupon.used_at = None, None
    runtime.emit(session, "coupon.released", events.CouponsReleased(
        order_id=refunded.order_id, member_id=refunded.member_id or back[0].member_id,
        available_coupon_ids=[str(c.id) for c in back]))
    return back
