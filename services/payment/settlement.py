"""What a provider's word about a trade or a refund does to our rows: the one place where money
that moved at the provider becomes a state change and an event. Notifications and the
reconciliation timer both come through here, so a duplicate from either changes nothing."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.runtime import Runtime

from . import announcements, states
from .models import PaymentIntent, Refund
from .providers import CLOSED, FAILED, PAID, ProviderRefund, ProviderTrade
from .providers.registry import METHOD_PROVIDER

PAID_AFTER_CANCEL = "paid_after_cancel"


@dataclass(frozen=True)
class Settled:
    outcome: str                 # applied | duplicate | refused | ignored
    reason: str
    intent_id: str | None = None
    refund_to_submit: str | None = None   # a refund row to send to the provider after commit


def _intent_by_trade_no(session: Session, out_trade_no: str) -> PaymentIntent | None:
    return session.scalars(select(PaymentIntent).where(PaymentIntent.out_trade_no == out_trade_no)
                           .with_for_update()).first()


def apply_trade(session: Session, runtime: Runtime, provider: str, trade: ProviderTrade) -> Settled:
    intent = _intent_by_trade_no(session, trade.out_trade_no) if trade.out_trade_no else None
    if intent is None:
        return Settled("ignored", f"no payment intent has out_trade_no {trade.out_trade_no!r}")
    if METHOD_PROVIDER[intent.method] != provider:
        return Settled("refused", f"intent {intent.id} is paid through "
                                  f"{METHOD_PROVIDER[intent.method]}, not {provider}", intent.id)
    if trade.state == PAID:
        return _paid(session, runtime, intent, trade)
    if trade.state in (CLOSED, FAILED) and intent.status in states.OPEN:
        states.move(intent, "failed")
        runtime.emit(session, "payment.failed", announcements.failed(intent, trade.provider_state))
        return Settled("applied", f"the provider says {trade.provider_state}: intent failed", intent.id)
    return Settled("ignored", f"the provider says {trade.provider_state}; intent is {intent.status}",
                   intent.id)


def _paid(session: Session, runtime: Runtime, intent: PaymentIntent, trade: ProviderTrade) -> Settled:
    if trade.amount_fen != intent.amount_fen or (trade.currency or "CNY") != intent.currency:
        return Settled("refused", f"paid {trade.amount_fen} {trade.currency}, but intent {intent.id} "
                                  f"is for {intent.amount_fen} {intent.currency}", intent.id)
    if not trade.transaction_id:
        return Settled("refused", "a paid trade without the provider's transaction id", intent.id)
    if intent.provider_transaction_id:
        if intent.provider_transaction_id == trade.transaction_id:
            return Settled("duplicate", f"transaction {trade.transaction_id} was already recorded",
                           intent.id)
        return Settled("refused", f"intent {intent.id} was already paid by transaction "
                                  f"{intent.provider_transaction_id}", intent.id)
    if intent.status in states.OPEN:
        if intent.status == "created":
            states.move(intent, "pending")
        states.move(intent, "succeeded", provider_transaction_id=trade.transaction_id)
        runtime.emit(session, "payment.succeeded", announcements.succeeded(intent, trade.paid_at))
        return Settled("applied", f"paid: transaction {trade.transaction_id}", intent.id)
    # The money came after the intent was closed (its order was cancelled, or the shopper chose
    # another method): it goes back, and payment.refunded says why.
    intent.provider_transaction_id = trade.transaction_id
    intent.paid_late_at = datetime.now(timezone.utc)
    refund = new_refund(session, intent, intent.amount_fen, f"auto:{intent.id}", PAID_AFTER_CANCEL,
                         requested_by="payment")
    return Settled("applied", f"paid after the intent was {intent.status}: refunding in full",
                   intent.id, refund.id)


def new_refund(session: Session, intent: PaymentIntent, amount_fen: int, request_id: str,
                reason: str, *, lines: str = "[]", requested_by: str = "") -> Refund:
    now = datetime.now(timezone.utc)
    refund = Refund(id=uuid.uuid4().hex, payment_intent_id=intent.id, order_id=intent.order_id,
                    refund_request_id=request_id, amount_fen=amount_fen, status="requested",
                    reason=reason, lines=lines, requested_by=requested_by, created_at=now,
                    updated_at=now)
    session.add(refund)
    session.flush()
    return refund


def apply_refund(session: Session, runtime: Runtime, result: ProviderRefund) -> Settled:
    """The provider's word on one of our refunds (its answer, a notification, a query)."""
    refund = session.scalars(select(Refund).where(Refund.id == result.out_refund_no)
                             .with_for_update()).first()
    if refund is None:
        return Settled("ignored", f"no refund has out_refund_no {result.out_refund_no!r}")
    if refund.status in ("succeeded", "failed"):
        if refund.status == result.state:
            return Settled("duplicate", f"refund {refund.id} is already {refund.status}",
                           refund.payment_intent_id)
        return Settled("ignored", f"refund {refund.id} is {refund.status}; the provider now says "
                                  f"{result.provider_state}", refund.payment_intent_id)
    now = datetime.now(timezone.utc)
    refund.updated_at = now
    refund.provider_refund_id = result.refund_id or refund.provider_refund_id
    if result.state == "processing":
        refund.status = "processing"
        return Settled("applied", f"refund {refund.id} is processing", refund.payment_intent_id)
    if result.state == "failed":
        refund.status, refund.failure = "failed", result.provider_state
        return Settled("applied", f"refund {refund.id} failed: {result.provider_state}",
                       refund.payment_intent_id)
    intent = session.scalars(select(PaymentIntent).where(PaymentIntent.id == refund.payment_intent_id)
                             .with_for_update()).one()
    refund.status, refund.succeeded_at = "succeeded", now
    intent.refunded_fen += refund.amount_fen
    intent.updated_at = now
    if intent.refunded_fen == intent.amount_fen and intent.status == "succeeded":
        states.move(intent, "refunded", now=now)
    runtime.emit(session, "payment.refunded", announcements.refunded(intent, refund))
    return Settled("applied", f"refund {refund.id} succeeded", intent.id)
