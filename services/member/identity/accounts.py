"""The caller's own account: a customer (with their shopping habits) or a staff member."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from servicekit.errors import Unauthenticated

from ..models import Member, ShoppingHabits, Staff

NOT_SIGNED_IN = "sign in first: this call needs the caller's account"


@dataclass(frozen=True)
class CustomerProfile:
    member: Member
    habits: ShoppingHabits | None


def me(session: Session, user_id: str) -> CustomerProfile | Staff:
    """Member ids and staff ids are both UUIDs, so one id names at most one account."""
    try:
        uuid.UUID(user_id)
    except ValueError:
        raise Unauthenticated(NOT_SIGNED_IN) from None
    member = session.get(Member, user_id)
    if member is not None and member.deleted_at is None:
        return CustomerProfile(member, session.get(ShoppingHabits, member.id))
    staff = session.get(Staff, user_id)
    if staff is not None and not staff.disabled:
        return staff
    raise Unauthenticated(NOT_SIGNED_IN)


def require_member(session: Session, user_id: str, *, lock: bool = False) -> Member:
    """The calling shopper's live account; a deleted or unknown one is UNAUTHENTICATED (their
    access token may not have expired yet, but their account is gone)."""
    try:
        uuid.UUID(user_id)
    except ValueError:
        raise Unauthenticated(NOT_SIGNED_IN) from None
    member = session.get(Member, user_id, with_for_update=lock)
    if member is None or member.deleted_at is not None:
        raise Unauthenticated(NOT_SIGNED_IN)
    return member


def live_member_id(session: Session, member_id: str) -> bool:
    """Whether an event's member is one of ours and not deleted (imported orders may name a
    member this database never saw: their events change no points and no tier)."""
    if not member_id:
        return False
    member = session.get(Member, member_id)
    return member is not None and member.deleted_at is None
