"""The worker's scheduled jobs over many members: points expiry and the yearly tier review.
Each member is handled in its own short transaction, so a long sweep never holds many locks."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from servicekit.db import dialect_insert
from servicekit.runtime import Runtime
from servicekit.times import SHANGHAI

from ..models import Member, YearlyReview
from . import points, tiers

log = logging.getLogger(__name__)
BATCH = 500
STALE_REVIEW = timedelta(hours=1)  # a review started this long ago and unfinished was abandoned


def expire_points(runtime: Runtime, now: datetime) -> int:
    """Expires every lot past its date (FIFO within each member); returns the points expired."""
    total = 0
    while True:
        with runtime.transaction() as session:
            members = points.members_with_points_due(session, now, BATCH)
        for member_id in members:
            with runtime.transaction() as session:
                total += points.expire_due(session, member_id, now)
        if len(members) < BATCH:
            break
    if total:
        log.info("points expired: %s", total)
    return total


def yearly_review(runtime: Runtime, now: datetime) -> bool:
    """Once per Asia/Shanghai year, re-evaluates every member's tier; True when this call did it.
    The replica whose insert (or take-over of an abandoned run) succeeds does the review."""
    year = now.astimezone(SHANGHAI).year
    with runtime.transaction() as session:
        claimed = session.execute(dialect_insert(session, YearlyReview.__table__).values(
            year=year, started_at=now).on_conflict_do_nothing()).rowcount
        if not claimed:
            claimed = session.execute(update(YearlyReview).where(
                YearlyReview.year == year, YearlyReview.finished_at.is_(None),
                YearlyReview.started_at < now - STALE_REVIEW).values(started_at=now)).rowcount
    if not claimed:
        return False
    after, moved = "", 0
    while True:
        with runtime.transaction() as session:
            ids = list(session.scalars(select(Member.id).where(
                Member.deleted_at.is_(None), Member.id > after).order_by(Member.id).limit(BATCH)))
        for member_id in ids:
            with runtime.transaction() as session:
                before = tiers.held(session, member_id).code
                moved += tiers.reevaluate(runtime, session, member_id, "yearly", now).code != before
        if len(ids) < BATCH:
            break
        after = ids[-1]
    with runtime.transaction() as session:
        session.get(YearlyReview, year).finished_at = now
    log.info("yearly tier review %s: %s members moved", year, moved)
    return True
