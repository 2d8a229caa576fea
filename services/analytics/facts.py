"""Recording facts: one row per event, and the day/type counter bumped in the same transaction.

The worker's inbox already makes a redelivered event a no-op; keying facts by event id as well
means the rollup can never count an event twice, whichever path (replay, a second handler)
brings it back.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.events import Event
from servicekit.times import as_utc, shanghai_day

from .models import DailyEventCount, Fact


def record_fact(session: Session, event: Event) -> bool:
    """Stores `event` as a fact and counts it; False (and nothing changed) if already stored."""
    occurred_at = as_utc(event.occurred_at)
    day = shanghai_day(occurred_at)
    # The data exactly as published, unknown fields included: a fact is kept whole, so a field
    # a later report needs is already there.
    data = event.raw.get("data", {})
    stored = session.execute(
        dialect_insert(session, Fact.__table__)
        .values(event_id=event.id, event_type=event.type, source=event.source,
                occurred_at=occurred_at, day=day, data=data,
                recorded_at=datetime.now(timezone.utc))
        .on_conflict_do_nothing(index_elements=["event_id"])
    ).rowcount
    if not stored:
        return False
    counter = dialect_insert(session, DailyEventCount.__table__).values(
        day=day, event_type=event.type, source=event.source, count=1)
    session.execute(counter.on_conflict_do_update(
        index_elements=["day", "event_type"],
        set_={"count": DailyEventCount.__table__.c.count + 1}))
    return True


