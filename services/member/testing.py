"""Test tooling for member's callers (the order-import benchmark): members whose profile
holds a phone, written through member's own profile code, so the number is sealed and hashed
exactly as member keeps it. Never imported by the service itself."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from servicekit.runtime import Runtime

from .models import Member
from .profile import profiles
from .profile.vault import default_vault


def add_members(runtime: Runtime, phones: list[str], *, deleted: bool = False) -> list[str]:
    """One member per phone (deleted ones too, when asked); their ids, in the phones' order."""
    now = datetime.now(timezone.utc)
    ids = []
    with runtime.transaction() as session:
        for phone in phones:
            member = Member(id=str(uuid.uuid4()), openid=f"test-{uuid.uuid4().hex}",
                            created_at=now, last_login_at=now)
            session.add(member)
            session.flush()
            profiles.update(session, default_vault(), member.id,
                            profiles.ProfileChanges(phone=phone))
            if deleted:
                member.deleted_at = now
            ids.append(member.id)
    return ids


def add_member_ids(runtime: Runtime, member_ids, *, deleted: bool = False) -> list[str]:
    """Members with exactly these ids (those not there yet; no profile), for callers that check
    ids through MembersExist (promotion's staff issue); deleted ones when asked."""
    from sqlalchemy import select

    now = datetime.now(timezone.utc)
    wanted = list(dict.fromkeys(member_ids))
    with runtime.transaction() as session:
        there = set(session.scalars(select(Member.id).where(Member.id.in_(wanted))))
        for member_id in wanted:
            if member_id not in there:
                session.add(Member(id=member_id, openid=f"test-{uuid.uuid4().hex}", created_at=now,
                                   last_login_at=now, deleted_at=now if deleted else None))
    return wanted
