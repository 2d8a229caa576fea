"""The payment intent's state machine: the only place a status changes.

    created ──> pending ──> succeeded ──> refunded
       │           │
       └─> failed <┤
       └─> cancelled <┘

failed, cancelled and refunded are final: a new attempt is a new intent. Asking for the status an
intent already has is a no-op (providers and brokers deliver twice), anything else not drawn
above is refused.
"""
from __future__ import annotations

from datetime import datetime, timezone

from servicekit.errors import FailedPrecondition

from .models import PaymentIntent

ALLOWED: dict[str, frozenset[str]] = {
    "created": frozenset({"pending", "failed", "cancelled"}),
    "pending": frozenset({"succeeded", "failed", "cancelled"}),
    "succeeded": frozenset({"refunded"}),
    "failed": frozenset(),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}
OPEN = ("created", "pending")          # money may still move
CLOSING = ("failed", "cancelled", "refunded")


def can_move(current: str, target: str) -> bool:
    return target in ALLOWED[current]


def move(intent: PaymentIntent, target: str, *, provider_transaction_id: str | None = None,
         now: datetime | None = None) -> bool:
    """Moves `intent` to `target`; returns False when it already was there."""
    if target not in ALLOWED:
        raise ValueError(f"unknown payment status {target!r}")
    if intent.status == target:
        return False
    if not can_move(intent.status, target):
        allowed = ", ".join(sorted(ALLOWED[intent.status])) or "nothing (it is final)"
        raise FailedPrecondition(
            f"payment intent {intent.id} is {intent.status} and cannot become {target}; "
            f"from {intent.status} it may become {allowed}")
    now = now or datetime.now(timezone.utc)
    intent.status, intent.updated_at = target, now
    if target == "succeeded":
        intent.succeeded_at = now
        if provider_transaction_id:
            intent.provider_transaction_id = provider_transaction_id
    if target in CLOSING:
        intent.closed_at = now
    return True
