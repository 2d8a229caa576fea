"""A cancelled order keeps no money: what is left of its payment is refunded through the
provider once, whatever happens around it.

- A paid order cancelled by staff (`was_paid`).
- An order the unpaid-order timer cancelled while its payment was succeeding: order cannot ask
  payment (a worker makes no gRPC call), and payment.succeeded may be late (an order worker
  away, a restart), so the timer may cancel an order whose success payment already recorded.
  Whichever comes first, the money goes back at once and payment.refunded says so (order
  announces order.refunded on the cancelled order: the shopper's inbox tells her): a success
  recorded before the cancellation is refunded here; one that arrives after it finds its intent
  cancelled and is refunded by settlement (`paid_after_cancel`).

- A redelivered or replayed order.cancelled finds the refund its first delivery wrote (the
  refund request id is derived from the order), so nothing is refunded twice.
- A staff refund at the same moment takes the same payment's row lock first or second; either
  way this refund is what remains after it, so the two never exceed what was paid.
The refund is written as `requested` in the handler's transaction and sent to the provider after
commit; a send that fails is retried by the reconciliation timer (refunds.submit is safe twice).
"""
from __future__ import annotations

import logging

from mall.events.v1 import order_events_pb2 as order_events
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import settlement
from .models import PaymentIntent, Refund
from .refunds import COUNTED

log = logging.getLogger(__name__)

REASON = "order_cancelled"          # payment.refunded's reason for these refunds
REQUESTED_BY = "event:order.cancelled"


def refund_request_id(order_id: str, phase: str = "full") -> str:
    """One refund per cancelled order and phase: `cancel:<order>` (a pre-sale's deposit and
    balance: `cancel:<order>:deposit`, `cancel:<order>:balance`)."""
    return f"cancel:{order_id}" if phase == "full" else f"cancel:{order_id}:{phase}"


def refund_cancelled_order(session: Session, cancelled: order_events.OrderCancelled) -> Refund | None:
    """The refund of a cancelled order's payment (the one already written, on a redelivery);
    None when no payment of it took money or nothing is left to refund (the first of
    refunds_of_cancelled_order, which a pre-sale's two payments need)."""
    refunds = refunds_of_cancelled_order(session, cancelled)
    return refunds[0] if refunds else None


def refunds_of_cancelled_order(session: Session, cancelled: order_events.OrderCancelled) -> list[Refund]:
    """Every refund a cancelled order's payments are owed, one per phase that took money: the
    whole amount, or a pre-sale's deposit and balance. A deposit the merchant keeps
    (`deposit_kept`: its balance was not paid in its window) is never refunded; a balance paid
    after the window closed always is."""
    taken = list(session.scalars(
        select(PaymentIntent).where(PaymentIntent.order_id == cancelled.order_id,
                                    PaymentIntent.provider_transaction_id.is_not(None))
        .order_by(PaymentIntent.created_at.desc()).with_for_update()))
    if not taken:
        if cancelled.was_paid:
            log.error("order %s was cancelled as paid, but no payment of it took money",
                      cancelled.order_id)
        return []  # the usual unpaid cancellation
    latest: dict[str, PaymentIntent] = {}
    for intent in taken:  # newest first: the latest of each phase
        latest.setdefault(intent.phase or "full", intent)
    refunds = []
    for phase in ("full", "deposit", "balance"):
        intent = latest.get(phase)
        if intent is None:
            continue
        if phase == "deposit" and cancelled.deposit_kept:
            log.info("order %s cancelled (%s): its deposit %s is kept by the merchant's rule",
                     cancelled.order_id, cancelled.reason, intent.id)
            continue
        refund = _refund_rest(session, cancelled, intent, refund_request_id(cancelled.order_id, phase))
        if refund is not None:
            refunds.append(refund)
    return refunds


def _refund_rest(session: Session, cancelled: order_events.OrderCancelled, intent: PaymentIntent,
                 key: str) -> Refund | None:
    done = session.scalars(select(Refund).where(Refund.refund_request_id == key)).first()
    if done is not None:
        return done
    taken = session.scalar(select(func.coalesce(func.sum(Refund.amount_fen), 0))
                           .where(Refund.payment_intent_id == intent.id, Refund.status.in_(COUNTED)))
    rest = intent.amount_fen - taken
    if not cancelled.was_paid and rest > 0:
        log.warning("order %s was cancelled unpaid (%s) but its payment %s had succeeded: "
                    "refunding it", cancelled.order_id, cancelled.reason, intent.id)
    if rest <= 0:
        log.info("order %s cancelled: its payment was already refunded in full", cancelled.order_id)
        return None
    why = f"{REASON}: {cancelled.reason}" if cancelled.reason else REASON
    return settlement.new_refund(session, intent, rest, key, why[:200], requested_by=REQUESTED_BY)
