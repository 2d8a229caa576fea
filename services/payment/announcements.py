"""The payment.* events, built in one place from the rows they announce."""
from __future__ import annotations

import json
from datetime import datetime

from mall.events.v1 import payment_events_pb2 as events

from servicekit.times import rfc3339

from .models import PaymentIntent, Refund


def succeeded(intent: PaymentIntent, paid_at: datetime | None) -> events.PaymentSucceeded:
    return events.PaymentSucceeded(
        payment_intent_id=intent.id, order_id=intent.order_id, member_id=intent.member_id,
        amount_fen=intent.amount_fen, currency=intent.currency, method=intent.method,
        provider_transaction_id=intent.provider_transaction_id or "",
        installment_periods=intent.installment_periods,
        succeeded_at=rfc3339(intent.succeeded_at), paid_at=rfc3339(paid_at or intent.succeeded_at),
        phase=intent.phase or "full")


def failed(intent: PaymentIntent, reason: str) -> events.PaymentFailed:
    return events.PaymentFailed(
        payment_intent_id=intent.id, order_id=intent.order_id, member_id=intent.member_id,
        amount_fen=intent.amount_fen, method=intent.method, reason=reason,
        failed_at=rfc3339(intent.closed_at))


def refunded(intent: PaymentIntent, refund: Refund) -> events.PaymentRefunded:
    return events.PaymentRefunded(
        payment_intent_id=intent.id, order_id=intent.order_id, member_id=intent.member_id,
        refund_id=refund.id, refund_request_id=refund.refund_request_id,
        amount_fen=refund.amount_fen, refunded_total_fen=intent.refunded_fen,
        paid_fen=intent.amount_fen, full=intent.refunded_fen == intent.amount_fen,
        method=intent.method, provider_refund_id=refund.provider_refund_id or "",
        reason=refund.reason, refunded_at=rfc3339(refund.succeeded_at),
        lines=[events.PaymentRefundLine(**line) for line in json.loads(refund.lines or "[]")])
