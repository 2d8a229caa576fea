"""Birthday gifts: in the member's birthday month (Asia/Shanghai), once a year, a
`member.birthday_gift_granted` with the coupon template staff configured (none configured: no
gifts). Safe with several worker replicas: rows are claimed with SKIP LOCKED and the grant's
primary key (member, year) lets only one insert win."""
from __future__ import annotations

import logging
import uuid
from datetime import date

from mall.events.v1 import member_events_pb2
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.runtime import Runtime
from servicekit.times import utcnow

from ..models import BirthdayGrant, Member, MemberProfile
from ..profile.vault import Vault
from . import points

log = logging.getLogger(__name__)
BATCH = 200


def grant_due(runtime: Runtime, vault: Vault, today: date) -> int:
    """Grants this year's gift to every member whose birthday month is today's; returns how many."""
    granted, after = 0, ""
    while True:
        with runtime.transaction() as session:
            template = points.settings(session).birthday_coupon_template_id
            if not template:
                return granted
            rows = _candidates(session, today.year, after)
            for profile in rows:
                birthday = vault.open_field(profile.member_id, "birthday", profile.birthday_enc)
                if birthday and date.fromisoformat(birthday).month == today.month:
                    granted += _grant(runtime, session, profile, today.year, template)
        if len(rows) < BATCH:
            break
        after = rows[-1].member_id
    if granted:
        log.info("birthday gifts granted: %s", granted)
    return granted


def _candidates(session: Session, year: int, after: str) -> list[MemberProfile]:
    query = (select(MemberProfile).join(Member, Member.id == MemberProfile.member_id)
             .where(MemberProfile.birthday_enc.is_not(None), Member.deleted_at.is_(None),
                    or_(MemberProfile.birthday_gift_year.is_(None),
                        MemberProfile.birthday_gift_year < year),
                    MemberProfile.member_id > after)
             .order_by(MemberProfile.member_id).limit(BATCH))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=MemberProfile, skip_locked=True)
    return list(session.scalars(query))


def _grant(runtime: Runtime, session: Session, profile: MemberProfile, year: int,
           template: str) -> int:
    grant_id = str(uuid.uuid4())
    inserted = session.execute(dialect_insert(session, BirthdayGrant.__table__).values(
        member_id=profile.member_id, year=year, grant_id=grant_id, coupon_template_id=template,
        granted_at=utcnow()).on_conflict_do_nothing()).rowcount
    profile.birthday_gift_year = year
    if not inserted:
        return 0
    runtime.emit(session, "member.birthday_gift_granted", member_events_pb2.BirthdayGiftGranted(
        grant_id=grant_id, member_id=profile.member_id, year=year, coupon_template_id=template),
        event_id=grant_id)
    return 1
