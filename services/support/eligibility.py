"""Who may review what: the lines of members' paid orders (order.paid) and what reached them
(logistics' shipment.delivered per SKU; order's move to delivered or completed for the whole
order). A line is reviewable once a delivery of its SKU, or of its whole order, is known; the
two are kept apart, so they may arrive in either order. Late events about an erased member are
not stored (servicekit.erasure)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from servicekit import erasure
from servicekit.db import dialect_insert
from servicekit.times import parse_rfc3339, utcnow

from .models import Delivery, OrderLine, Review

WHOLE_ORDER = ""  # Delivery.sku_id of an order delivered as a whole
DELIVERED_STATUSES = ("delivered", "completed")


def line_size(line) -> str:
    """The SKU's size from an OrderEventLine: its `size`, or (an older order's event) the first
    word of its label, which order writes as size then colour ("75B 黑色")."""
    if line.size:
        return line.size[:16]
    return (line.sku_label.split() or [""])[0][:16]


def on_order_paid(session: Session, paid) -> int:
    """Keeps each line of the paid order (not gifts with purchase: nothing she chose to buy).
    Returns how many lines were new; a redelivered or repeated event adds none."""
    if not paid.member_id or erasure.is_erased(session, paid.member_id):
        return 0
    now, added = utcnow(), 0
    for line in paid.lines:
        if line.gift or not line.line_id or not line.product_id:
            continue
        added += session.execute(dialect_insert(session, OrderLine.__table__).values(
            member_id=paid.member_id, order_id=paid.order_id, order_no=paid.order_no,
            line_id=line.line_id, product_id=line.product_id, sku_id=line.sku_id,
            title=line.title[:200], sku_label=line.sku_label[:100], size=line_size(line),
            quantity=line.quantity, created_at=now, paid_fen=line.paid_fen,
            category_ids=list(line.category_ids)[:20], exclusive_service=paid.exclusive_service,
            member_tier=paid.member_tier[:32],
        ).on_conflict_do_nothing(index_elements=["order_id", "line_id"])).rowcount
    return added


def _delivered(session: Session, order_id: str, sku_id: str, at: datetime) -> int:
    return session.execute(dialect_insert(session, Delivery.__table__).values(
        order_id=order_id, sku_id=sku_id, delivered_at=at,
    ).on_conflict_do_nothing(index_elements=["order_id", "sku_id"])).rowcount


def on_shipment_delivered(session: Session, changed) -> int:
    """Every SKU of a delivered parcel of an order (a points-mall gift's parcel has no order)."""
    if not changed.order_id:
        return 0
    at = parse_rfc3339(changed.occurred_at) if changed.occurred_at else utcnow()
    return sum(_delivered(session, changed.order_id, item.sku_id, at)
               for item in changed.items if item.sku_id)


def on_order_status_changed(session: Session, changed) -> int:
    """An order delivered (or completed) as a whole: every line of it reached her."""
    if changed.to_status not in DELIVERED_STATUSES or not changed.order_id:
        return 0
    return _delivered(session, changed.order_id, WHOLE_ORDER, utcnow())


def is_delivered():
    """The SQL condition: OrderLine's SKU (or its whole order) was delivered."""
    return exists().where(Delivery.order_id == OrderLine.order_id,
                          or_(Delivery.sku_id == OrderLine.sku_id,
                              Delivery.sku_id == WHOLE_ORDER))


def delivered_at(session: Session, line: OrderLine) -> datetime | None:
    return session.scalar(select(Delivery.delivered_at).where(
        Delivery.order_id == line.order_id,
        or_(Delivery.sku_id == line.sku_id, Delivery.sku_id == WHOLE_ORDER))
        .order_by(Delivery.delivered_at).limit(1))


def reviewable(session: Session, member_id: str, limit: int, after_id: int | None):
    """Her delivered lines with no review yet, newest first (by line id); `limit + 1` rows."""
    query = (select(OrderLine).where(
        OrderLine.member_id == member_id, is_delivered(),
        ~exists().where(and_(Review.order_id == OrderLine.order_id,
                             Review.line_id == OrderLine.line_id)))
        .order_by(OrderLine.id.desc()).limit(limit + 1))
    if after_id is not None:
        query = query.where(OrderLine.id < after_id)
    return list(session.scalars(query))
