"""Facts about a member keep who she is only with her consent to analytics (PIPL: opt-in, and a
withdrawal stops it). Her consent comes from member's `member.consent_changed` (the kit's read
model, servicekit.consents); with none on record a fact is stored without her member id. No
device-level id replaces it: the events carry none, and a stable pseudonym of the member id would
still single her out, which is what she did not agree to.

The one check for every fact that names a member, today's order facts and the behaviour stream
still to come (`/v1/track`: its events go through `member_id_to_keep` before they are stored).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit import consents

from .models import Fact

# How a published event names its member: proto3 JSON spelling, and the proto field name.
MEMBER_KEYS = ("memberId", "member_id")


def may_keep_member(session: Session, member_id: str) -> bool:
    return consents.granted(session, member_id, consents.ANALYTICS)


def member_id_to_keep(session: Session, member_id: str) -> str:
    """The member id a fact may keep: hers when she consented to analytics, else ""."""
    return member_id if member_id and may_keep_member(session, member_id) else ""


def members_named(data: dict) -> set[str]:
    return {data[key] for key in MEMBER_KEYS if data.get(key)}


def without_unconsented_members(session: Session, datas: list[dict]) -> list[dict]:
    """Each data as published, or without its member id when that member has not consented (one
    query for the whole batch)."""
    named = set().union(*(members_named(data) for data in datas))
    consented = consents.granted_among(session, named, consents.ANALYTICS) if named else set()
    return [data if members_named(data) <= consented
            else {key: value for key, value in data.items() if key not in MEMBER_KEYS}
            for data in datas]


def forget_member_in_facts(session: Session, member_id: str) -> int:
    """After a withdrawal: the member id out of every fact already stored about her; how many
    facts changed. (A scan of her facts: JSON has no index on the member here.)"""
    changed = 0
    for key in MEMBER_KEYS:
        for fact in session.scalars(select(Fact).where(Fact.data[key].as_string() == member_id)):
            fact.data = {k: v for k, v in fact.data.items() if k not in MEMBER_KEYS}
            changed += 1
    return changed


def consent_changed(session: Session, change) -> None:
    """From `member.consent_changed`: kept in the read model; a withdrawal of analytics consent
    (the newest word on it) also takes her id out of the facts already stored."""
    if consents.apply(session, change) and change.purpose == consents.ANALYTICS \
            and not change.granted:
        forget_member_in_facts(session, change.member_id)
