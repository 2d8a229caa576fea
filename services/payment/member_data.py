"""What payment holds on a member, for her export: her payment intents and their refunds. Payment
keeps no personal data beyond the member id (the provider knows the payer, not us), so the
member's erasure leaves these transaction records as they are."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import PaymentIntent, Refund


def payments_of(session: Session, member_id: str) -> list[PaymentIntent]:
    return list(session.scalars(select(PaymentIntent).where(PaymentIntent.member_id == member_id)
                                .order_by(PaymentIntent.created_at, PaymentIntent.id)))


def refunds_of(session: Session, intents: list[PaymentIntent]) -> list[Refund]:
    if not intents:
        return []
    return list(session.scalars(select(Refund).where(
        Refund.payment_intent_id.in_([i.id for i in intents])).order_by(Refund.created_at, Refund.id)))
