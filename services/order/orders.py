"""What happens to an order after it is placed: paid, shipped, delivered, completed, cancelled,
refunded. Each use case takes the order's row lock, moves it through states.py and writes its
events in the same transaction, so a redelivered or late event changes nothing twice."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mall.events.v1 import logistics_events_pb2 as shipping
from mall.events.v1 import order_events_pb2 as events
from mall.events.v1 import payment_events_pb2 as payments
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from . import gifts, presale, privacy, states
from .models import Order, OrderLine, OrderRefundApplied, OrderRemark, OrderShipment

COMPLETE_AFTER_DELIVERY = timedelta(days=7)
DISCREET_SUMMARY = "您的订单"


def lock(session: Session, order_id: str, *, for_update: bool = True) -> Order:
    """The order with its row locked for this transaction (NOT_FOUND when unknown or still placing)."""
    query = select(Order).where(Order.id == order_id)
    order = session.scalar(query.with_for_update() if for_update else query)
    if order is None or order.status not in states.VISIBLE:
        raise NotFound(f"no order {order_id}")
    return order


def lines_of(session: Session, order: Order) -> list[OrderLine]:
    return list(session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)
                                .order_by(OrderLine.line_no)))


def summary(lines: list[OrderLine], discreet: bool) -> str:
    if discreet or not lines:
        return DISCREET_SUMMARY
    count = sum(line.quantity for line in lines)
    return lines[0].title if count == 1 else f"{lines[0].title} 等 {count} 件"


def event_lines(lines: list[OrderLine]) -> list[events.OrderEventLine]:
    return [events.OrderEventLine(
        line_id=line.id, sku_id=line.sku_id, product_id=line.product_id, quantity=line.quantity,
        unit_price_fen=line.unit_price_fen, paid_fen=line.paid_fen, category_ids=line.category_ids,
        title=line.title, sku_code=line.sku_code, sku_label=line.sku_label, gift=line.gift,
        size=str((line.attributes or {}).get("size", "")))
        for line in lines]


def transition(session: Session, runtime: Runtime, order: Order, target: str, *, actor: str,
               reason: str = "", now: datetime | None = None) -> bool:
    """states.move plus the order.status_changed every transition announces."""
    before = order.status
    if not states.move(session, order, target, actor=actor, reason=reason, now=now):
        return False
    runtime.emit(session, "order.status_changed", events.OrderStatusChanged(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        from_status=before, to_status=target, actor_kind=actor.split(":")[0], reason=reason,
        changed_at=rfc3339(order.updated_at),
        summary=summary(lines_of(session, order), order.discreet_packaging),
        payable_fen=order.payable_fen, discreet=order.discreet_packaging,
        status_seq=states.history_seq(session, order)))
    return True


# --- payment -----------------------------------------------------------------------------------

def on_payment_succeeded(session: Session, runtime: Runtime, paid: payments.PaymentSucceeded) -> bool:
    """PENDING_PAYMENT → PAID and order.paid, which carries what logistics, member and promotion
    need. A payment for an order that is no longer waiting (cancelled meanwhile) changes nothing
    here: payment refunds it by itself."""
    order = lock(session, paid.order_id)
    if order.is_presale:
        return _presale_payment(session, runtime, order, paid)
    if order.status != "pending_payment":
        return False
    if paid.amount_fen != order.payable_fen:
        # Payment checks the amount against what GetPayable said; a mismatch here is a bug
        # somewhere, and an order must not be paid for less than it costs.
        raise FailedPrecondition(f"order {order.order_no} costs {order.payable_fen} fen but "
                                 f"payment {paid.payment_intent_id} took {paid.amount_fen}")
    order.paid_fen, order.payment_method = paid.amount_fen, paid.method
    transition(session, runtime, order, "paid", actor="event:payment.succeeded",
               reason=f"{paid.method} {paid.provider_transaction_id}")
    _announce_paid(session, runtime, order)
    return True


def _presale_payment(session: Session, runtime: Runtime, order: Order,
                     paid: payments.PaymentSucceeded) -> bool:
    """A pre-sale order's deposit (→ DEPOSIT_PAID) or balance (→ PAID and order.paid, once the
    whole amount is in). Either one for an order no longer waiting for it changes nothing here."""
    phase = paid.phase if paid.phase in ("deposit", "balance") else (
        "deposit" if order.status == "pending_payment" else "balance")
    if phase == "deposit":
        return presale.on_deposit_paid(session, runtime, order, paid, lines_of(session, order))
    if not presale.balance_payment_fits(order, paid):
        return False
    if order.status == "deposit_paid":  # paid before the window-opening timer came by
        presale.open_balance(session, runtime, order, actor="event:payment.succeeded")
    order.paid_fen, order.payment_method = order.deposit_paid_fen + paid.amount_fen, paid.method
    transition(session, runtime, order, "paid", actor="event:payment.succeeded",
               reason=f"balance {paid.method} {paid.provider_transaction_id}")
    _announce_paid(session, runtime, order)
    return True


def _announce_paid(session: Session, runtime: Runtime, order: Order) -> None:
    """order.paid, once the whole amount is in: what logistics, member and promotion need (a
    pre-sale's release date as `ships_from`: logistics books nothing before it)."""
    lines = lines_of(session, order)
    runtime.emit(session, "order.paid", events.OrderPaid(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        paid_fen=order.paid_fen, lines=event_lines(lines), paid_at=rfc3339(order.paid_at),
        shipping_address=privacy.open_address(order.id, order.address_sealed),
        discreet_packaging=order.discreet_packaging, member_tier=order.member_tier,
        member_tier_rank=order.member_tier_rank, points_used=order.points_used,
        coupon_ids=order.coupon_ids, channel=order.channel,
        shipping_fee_fen=order.shipping_fee_fen, priority_shipping=order.priority_shipping,
        exclusive_service=order.exclusive_service,
        ships_from=rfc3339(order.release_at) if order.is_presale else "",
        deposit_fen=order.deposit_paid_fen, status_seq=states.history_seq(session, order)))
    if order.refunded_fen and order.refunded_fen >= order.paid_fen:  # its refund was heard first
        transition(session, runtime, order, "refunded", actor="event:payment.refunded",
                   reason="refunded in full (heard before the payment)")


def on_payment_refunded(session: Session, runtime: Runtime, refund: payments.PaymentRefunded) -> bool:
    """Adds the refund to the order (per line when the refund names lines) and announces
    order.refunded; the whole amount back moves the order to REFUNDED."""
    order = lock(session, refund.order_id)
    if refund.refund_id:
        # Each refund once, by its id, whatever order several refunds of one payment arrive in
        # (two after-sale requests refunded close together: the later one may come first), and
        # however often one is announced (a redelivery under a new event id).
        if not _first_time(session, order.id, refund.refund_id):
            return False
        refunded_total = order.refunded_fen + refund.amount_fen
    elif order.is_presale:
        # Two payments (deposit, balance), each with its own running total: a pre-sale adds each
        # refund, which payment announces once (a redelivery is the inbox's to catch).
        refunded_total = order.refunded_fen + refund.amount_fen
    elif refund.refunded_total_fen <= order.refunded_fen:
        return False  # this refund (or a later one that includes it) was already applied
    else:
        refunded_total = refund.refunded_total_fen
    # A paid order cancelled by staff is refunded by payment: the order stays cancelled (a final
    # status), and order.refunded still tells member and support about the money.
    stays_cancelled = order.status == "cancelled"
    lines = {line.id: line for line in lines_of(session, order)}
    gifts.apply_refund(list(lines.values()), refund.lines)  # the gifts it takes below threshold
    for part in refund.lines:
        if part.line_id in lines:
            lines[part.line_id].refunded_fen += part.amount_fen
    order.refunded_fen = refunded_total
    paid_fen = order.paid_fen or refund.paid_fen  # 0 until payment.succeeded is heard
    full = refund.full or order.refunded_fen >= paid_fen
    if order.is_presale:  # one of its two payments refunded in full is not the whole order
        paid_fen = order.paid_fen or order.deposit_paid_fen or refund.paid_fen
        full = order.refunded_fen >= paid_fen
    # A refund heard before its payment (another queue): the order moves on when the payment
    # comes (on_payment_succeeded), so the end state is the same in either order.
    # A pre-sale's deposit refunded while it waits for its balance (staff): recorded, and the
    # order keeps waiting until staff cancel it or its window closes.
    if full and not stays_cancelled and order.status not in ("pending_payment", *presale.WAITING):
        transition(session, runtime, order, "refunded", actor="event:payment.refunded",
                   reason=refund.reason or "refunded in full")
    runtime.emit(session, "order.refunded", events.OrderRefunded(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        refund_id=refund.refund_id, refunded_fen=refund.amount_fen, paid_fen=paid_fen,
        full=full, refunded_at=refund.refunded_at or rfc3339(datetime.now(timezone.utc)),
        lines=[events.RefundedLine(line_id=p.line_id, sku_id=p.sku_id, quantity=p.quantity,
                                   refunded_fen=p.amount_fen) for p in refund.lines],
        status_seq=states.history_seq(session, order)))
    return True


def _first_time(session: Session, order_id: str, refund_id: str) -> bool:
    """Records that the refund was applied; False when it already was."""
    inserted = session.execute(dialect_insert(session, OrderRefundApplied.__table__).values(
        refund_id=refund_id, order_id=order_id, applied_at=datetime.now(timezone.utc))
        .on_conflict_do_nothing(index_elements=["refund_id"]))
    return bool(inserted.rowcount)


# --- cancellation ------------------------------------------------------------------------------

AFTER_SALES = ("use after-sales instead: the shopper returns the parcel and is refunded "
               "when it comes back")
SHIPPED_STATUSES = ("partly_shipped", "shipped", "delivered", "completed")


def cancel(session: Session, runtime: Runtime, order: Order, *, actor: str, reason: str,
           deposit_kept: bool = False) -> None:
    """Cancels an unpaid order (shopper, timer, staff) or a paid one before any parcel left the
    warehouse (staff only). order.cancelled releases stock, coupons, quota and points; with
    was_paid, payment refunds the whole payment and logistics stops the parcels (a parcel the
    carrier collects meanwhile is intercepted: logistics says so with shipment.returning)."""
    kind = actor.split(":")[0]
    if order.status in SHIPPED_STATUSES or (order.status == "paid" and _a_parcel_left(session, order)):
        raise FailedPrecondition(f"order {order.order_no} is {order.status} and a parcel of it "
                                 f"already left the warehouse, so it cannot be cancelled; "
                                 f"{AFTER_SALES}")
    was_paid = order.status == "paid"
    if was_paid and kind != "staff":
        raise FailedPrecondition(f"order {order.order_no} is paid: ask customer service to cancel "
                                 "it, or wait for it and return it")
    if order.status in presale.WAITING and kind == "member":
        raise FailedPrecondition(
            f"the deposit of pre-sale order {order.order_no} is paid: "
            f"{presale.RULE_TEXT.get(order.unpaid_balance, '')}; ask customer service to cancel it",
            [FieldViolation("order_id", "deposit_paid", "a pre-sale order with its deposit paid is "
                            "cancelled by customer service or when its balance window closes")])
    if not transition(session, runtime, order, "cancelled", actor=actor, reason=reason):
        return
    runtime.emit(session, "order.cancelled", events.OrderCancelled(
        order_id=order.id, member_id=order.member_id, reason=reason, order_no=order.order_no,
        payable_fen=order.payable_fen, points_used=order.points_used,
        coupon_ids=order.coupon_ids, was_paid=was_paid, deposit_paid_fen=order.deposit_paid_fen,
        deposit_kept=deposit_kept and order.deposit_paid_fen > 0,
        status_seq=states.history_seq(session, order)))


def _a_parcel_left(session: Session, order: Order) -> bool:
    """From the shipment.* events order follows: has the carrier collected any parcel?"""
    return session.scalar(select(OrderShipment.shipment_id).where(
        OrderShipment.order_id == order.id, OrderShipment.state.in_(PICKED_UP)).limit(1)) is not None


def cancel_overdue(session: Session, runtime: Runtime, now: datetime, limit: int = 200) -> int:
    """Cancels unpaid orders past their pay deadline. SKIP LOCKED lets several worker replicas
    share the work without waiting on each other or cancelling one order twice."""
    due = session.scalars(
        select(Order).where(Order.status == "pending_payment", Order.pay_deadline < now)
        .order_by(Order.pay_deadline).limit(limit).with_for_update(skip_locked=True)).all()
    for order in due:
        cancel(session, runtime, order, actor="system:pay_timeout",
               reason="timeout: not paid within the payment window")
    return len(due)


# --- shipping, receipt, completion -------------------------------------------------------------

PICKED_UP = {shipping.SHIPMENT_PICKED_UP, shipping.SHIPMENT_IN_TRANSIT,
             shipping.SHIPMENT_OUT_FOR_DELIVERY, shipping.SHIPMENT_DELIVERED}
# What logistics did to a cancelled or fully refunded order's parcels (the highest numbers).
STOPPED = {shipping.SHIPMENT_CANCELLED, shipping.SHIPMENT_RETURNING}


def on_shipment_changed(session: Session, runtime: Runtime, change: shipping.ShipmentChanged) -> None:
    """Follows the order's shipments: some picked up → PARTLY_SHIPPED, all → SHIPPED, all
    delivered → DELIVERED. States only move forward, whatever order the events come in."""
    if not change.order_id:  # a points-mall gift's parcel (redemption_id): no order follows it
        return
    order = lock(session, change.order_id)
    now = datetime.now(timezone.utc)
    row = session.get(OrderShipment, change.shipment_id)
    if row is None:
        row = OrderShipment(shipment_id=change.shipment_id, order_id=order.id, state=0)
        session.add(row)
    row.carrier, row.waybill_no, row.updated_at = change.carrier, change.waybill_no, now
    row.shipment_count = max(change.shipment_count, 1)
    if change.state in (shipping.SHIPMENT_EXCEPTION, shipping.SHIPMENT_RETURNED):
        return  # customer service acts on these; the order's status does not go backwards
    if change.state in STOPPED:
        # shown on the order; a late tracking step never turns a stopped parcel back (max)
        row.state = max(row.state, change.state)
        return
    row.state = max(row.state, change.state)
    session.flush()
    shipments = list(session.scalars(select(OrderShipment).where(OrderShipment.order_id == order.id)))
    expected = max(s.shipment_count for s in shipments)
    picked = sum(1 for s in shipments if s.state in PICKED_UP)
    delivered = sum(1 for s in shipments if s.state == shipping.SHIPMENT_DELIVERED)
    if delivered >= expected:
        target = "delivered"
    elif picked >= expected:
        target = "shipped"
    elif picked:
        target = "partly_shipped"
    else:
        return
    _advance(session, runtime, order, target, actor=f"event:shipment.{change.shipment_id}")


def _advance(session, runtime, order: Order, target: str, *, actor: str, reason: str = "") -> None:
    """Walks forward along the happy path (paid → shipped → delivered), recording each step, so
    a delivery reported before the pick-up still leaves a complete timeline."""
    path = ["paid", "partly_shipped", "shipped", "delivered", "completed"]
    if order.status not in path or states.is_behind(order.status, target) or order.status == target:
        return
    for step in path[path.index(order.status) + 1:path.index(target) + 1]:
        if step == "partly_shipped" and target != "partly_shipped":
            continue
        transition(session, runtime, order, step, actor=actor, reason=reason)


def confirm_receipt(session: Session, runtime: Runtime, order: Order, member_id: str) -> None:
    """The shopper says the parcel arrived: the order completes now rather than in 7 days."""
    if order.status not in ("shipped", "delivered"):
        raise FailedPrecondition(f"order {order.order_no} is {order.status}: only a shipped or "
                                 "delivered order can be confirmed as received")
    _advance(session, runtime, order, "completed", actor=f"member:{member_id}",
             reason="receipt confirmed by the shopper")
    _announce_completed(session, runtime, order)


def complete_overdue(session: Session, runtime: Runtime, now: datetime, limit: int = 200,
                     after: timedelta = COMPLETE_AFTER_DELIVERY) -> int:
    due = session.scalars(
        select(Order).where(Order.status == "delivered", Order.delivered_at < now - after)
        .order_by(Order.delivered_at).limit(limit).with_for_update(skip_locked=True)).all()
    for order in due:
        transition(session, runtime, order, "completed", actor="system:auto_complete",
                   reason=f"no dispute within {after.days} days of delivery")
        _announce_completed(session, runtime, order)
    return len(due)


def _announce_completed(session: Session, runtime: Runtime, order: Order) -> None:
    runtime.emit(session, "order.completed", events.OrderCompleted(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        paid_fen=order.paid_fen, refunded_fen=order.refunded_fen,
        completed_at=rfc3339(order.completed_at), status_seq=states.history_seq(session, order)))


# --- staff remarks -----------------------------------------------------------------------------

REMARK_MAX = 1000


def add_remark(session: Session, order_id: str, staff_id: str, text: str) -> OrderRemark:
    text = text.strip()
    if not 1 <= len(text) <= REMARK_MAX:
        raise InvalidArgument.field("text", "length", f"1 to {REMARK_MAX} characters")
    order = lock(session, order_id, for_update=False)
    remark = OrderRemark(order_id=order.id, staff_id=staff_id, text=text,
                         at=datetime.now(timezone.utc))
    session.add(remark)
    session.flush()
    return remark


def remarks(session: Session, order_id: str) -> list[OrderRemark]:
    order = lock(session, order_id, for_update=False)
    return list(session.scalars(select(OrderRemark).where(OrderRemark.order_id == order.id)
                                .order_by(OrderRemark.id)))
