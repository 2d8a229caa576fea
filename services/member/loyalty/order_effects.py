"""What order events do to a member's points and tier (called by the worker, in the transaction
that records the event in the inbox).

The events of one order (paid, refunded in parts or in full, completed, cancelled) may arrive in
any order: each queue is consumed on its own. So every handler folds its event into the order's
row (`MemberOrder`: paid and refunded amounts as maxima and sums, full and cancelled as flags,
which commute) and then settles the ledger towards what that state is owed:

    earns   = what the payment earns whole (points_basis), once order.paid has been heard
    claimed = all of it when refunded in full or cancelled, else its refunded share (rounded down)

An earn heard after refunds credits only `earns - claimed` (the rest is withheld); a refund heard
after the earn claws back what is newly claimed. Either way the ledger ends at `earns - claimed`
(less only what was already spent, forgiven), and the tier is re-evaluated from the folded rows
after every event, so it ends the same too. Redelivery is the kit's inbox; the entries' refs
make a repeated settle a no-op as well.
"""
from __future__ import annotations

from datetime import datetime

from mall.events.v1 import order_events_pb2
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.runtime import Runtime

from ..identity.accounts import live_member_id
from ..models import MemberOrder, Tier
from ..profile.habits import parse_time
from . import points, tiers


def _order(session: Session, order_id: str, member_id: str) -> MemberOrder:
    """The order's row, locked (created empty by whichever of its events comes first: two
    events of one order handled at once queue here instead of both inserting)."""
    session.execute(dialect_insert(session, MemberOrder.__table__).values(
        order_id=order_id, member_id=member_id, paid_fen=0, refunded_fen=0,
        completed_refunded_fen=0, points_earned=0, points_clawed_back=0, earn_settled=False,
        points_basis=0, refunded_in_full=False, cancelled=False).on_conflict_do_nothing())
    return session.scalars(select(MemberOrder).where(MemberOrder.order_id == order_id)
                           .with_for_update().execution_options(populate_existing=True)).one()


def claimed(order: MemberOrder) -> int:
    """The points of the order that refunds and cancellation take back, of `points_basis`."""
    if order.refunded_in_full or order.cancelled or order.paid_fen <= 0:
        return order.points_basis
    return order.points_basis * min(order.refunded_fen, order.paid_fen) // order.paid_fen


def _multiplier_tier(session: Session, paid: order_events_pb2.OrderPaid) -> Tier:
    """The tier the order was placed under (order.paid names it), so the earn does not depend
    on whether this order's own completion moved the member first; the held tier when the event
    names none or one since deleted."""
    named = session.get(Tier, paid.member_tier) if paid.member_tier else None
    return named or tiers.held(session, paid.member_id)


def earn_for_paid_order(session: Session, paid: order_events_pb2.OrderPaid, now: datetime,
                        runtime: Runtime | None = None) -> int:
    """Points for a paid order, with the multiplier of the tier it was placed under, less what
    refunds or a cancellation heard before it already claim. Returns the points credited."""
    if not live_member_id(session, paid.member_id):
        return 0
    order = _order(session, paid.order_id, paid.member_id)
    order.paid_fen = max(order.paid_fen, paid.paid_fen)
    if order.earn_settled:
        return 0
    rules = points.settings(session)
    tier = _multiplier_tier(session, paid)
    goods_fen = max(paid.paid_fen - paid.shipping_fee_fen, 0)  # shipping earns no points
    order.earn_settled = True
    order.points_basis = points.points_for_payment(goods_fen, rules, tier.points_multiplier_percent)
    withheld = claimed(order)
    earned = order.points_basis - withheld
    order.points_clawed_back = withheld
    if earned > 0:
        paid_at = parse_time(paid.paid_at) or now
        note = f"; {withheld} withheld for refunds heard first" if withheld else ""
        change = points.credit(session, paid.member_id, points.EARN, earned, ref=paid.order_id,
                               reason=f"order {paid.order_no or paid.order_id} paid "
                                      f"({tier.code} x{tier.points_multiplier_percent / 100:g}){note}",
                               expires_at=points.expiry_for(paid_at, rules.expire_after_years),
                               now=now)
        order.points_earned = earned if change.applied else order.points_earned
    heard_later = order.refunded_fen or order.refunded_in_full or order.cancelled
    if runtime is not None and (order.completed_at or heard_later):
        # the order's later events re-evaluated the tier without these points: again, with them
        tiers.reevaluate(runtime, session, paid.member_id,
                         "refund" if heard_later else "order_completed", now)
    return max(earned, 0)


