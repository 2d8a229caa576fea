"""A member's shopping habits, folded from `order.paid` and (matched) `order.imported` events
(one order, or each order of an `order.imported_batch`).

The kit's inbox makes each event count once; the arithmetic here is order-independent (sums, a
count and a max), so events arriving late or out of order give the same profile.
"""
from __future__ import annotations

import logging
from datetime import datetime

from mall.events.v1 import order_events_pb2
from sqlalchemy.orm import Session

from servicekit.times import as_utc, parse_rfc3339, utcnow

from ..models import ShoppingHabits

log = logging.getLogger(__name__)
FAVOURITES = 5


def average_fen(total_fen: int, count: int) -> int:
    """total / count in whole fen, rounded half up (integers only: money is never a float)."""
    if count <= 0:
        return 0
    return (2 * total_fen + count) // (2 * count)


def parse_time(value: str) -> datetime | None:
    """RFC 3339 to an aware datetime; None when empty or unreadable (the caller falls back to the
    event's time: a producer's bad timestamp must not cost the member an order in their count)."""
    if not value:
        return None
    try:
        moment = parse_rfc3339(value)
    except ValueError:
        log.warning("order event with an unreadable time %r; using the event time", value)
        return None
    return as_utc(moment)


def record_paid_order(session: Session, paid: order_events_pb2.OrderPaid,
                      occurred_at: datetime | None = None) -> ShoppingHabits | None:
    """Adds one paid order to its member's habits; None when the event names no member."""
    return record_order(session, paid.member_id, paid.paid_fen, parse_time(paid.paid_at),
                        paid.lines, occurred_at)


def record_imported_order(session: Session, imported: order_events_pb2.OrderImported,
                          occurred_at: datetime | None = None) -> ShoppingHabits | None:
    """A partner's order matched to a member by phone counts like one paid in the mall; None
    when no member has the customer's phone."""
    return record_order(session, imported.member_id, imported.payable_fen,
                        parse_time(imported.ordered_at), imported.lines, occurred_at)


def record_imported_orders(session: Session, batch: order_events_pb2.OrdersImported,
                           occurred_at: datetime | None = None) -> int:
    """Each order of an `order.imported_batch`, as `record_imported_order` does with one; how
    many were matched to a member. Folded in member id order: the sum is the same in any order,
    and two batches sharing members lock their habits rows in one order, so they wait for each
    other rather than deadlock."""
    folded = 0
    for imported in sorted(batch.orders, key=lambda order: order.member_id):
        if record_imported_order(session, imported, occurred_at) is not None:
            folded += 1
    return folded


def record_order(session: Session, member_id: str, paid_fen: int, ordered_at: datetime | None,
                 lines, occurred_at: datetime | None = None) -> ShoppingHabits | None:
    """The one fold of an order into habits (count, spend, average, last order, categories)."""
    if not member_id:
        return None
    paid_at = ordered_at or occurred_at
    habits = session.get(ShoppingHabits, member_id, with_for_update=True)
    if habits is None:
        habits = ShoppingHabits(member_id=member_id, orders_count=0, total_paid_fen=0,
                                average_order_fen=0, last_order_at=None)
        session.add(habits)
    habits.orders_count += 1
    habits.total_paid_fen += paid_fen
    habits.average_order_fen = average_fen(habits.total_paid_fen, habits.orders_count)
    if paid_at is not None and (habits.last_order_at is None
                                or habits.last_order_at < paid_at):
        habits.last_order_at = paid_at
    habits.category_units = add_category_units(habits.category_units or {}, lines)
    habits.updated_at = utcnow()
    return habits


def add_category_units(counts: dict, lines) -> dict:
    """A new dict (the JSON column sees the change): units per category, gift lines excluded."""
    counts = dict(counts)
    for line in lines:
        if line.gift:
            continue
        for category_id in line.category_ids:
            counts[category_id] = counts.get(category_id, 0) + line.quantity
    return counts


def favourite_categories(habits: ShoppingHabits | None, limit: int = FAVOURITES) -> list[str]:
    """Most units first; ties by category id, so the answer is stable."""
    counts = (habits.category_units if habits else None) or {}
    return [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
