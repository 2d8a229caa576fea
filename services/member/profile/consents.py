"""Consents (marketing, analytics): every grant and withdrawal appended with its time and source.

A change of what the member has consented to is announced as `member.consent_changed` in the same
transaction, so the services that send marketing or keep facts about her act on it (their read
model: servicekit.consents). Saying again what already holds is kept in the history but announces
nothing. No record means no consent (opt-in)."""
from __future__ import annotations

from mall.events.v1 import member_events_pb2
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.errors import Violations
from servicekit.runtime import Runtime
from servicekit.times import rfc3339, utcnow

from ..identity.accounts import require_member
from ..models import ConsentRecord
from .contact_rules import CONSENT_PURPOSES, SOURCE_MAX


def granted(session: Session, member_id: str, purpose: str) -> bool:
    latest = session.scalar(select(ConsentRecord).where(
        ConsentRecord.member_id == member_id, ConsentRecord.purpose == purpose)
        .order_by(ConsentRecord.id.desc()).limit(1))
    return bool(latest and latest.granted)


def history(session: Session, member_id: str) -> list[ConsentRecord]:
    """Newest first."""
    return list(session.scalars(select(ConsentRecord).where(ConsentRecord.member_id == member_id)
                                .order_by(ConsentRecord.id.desc())))


def current(records: list[ConsentRecord]) -> list[ConsentRecord]:
    """The latest record per purpose, from a newest-first history."""
    seen: dict[str, ConsentRecord] = {}
    for record in records:
        seen.setdefault(record.purpose, record)
    return list(seen.values())


def record(runtime: Runtime, session: Session, member_id: str, purpose: str, is_granted: bool,
           source: str) -> ConsentRecord:
    require_member(session, member_id, lock=True)  # one change at a time keeps "latest" well defined
    v = Violations()
    v.check(purpose in CONSENT_PURPOSES, "purpose", "known_purpose",
            f"one of: {', '.join(CONSENT_PURPOSES)}")
    source = source.strip()
    v.check(0 < len(source) <= SOURCE_MAX, "source", "required",
            f"where the member said so, 1..{SOURCE_MAX} characters, e.g. miniprogram:settings")
    v.raise_if_any()
    changes = granted(session, member_id, purpose) != is_granted
    entry = ConsentRecord(member_id=member_id, purpose=purpose, granted=is_granted, source=source,
                          recorded_at=utcnow())
    session.add(entry)
    session.flush()
    if changes:
        runtime.emit(session, "member.consent_changed", member_events_pb2.ConsentChanged(
            member_id=member_id, purpose=purpose, granted=is_granted,
            changed_at=rfc3339(entry.recorded_at), version=entry.id))
    return entry