def order_completed(runtime: Runtime, session: Session, done: order_events_pb2.OrderCompleted,
                    now: datetime) -> None:
    if not live_member_id(session, done.member_id):
        return
    order = _order(session, done.order_id, done.member_id)
    order.paid_fen = max(order.paid_fen, done.paid_fen)
    order.completed_refunded_fen = max(order.completed_refunded_fen, done.refunded_fen)
    order.completed_at = parse_time(done.completed_at) or now
    tiers.reevaluate(runtime, session, done.member_id, "order_completed", now)


def order_refunded(runtime: Runtime, session: Session, refund: order_events_pb2.OrderRefunded,
                   now: datetime) -> None:
    """Claws back the refunded share of the order's points (in proportion, rounded down; all of
    them on a full refund) and re-evaluates the tier. Heard before order.paid, it is remembered
    and the earn gives only what is left. Points already spent cannot be taken: the claw-back
    stops at the balance and the reason says what was forgiven."""
    if not live_member_id(session, refund.member_id):
        return
    order = _order(session, refund.order_id, refund.member_id)
    order.paid_fen = max(order.paid_fen, refund.paid_fen)
    order.refunded_fen = min(order.refunded_fen + refund.refunded_fen, order.paid_fen)
    if refund.full:
        order.refunded_in_full = True
        order.refunded_fen = order.paid_fen
    _claw_back(session, order, ref=refund.refund_id or f"{refund.order_id}:refund:{order.refunded_fen}",
               reason=f"order {refund.order_no or refund.order_id} refunded "
                      f"{refund.refunded_fen} fen", now=now)
    tiers.reevaluate(runtime, session, refund.member_id, "refund", now)


def order_cancelled(session: Session, cancelled: order_events_pb2.OrderCancelled,
                    now: datetime, runtime: Runtime | None = None) -> int:
    """Gives back the points the order spent (once, whatever the redeliveries). A cancelled
    order earns nothing: points it earned (a paid order cancelled by staff) are clawed back,
    and an order.paid heard later earns none."""
    if live_member_id(session, cancelled.member_id):
        order = _order(session, cancelled.order_id, cancelled.member_id)
        if not order.cancelled:
            order.cancelled = True
            _claw_back(session, order, ref=f"{cancelled.order_id}:cancelled",
                       reason=f"order {cancelled.order_no or cancelled.order_id} cancelled", now=now)
            if runtime is not None and order.earn_settled:
                tiers.reevaluate(runtime, session, cancelled.member_id, "refund", now)
    if cancelled.points_used <= 0:
        return 0
    spent = points.existing(session, points.SPEND, cancelled.order_id)
    if spent is None:  # the order never debited them (its saga failed before SpendPoints)
        return 0
    change = points.give_back(session, spent, now=now,
                              reason=f"order {cancelled.order_no or cancelled.order_id} cancelled "
                                     f"({cancelled.reason or 'no reason given'})")
    return change.entry.points if change.applied else 0


def _claw_back(session: Session, order: MemberOrder, *, ref: str, reason: str,
               now: datetime) -> None:
    """Takes back what the order's state newly claims of points already credited (nothing
    before the earn: the earn withholds it then)."""
    if not order.earn_settled:
        return
    due = claimed(order)
    owed = due - order.points_clawed_back
    if owed <= 0:
        return
    earned = points.existing(session, points.EARN, order.order_id)
    change = points.debit(session, order.member_id, points.CLAWBACK, owed, ref=ref, clamp=True,
                          first_lot=earned.id if earned else None, now=now, reason=reason)
    if change.applied:
        taken = -change.entry.points
        if taken < owed:
            change.entry.reason = (change.entry.reason + f"; {owed - taken} already spent, "
                                   "forgiven")[:200]
    order.points_clawed_back = due
