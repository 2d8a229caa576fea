"""Payment intent use cases: open one, find an order's, cancel one or an order's open ones."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from mall.events.v1 import payment_events_pb2 as events
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.errors import NotFound, Violations
from servicekit.runtime import Runtime

from . import states
from .methods import HUABEI_FEE_RATE_BP
from .models import METHODS, PaymentIntent

MAX_AMOUNT_FEN = 100_000_000  # ¥1,000,000: above any single order of this shop; catches typos


def create_intent(session: Session, *, order_id: str, member_id: str, method: str,
                  amount_fen: int, installment_periods: int = 0) -> PaymentIntent:
    problems = Violations()
    problems.check(bool(order_id), "order_id", "required", "order_id is required")
    problems.check(bool(member_id), "member_id", "required", "member_id is required")
    problems.check(method in METHODS, "method", "one_of",
                   f"method must be one of {', '.join(METHODS)}; got {method!r}")
    problems.check(0 < amount_fen <= MAX_AMOUNT_FEN, "amount_fen", "range",
                   f"amount_fen must be between 1 and {MAX_AMOUNT_FEN} fen; got {amount_fen}")
    if installment_periods:
        if problems.check(method == "alipay", "installment_periods", "alipay_only",
                          "installments are offered through Alipay (Huabei) only"):
            problems.check(installment_periods in HUABEI_FEE_RATE_BP, "installment_periods",
                           "one_of", "Huabei installments are 3, 6 or 12 periods; "
                           f"got {installment_periods}")
    problems.raise_if_any("the payment intent is invalid")
    now = datetime.now(timezone.utc)
    intent = PaymentIntent(id=str(uuid.uuid4()), order_id=order_id, member_id=member_id,
                           method=method, amount_fen=amount_fen, currency="CNY", status="created",
                           installment_periods=installment_periods, created_at=now, updated_at=now)
    session.add(intent)
    session.flush()
    return intent


def latest_for_order(session: Session, order_id: str) -> PaymentIntent:
    intent = session.scalars(select(PaymentIntent).where(PaymentIntent.order_id == order_id)
                             .order_by(PaymentIntent.created_at.desc()).limit(1)).first()
    if intent is None:
        raise NotFound(f"order {order_id} has no payment yet")
    return intent


def cancel_open_for_order(session: Session, runtime: Runtime, order_id: str,
                          reason: str = "order_cancelled") -> list[PaymentIntent]:
    """The order was cancelled: its open intents can no longer be paid. An intent that already
    succeeded is left alone (a refund is a separate, later flow)."""
    return [intent for intent in session.scalars(select(PaymentIntent)
                                                 .where(PaymentIntent.order_id == order_id,
                                                        PaymentIntent.status.in_(states.OPEN))
                                                 .with_for_update())
            if cancel(session, runtime, intent, reason)]


def cancel(session: Session, runtime: Runtime, intent: PaymentIntent, reason: str) -> bool:
    """Cancels an open intent and announces it; False when it already was cancelled."""
    if not states.move(intent, "cancelled"):
        return False
    runtime.emit(session, "payment.cancelled", events.PaymentCancelled(
        payment_intent_id=intent.id, order_id=intent.order_id, member_id=intent.member_id,
        amount_fen=intent.amount_fen, method=intent.method, reason=reason))
    return True
