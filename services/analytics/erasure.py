"""A member's erasure (member.deleted) and export, as far as facts go.

Her facts (the events that named her: orders paid, imported) stay, so the counts and sales
figures do not change, but lose the member id (replaced by nothing: a fact no longer leads to
anyone) and every personal field: the shipping address keeps province and city, recipient,
phone, district, street and postal code go, wherever they sit in the data. A fact about her
that arrives after her erasure (reordered events) is stored already scrubbed (facts.py)."""
from __future__ import annotations

from datetime import datetime

from mall.analytics.v1 import analytics_pb2 as pb
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from servicekit import consents, erasure

from .models import Fact

MEMBER_KEYS = ("member_id", "memberId")
PERSONAL_KEYS = {"recipient", "phone", "district", "detail", "postal_code", "postalCode",
                 "name", "nickname", "openid", "unionid"}
ADDRESS_KEPT = {"province", "city"}
ADDRESS_KEYS = {"shipping_address", "shippingAddress", "address"}


def scrubbed(data):
    """`data` without member ids or personal fields (a copy; JSON values only)."""
    if isinstance(data, list):
        return [scrubbed(item) for item in data]
    if not isinstance(data, dict):
        return data
    kept = {}
    for key, value in data.items():
        if key in MEMBER_KEYS or key in PERSONAL_KEYS:
            continue
        if key in ADDRESS_KEYS and isinstance(value, dict):
            kept[key] = {k: v for k, v in value.items() if k in ADDRESS_KEPT}
        else:
            kept[key] = scrubbed(value)
    return kept


def member_of(data) -> str:
    if not isinstance(data, dict):
        return ""
    return next((str(data[k]) for k in MEMBER_KEYS if data.get(k)), "")


def scrub_erased(session: Session, facts: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Facts about to be stored, those naming an erased member scrubbed."""
    erased = erasure.erased_among(session, {member_of(data) for _, data in facts})
    if not erased:
        return facts
    return [(event_id, scrubbed(data) if member_of(data) in erased else data)
            for event_id, data in facts]


def _hers(member_id: str):
    # proto3 JSON writes memberId; a producer may also write the proto name
    return or_(*(Fact.data[key].as_string() == member_id for key in MEMBER_KEYS))


def erase_member(session: Session, member_id: str, erased_at: datetime | None = None) -> dict:
    erasure.remember(session, member_id, erased_at)
    facts = list(session.scalars(select(Fact).where(_hers(member_id)).with_for_update()))
    for fact in facts:
        fact.data = scrubbed(fact.data)
    counts = {"facts_scrubbed": len(facts), "consents_forgotten": consents.forget(session, member_id)}
    erasure.report("analytics", member_id, **counts)
    return counts


def export(session: Session, member_id: str) -> pb.MemberFactData:
    rows = session.execute(select(Fact.event_type, Fact.source, func.count())
                           .where(_hers(member_id)).group_by(Fact.event_type, Fact.source)
                           .order_by(Fact.event_type)).all()
    return pb.MemberFactData(fact_count=sum(count for _, _, count in rows),
                             by_type=[pb.TypeCount(type=t, source=s, count=c) for t, s, c in rows])
