"""Members who erased their account (member.deleted), remembered by each service that held their
data, so an event about them that arrives late (reordered, or replayed from dead letters) is
recognised and its personal data dropped instead of stored again.

A service opts in like idempotency: `erasure.add_to(Base.metadata)` in its models and
`migration_ops.create_erased_members_table_v1()` in a revision. The member id is a pseudonymous
id that orders and payments keep anyway; the table holds nothing else about the member.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import cast

from sqlalchemy import Column, CursorResult, MetaData, String, Table, select
from sqlalchemy.orm import Session

from .db import UtcDateTime, dialect_insert
from .times import parse_rfc3339, rfc3339, utcnow

TABLE = "erased_members"

log = logging.getLogger("servicekit.erasure")


def add_to(metadata: MetaData) -> Table:
    return Table(TABLE, metadata,
                 Column("member_id", String(64), primary_key=True),
                 Column("erased_at", UtcDateTime, nullable=False))


# The statements' own copy of the table, whatever metadata a service declared it in.
_TABLE = add_to(MetaData())


def remember(session: Session, member_id: str, erased_at: datetime | None = None) -> bool:
    """Records that `member_id` was erased, in the caller's transaction; False if already known."""
    # Session.execute is typed Result; for DML it is a CursorResult, which has the rowcount
    inserted = cast(CursorResult, session.execute(
        dialect_insert(session, _TABLE)
        .values(member_id=member_id, erased_at=erased_at or utcnow())
        .on_conflict_do_nothing(index_elements=["member_id"]))).rowcount
    return bool(inserted)


def is_erased(session: Session, member_id: str) -> bool:
    if not member_id:
        return False
    return session.scalar(select(_TABLE.c.member_id).where(_TABLE.c.member_id == member_id)) is not None


def erased_among(session: Session, member_ids) -> set[str]:
    """Which of `member_ids` were erased (one query, for a batch of events)."""
    wanted = {m for m in member_ids if m}
    if not wanted:
        return set()
    return set(session.scalars(select(_TABLE.c.member_id).where(_TABLE.c.member_id.in_(wanted))))


def erased_at(event) -> datetime:
    """When the member erased her account, from a member.deleted event (its own time when the
    field is missing)."""
    deleted_at = getattr(event.data, "deleted_at", "")
    return parse_rfc3339(deleted_at) if deleted_at else event.occurred_at


def report(service: str, member_id: str, **counts: int) -> None:
    """One structured log line of what a service erased for a member (the proof in the logs)."""
    log.info(json.dumps({"erasure": service, "member_id": member_id, "at": rfc3339(utcnow()),
                         **counts}, ensure_ascii=False))
