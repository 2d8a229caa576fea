"""Refunds in full or per line: asked for by staff now (after-sales later), sent to the provider,
finished by its answer or its refund notification (settlement.apply_refund).

A refund is first written as `requested` (its amount then counts against what may still be
refunded, so two concurrent refunds can never exceed the payment), then submitted to the provider
outside the row lock. A submission that could not reach the provider is tried again by the
reconciliation timer; the provider deduplicates by our out_refund_no (the refund's id).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from servicekit import idempotency
from servicekit.errors import FailedPrecondition, FieldViolation, NotFound, Violations
from servicekit.runtime import Runtime

from . import settlement
from .models import PaymentIntent, Refund
from .providers import ProviderError
from .providers.registry import for_method

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,64}$")
COUNTED = ("requested", "processing", "succeeded")  # what a new refund must leave room for
MAX_LINE_QUANTITY = 9999  # an order line's most units (an imported line; the cart stops at 99)


@dataclass(frozen=True)
class RefundLine:
    line_id: str
    sku_id: str = ""
    quantity: int = 0
    amount_fen: int = 0
    deducted_fen: int = 0   # kept for a gift with purchase (amount_fen is what goes back)


def spread_deduction(lines: list[RefundLine], deduct: int) -> list[RefundLine]:
    """The lines with `deduct` kept from them, last lines first, each line still refunding at
    least 1 fen (order's GetRefundTerms already caps the deduction so)."""
    kept = []
    for line in reversed(lines):
        take = min(deduct, max(0, line.amount_fen - 1))
        deduct -= take
        kept.append(replace(line, amount_fen=line.amount_fen - take, deducted_fen=take))
    return list(reversed(kept))


def kept_for_gifts(refund: Refund) -> int:
    return sum(line.get("deducted_fen", 0) for line in json.loads(refund.lines or "[]"))


def exists(session: Session, refund_request_id: str) -> bool:
    return session.scalar(select(func.count()).select_from(Refund).where(
        Refund.refund_request_id == refund_request_id)) > 0


def _validate(order_id: str, refund_request_id: str, amount_fen: int, lines: list[RefundLine]) -> int:
    problems = Violations()
    problems.check(bool(order_id), "order_id", "required", "order_id is required")
    problems.check(bool(_REQUEST_ID.match(refund_request_id or "")), "refund_request_id", "format",
                   "1 to 64 printable ASCII characters without spaces, the same on every retry")
    seen = set()
    for i, line in enumerate(lines):
        problems.check(bool(line.line_id), f"lines[{i}].line_id", "required", "the order line's id")
        problems.check(line.line_id not in seen, f"lines[{i}].line_id", "unique",
                       f"line {line.line_id} is named twice; send it once with its whole amount")
        seen.add(line.line_id)
        problems.check(line.amount_fen > 0, f"lines[{i}].amount_fen", "positive",
                       f"a line's refund is 1 fen or more; got {line.amount_fen}")
        problems.check(0 <= line.quantity <= MAX_LINE_QUANTITY, f"lines[{i}].quantity", "range",
                       f"the quantity given back, 0 to {MAX_LINE_QUANTITY}; got {line.quantity}")
    total = amount_fen
    if lines and all(line.amount_fen > 0 for line in lines):
        line_sum = sum(line.amount_fen for line in lines)
        total = amount_fen or line_sum
        problems.check(total == line_sum, "amount_fen", "equals_lines",
                       f"amount_fen must equal the lines' sum {line_sum} (or be 0); got {amount_fen}")
    elif not lines:
        problems.check(amount_fen > 0, "amount_fen", "positive",
                       f"the refund in fen, 1 or more; got {amount_fen}")
    problems.raise_if_any("the refund is invalid")
    return total


def request_refund(session: Session, *, order_id: str, refund_request_id: str, amount_fen: int,
                   lines: list[RefundLine], reason: str, requested_by: str) -> Refund:
    """Writes the refund as requested (or finds the one this request id already made)."""
    total = _validate(order_id, refund_request_id, amount_fen, lines)

    def create() -> Refund:
        intent = session.scalars(
            select(PaymentIntent).where(PaymentIntent.order_id == order_id,
                                        PaymentIntent.provider_transaction_id.is_not(None))
            .order_by(PaymentIntent.created_at.desc()).limit(1).with_for_update()).first()
        if intent is None:
            raise NotFound(f"order {order_id} has no payment to refund")
        taken = session.scalar(select(func.coalesce(func.sum(Refund.amount_fen), 0))
                               .where(Refund.payment_intent_id == intent.id, Refund.status.in_(COUNTED)))
        refundable = intent.amount_fen - taken
        if total > refundable:
            raise FailedPrecondition(
                f"order {order_id} was paid {intent.amount_fen} fen and {taken} is already refunded or "
                f"being refunded: at most {refundable} fen can be refunded",
                [FieldViolation("amount_fen", "max_refundable", f"at most {refundable} fen; got {total}")])
        line_rows = json.dumps([line.__dict__ for line in lines], ensure_ascii=False)
        return settlement.new_refund(session, intent, total, refund_request_id, reason[:200],
                                     lines=line_rows, requested_by=requested_by)

    refund, _ = idempotency.create_once(
        session, key=refund_request_id, field="refund_request_id", create=create,
        find=lambda: session.scalars(select(Refund).where(
            Refund.refund_request_id == refund_request_id)).first(),
        # a retry asks for the gross amount again: what went back plus what a gift kept
        same=lambda done: (done.order_id, done.amount_fen) == (order_id, total)
        or (done.order_id, done.amount_fen + kept_for_gifts(done)) == (order_id, total))
    return refund


def submit(runtime: Runtime, refund_id: str) -> Refund:
    """Sends a requested refund to its provider and applies the answer. Safe to call twice."""
    with runtime.transaction() as session:
        refund = session.get(Refund, refund_id)
        intent = session.get(PaymentIntent, refund.payment_intent_id)
        session.expunge_all()
    if refund.status != "requested":
        return refund
    try:
        result = for_method(intent.method).refund(
            out_trade_no=intent.out_trade_no, out_refund_no=refund.id, amount_fen=refund.amount_fen,
            total_fen=intent.amount_fen, reason=refund.reason)
    except ProviderError as err:
        if err.retryable:
            log.warning("refund %s not submitted yet (%s); the reconciliation timer retries", refund.id, err)
            return refund
        result = None
        failure = f"{err.code}: {err}"
    with runtime.transaction() as session:
        if result is not None:
            settlement.apply_refund(session, runtime, result)
        else:
            row = session.get(Refund, refund.id, with_for_update=True)
            if row.status == "requested":
                row.status, row.failure = "failed", failure[:2000]
        refund = session.get(Refund, refund.id)
        session.flush()  # expunging an unflushed row would drop its changes
        session.expunge(refund)
        return refund


def refunds_of_order(session: Session, order_id: str) -> list[Refund]:
    return list(session.scalars(select(Refund).where(Refund.order_id == order_id)
                                .order_by(Refund.created_at.desc())))
