"""Recording facts: one row per event, and the day/type counter bumped in the same transaction.

The worker's inbox already makes a redelivered event a no-op; keying facts by event id as well
means the rollup can never count an event twice, whichever path (replay, a second handler)
brings it back.

An `order.imported_batch` is not one fact but one `order.imported` fact per order it carries,
each keyed by an id derived from the batch event's id and the order's id: reports, counts and
the gateway's event counts go on seeing one order.imported per imported order, whichever way
the order travelled, and a redelivered batch finds its facts already stored.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.events import Event
from servicekit.times import as_utc, shanghai_day

from . import erasure
from .models import DailyEventCount, Fact
from .tracking_consent import without_unconsented_members

ORDER_IMPORTED = "order.imported"


def record_fact(session: Session, event: Event) -> bool:
    """Stores `event` as a fact and counts it; False (and nothing changed) if already stored."""
    # The data as published, unknown fields included: a fact is kept whole, so a field a later
    # report needs is already there. Personal fields are not in it: analytics holds no events
    # key, so the kit left them out of event.raw (servicekit.sealing); the member id is kept only
    # with her consent (record_facts).
    return record_facts(session, event.type, event.source, event.occurred_at,
                        [(event.id, event.raw.get("data", {}))]) == 1


def record_imported_orders(session: Session, event: Event) -> int:
    """`order.imported_batch`: each order it carries as an `order.imported` fact (the order's
    data exactly as published, the batch's source and time), counted; how many were new."""
    published = event.raw.get("data", {}).get("orders", [])
    # The parsed message gives the order id whatever spelling the producer used; its orders are
    # the published ones in the same order.
    facts = [(imported_order_fact_id(event.id, order.order_id), data)
             for order, data in zip(event.data.orders, published, strict=True)]
    return record_facts(session, ORDER_IMPORTED, event.source, event.occurred_at, facts)


def imported_order_fact_id(batch_event_id: str, order_id: str) -> str:
    """The fact id of one order of a batch event: a name-based UUID (36 characters), the same
    on every delivery of that event."""
    try:
        namespace = uuid.UUID(batch_event_id)
    except ValueError:  # a producer's id that is not a UUID still names its own namespace
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, batch_event_id)
    return str(uuid.uuid5(namespace, order_id))


def record_facts(session: Session, event_type: str, source: str, occurred_at: datetime,
                 facts: list[tuple[str, dict]]) -> int:
    """Stores each `(event id, data)` as a fact of `event_type` and counts those newly stored
    on the day of `occurred_at`; returns that number (a fact already stored is not counted).
    A fact naming a member who has not consented to analytics is stored without her id."""
    if not facts:
        return 0
    facts = erasure.scrub_erased(session, facts)  # an erased member's late event keeps no trace of her
    facts = list(zip([event_id for event_id, _ in facts],
                     without_unconsented_members(session, [data for _, data in facts]), strict=True))
    occurred_at = as_utc(occurred_at)
    day = shanghai_day(occurred_at)
    recorded_at = datetime.now(timezone.utc)
    stored = session.execute(
        dialect_insert(session, Fact.__table__)
        .values([{"event_id": event_id, "event_type": event_type, "source": source,
                  "occurred_at": occurred_at, "day": day, "data": data,
                  "recorded_at": recorded_at} for event_id, data in facts])
        .on_conflict_do_nothing(index_elements=["event_id"])
    ).rowcount
    if not stored:
        return 0
    counter = dialect_insert(session, DailyEventCount.__table__).values(
        day=day, event_type=event_type, source=source, count=stored)
    session.execute(counter.on_conflict_do_update(
        index_elements=["day", "event_type"],
        set_={"count": DailyEventCount.__table__.c.count + counter.excluded.count}))
    return stored
