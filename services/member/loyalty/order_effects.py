"""What order events do to a member's points and tier (called by the worker, in the transaction
that records the event in the inbox)."""
from __future__ import annotations

from datetime import datetime

from mall.events.v1 import order_events_pb2
from sqlalchemy.orm import Session

from servicekit.runtime import Runtime

from ..identity.accounts import live_member_id
from ..models import MemberOrder
from ..profile.habits import parse_time
from . import points, tiers


def _order(session: Session, order_id: str, member_id: str) -> MemberOrder:
    row = session.get(MemberOrder, order_id, with_for_update=True)
    if row is None:
        row = MemberOrder(order_id=order_id, member_id=member_id, paid_fen=0, refunded_fen=0,
                          completed_refunded_fen=0, points_earned=0, points_clawed_back=0)
        session.add(row)
    return row


def earn_for_paid_order(session: Session, paid: order_events_pb2.OrderPaid, now: datetime) -> int:
    """Points for a paid order, with the multiplier of the tier the member holds now."""
    if not live_member_id(session, paid.member_id):
        return 0
    order = _order(session, paid.order_id, paid.member_id)
    order.paid_fen = paid.paid_fen
    rules = points.settings(session)
    tier = tiers.held(session, paid.member_id)
    goods_fen = max(paid.paid_fen - paid.shipping_fee_fen, 0)  # shipping earns no points
    earned = points.points_for_payment(goods_fen, rules, tier.points_multiplier_percent)
    if earned <= 0:
        return 0
    paid_at = parse_time(paid.paid_at) or now
    change = points.credit(session, paid.member_id, points.EARN, earned, ref=paid.order_id,
                           reason=f"order {paid.order_no or paid.order_id} paid "
                                  f"({tier.code} x{tier.points_multiplier_percent / 100:g})",
                           expires_at=points.expiry_for(paid_at, rules.expire_after_years), now=now)
    if change.applied:
        order.points_earned = earned
    return earned


def order_completed(runtime: Runtime, session: Session, done: order_events_pb2.OrderCompleted,
                    now: datetime) -> None:
    if not live_member_id(session, done.member_id):
        return
    order = _order(session, done.order_id, done.member_id)
    order.paid_fen = max(order.paid_fen, done.paid_fen)
    order.completed_refunded_fen = done.refunded_fen
    order.completed_at = parse_time(done.completed_at) or now
    tiers.reevaluate(runtime, session, done.member_id, "order_completed", now)


def order_refunded(runtime: Runtime, session: Session, refund: order_events_pb2.OrderRefunded,
                   now: datetime) -> None:
    """Claws back the refunded share of the order's points (in proportion, rounded down; all of
    them on a full refund) and re-evaluates the tier. Points already spent cannot be taken: the
    claw-back stops at the balance and the reason says what was forgiven."""
    if not live_member_id(session, refund.member_id):
        return
    order = _order(session, refund.order_id, refund.member_id)
    order.paid_fen = max(order.paid_fen, refund.paid_fen)
    order.refunded_fen = min(order.refunded_fen + refund.refunded_fen, order.paid_fen)
    if refund.full or order.paid_fen == 0:
        due = order.points_earned
    else:
        due = order.points_earned * order.refunded_fen // order.paid_fen
    owed = due - order.points_clawed_back
    if owed > 0:
        earned = points.existing(session, points.EARN, refund.order_id)
        change = points.debit(session, refund.member_id, points.CLAWBACK, owed,
                              ref=refund.refund_id or f"{refund.order_id}:refund", clamp=True,
                              first_lot=earned.id if earned else None, now=now,
                              reason=f"order {refund.order_no or refund.order_id} refunded "
                                     f"{refund.refunded_fen} fen")
        if change.applied:
            taken = -change.entry.points
            if taken < owed:
                change.entry.reason = (change.entry.reason + f"; {owed - taken} already spent, "
                                       "forgiven")[:200]
            order.points_clawed_back = due
    tiers.reevaluate(runtime, session, refund.member_id, "refund", now)


def order_cancelled(session: Session, cancelled: order_events_pb2.OrderCancelled,
                    now: datetime) -> int:
    """Gives back the points the order spent (once, whatever the redeliveries)."""
    if cancelled.points_used <= 0:
        return 0
    spent = points.existing(session, points.SPEND, cancelled.order_id)
    if spent is None:  # the order never debited them (its saga failed before SpendPoints)
        return 0
    change = points.give_back(session, spent, now=now,
                              reason=f"order {cancelled.order_no or cancelled.order_id} cancelled "
                                     f"({cancelled.reason or 'no reason given'})")
    return change.entry.points if change.applied else 0
