"""Retried creates: a staff member's idempotency key finds what it made the first time; the same
key with a different request is refused rather than silently answered with the old result."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.errors import FailedPrecondition, FieldViolation


def made_with_key(session: Session, model, created_by: str, key: str):
    """The row `created_by` made with `key` (model has created_by and idempotency_key), or None."""
    if not key:
        return None
    return session.scalars(select(model).where(model.created_by == created_by,
                                               model.idempotency_key == key)).first()


def replayed(done, fingerprint: str, key: str, what: str):
    """`done` when it was made from the same request (same fingerprint), else FAILED_PRECONDITION."""
    if done.request_fingerprint != fingerprint:
        raise FailedPrecondition(
            f"idempotency key {key!r} already created a different {what} ({done.id})",
            [FieldViolation("idempotency-key", "reused",
                            f"this key already created a different {what}; use a new key for a "
                            f"new {what}, the same key only to retry the same request")])
    return done
