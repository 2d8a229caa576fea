"""A member's consents as other services know them: a read model of member's
`member.consent_changed`, kept by every service that sends marketing messages (support's inbox)
or keeps facts about a member (analytics), so each decides from its own database without calling
member.

The purposes are named here once (member accepts exactly these). Consent is opt-in (PIPL art. 13
and 14): a member with no record has not consented. The latest change wins by its `version`
(member's record id, growing with each change of that member's consents), so a redelivered or
late event never undoes a newer one, in whatever order they arrive.

A service opts in with `add_to(Base.metadata)` in its models and
`migration_ops.create_consents_table_v1()` in a revision, then subscribes:

    @on_event("member", "member.consent_changed", member_events.ConsentChanged)
    def consent_changed(self, session, event):
        consents.apply(session, event.data)
"""
from __future__ import annotations

from typing import Protocol, cast

from sqlalchemy import BigInteger, Boolean, Column, MetaData, String, Table, delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from .db import UtcDateTime, dialect_insert
from .times import parse_rfc3339, utcnow

MARKETING = "marketing"   # coupon reminders, birthday notices, campaign pushes
ANALYTICS = "analytics"   # behaviour facts that keep the member's id
PURPOSES = (MARKETING, ANALYTICS)

TABLE = "consents"


class Change(Protocol):
    """What `apply` reads: a `mall.events.v1.ConsentChanged`."""
    member_id: str
    purpose: str
    granted: bool
    changed_at: str
    version: int


def add_to(metadata: MetaData) -> Table:
    return Table(
        TABLE, metadata,
        Column("member_id", String(64), primary_key=True),
        Column("purpose", String(32), primary_key=True),
        Column("granted", Boolean, nullable=False),
        Column("version", BigInteger, nullable=False),  # member's, to keep the newest change
        Column("changed_at", UtcDateTime, nullable=False),
    )


# The statements' own copy of the table, whatever metadata a service declared it in.
_TABLE = add_to(MetaData())


def apply(session: Session, change: Change) -> bool:
    """Keeps `change` unless a newer one (a higher version) is already kept; True when it took."""
    # A purpose member adds later is kept as well (nobody asks for it yet), not parked.
    if not change.member_id or not change.purpose:
        raise ValueError(f"consent change {change.purpose!r} of {change.member_id!r}: needs a member "
                         f"and a purpose")
    changed_at = parse_rfc3339(change.changed_at) if change.changed_at else utcnow()
    insert = dialect_insert(session, _TABLE).values(
        member_id=change.member_id, purpose=change.purpose, granted=change.granted,
        version=change.version, changed_at=changed_at)
    # a DML result is a CursorResult (Session.execute is typed Result)
    return cast(CursorResult, session.execute(insert.on_conflict_do_update(
        index_elements=["member_id", "purpose"],
        set_={"granted": insert.excluded.granted, "version": insert.excluded.version,
              "changed_at": insert.excluded.changed_at},
        where=_TABLE.c.version < insert.excluded.version))).rowcount == 1


def granted(session: Session, member_id: str, purpose: str) -> bool:
    """Whether the member's latest known word on `purpose` is a grant; nothing known is no."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}: one of {', '.join(PURPOSES)}")
    return bool(member_id) and bool(session.scalar(select(_TABLE.c.granted).where(
        _TABLE.c.member_id == member_id, _TABLE.c.purpose == purpose)))


def granted_among(session: Session, member_ids, purpose: str) -> set[str]:
    """Those of `member_ids` whose latest known word on `purpose` is a grant (one query, for a
    batch)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}: one of {', '.join(PURPOSES)}")
    wanted = {m for m in member_ids if m}
    if not wanted:
        return set()
    return set(session.scalars(select(_TABLE.c.member_id).where(
        _TABLE.c.member_id.in_(wanted), _TABLE.c.purpose == purpose, _TABLE.c.granted.is_(True))))


def forget(session: Session, member_id: str) -> int:
    """Drops what is kept on a member (erasure, `member.deleted`); she has consented to nothing."""
    return cast(CursorResult, session.execute(
        delete(_TABLE).where(_TABLE.c.member_id == member_id))).rowcount
