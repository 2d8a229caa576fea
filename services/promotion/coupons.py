"""Issued coupons. First slice: a cancelled order gives back the coupons it had locked."""
from __future__ import annotations

from datetime import datetime, timezone

from mall.events.v1 import promotion_events_pb2 as events
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.runtime import Runtime

from .models import IssuedCoupon


def release_for_order(session: Session, runtime: Runtime, order_id: str, member_id: str = "",
                      now: datetime | None = None) -> list[IssuedCoupon]:
    """The coupons `order_id` locked go back to their owner: available again, or expired when
    their validity ended while they were locked. Coupons already used or revoked are untouched,
    so a late or repeated cancellation changes nothing."""
    now = now or datetime.now(timezone.utc)
    locked = list(session.scalars(select(IssuedCoupon)
                                  .where(IssuedCoupon.locked_order_id == order_id,
                                         IssuedCoupon.status == "locked")
                                  .order_by(IssuedCoupon.id).with_for_update()))
    if not locked:
        return []
    for coupon in locked:
        coupon.status = "expired" if _utc(coupon.valid_until) <= now else "available"
        coupon.locked_order_id, coupon.locked_at, coupon.updated_at = None, None, now
    runtime.emit(session, "coupon.released", events.CouponsReleased(
        order_id=order_id, member_id=member_id or locked[0].member_id,
        available_coupon_ids=[str(c.id) for c in locked if c.status == "available"],
        expired_coupon_ids=[str(c.id) for c in locked if c.status == "expired"]))
    return locked


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
