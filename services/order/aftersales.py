"""After-sale requests shown on the order and its lines: a read model of support's aftersale.*
events. Each request keeps its newest state by the flow's order (applied < approved <
refund_requested < closed): an event of a later step moves it on, one of the same or an earlier
step (late, redelivered under a new id) only fills what is still blank (kind, reason, applied_at),
so the end state is the same in any order of arrival. The money refunded on a line stays
payment.refunded's (orders.on_payment_refunded); here is what support asked and decided."""
from __future__ import annotations

from datetime import datetime, timezone

from mall.events.v1 import support_events_pb2 as support_events
from mall.order.v1 import order_pb2
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.times import parse_rfc3339, rfc3339

from .models import OrderAfterSale

RANK = {"applied": 1, "approved": 2, "refund_requested": 3, "closed": 4}


def _lines(lines) -> list[dict]:
    return [{"line_id": line.line_id, "sku_id": line.sku_id, "quantity": int(line.quantity),
             "refund_fen": int(line.refund_fen)} for line in lines]


def _time(text: str) -> datetime | None:
    try:
        return parse_rfc3339(text) if text else None
    except ValueError:
        return None


def record(session: Session, state: str, event) -> bool:
    """Applies one aftersale.* event; False when it changed nothing (late or repeated)."""
    rank = RANK[state]
    now = datetime.now(timezone.utc)
    fields = {"order_id": event.order_id, "member_id": event.member_id,
              "kind": getattr(event, "kind", ""), "reason_code": getattr(event, "reason_code", ""),
              "lines": _lines(event.lines)}
    if isinstance(event, support_events.AfterSaleApplied):
        fields["applied_at"] = _time(event.applied_at)
    if isinstance(event, support_events.AfterSaleRefundRequested):
        fields["refund_fen"] = event.amount_fen or sum(line.refund_fen for line in event.lines)
    if isinstance(event, support_events.AfterSaleClosed):
        fields["outcome"] = event.outcome
        fields["refunded_fen"] = event.refunded_fen
    # One row per request, created by whichever event comes first (concurrent deliveries of two
    # events of one request: the insert that loses the race finds the row and goes on below).
    session.execute(dialect_insert(session, OrderAfterSale.__table__).values(
        request_id=event.request_id, state=state, rank=0, outcome="", refund_fen=0, refunded_fen=0,
        updated_at=now, **{k: v for k, v in fields.items()
                           if k not in ("outcome", "refund_fen", "refunded_fen")})
        .on_conflict_do_nothing(index_elements=["request_id"]))
    row = session.scalars(select(OrderAfterSale).where(OrderAfterSale.request_id == event.request_id)
                          .with_for_update()).one()
    if rank <= row.rank:
        changed = False
        for name in ("kind", "reason_code", "applied_at"):   # what a later event did not carry
            if fields.get(name) and not getattr(row, name):
                setattr(row, name, fields[name])
                changed = True
        return changed
    row.state, row.rank, row.updated_at = state, rank, now
    for name, value in fields.items():
        if name in ("kind", "reason_code", "applied_at", "member_id") and not value:
            continue   # refund_requested carries no kind: keep what an earlier event said
        if name == "lines" and not value:
            continue
        setattr(row, name, value)
    return True


def of_order(session: Session, order_id: str) -> list[OrderAfterSale]:
    return list(session.scalars(select(OrderAfterSale).where(OrderAfterSale.order_id == order_id)
                                .order_by(OrderAfterSale.applied_at.nulls_last(),
                                          OrderAfterSale.request_id)))


def views(rows: list[OrderAfterSale]) -> list[order_pb2.AfterSaleRef]:
    return [order_pb2.AfterSaleRef(
        request_id=row.request_id, kind=row.kind, state=row.state, outcome=row.outcome,
        reason_code=row.reason_code, quantity=sum(line["quantity"] for line in row.lines),
        refund_fen=row.refund_fen, refunded_fen=row.refunded_fen,
        applied_at=rfc3339(row.applied_at), updated_at=rfc3339(row.updated_at)) for row in rows]


def line_views(rows: list[OrderAfterSale]) -> dict[str, list[order_pb2.AfterSaleRef]]:
    """Each order line's requests: the units and refund this request names on that line."""
    by_line: dict[str, list[order_pb2.AfterSaleRef]] = {}
    for row in rows:
        for line in row.lines:
            by_line.setdefault(line["line_id"], []).append(order_pb2.AfterSaleRef(
                request_id=row.request_id, kind=row.kind, state=row.state, outcome=row.outcome,
                reason_code=row.reason_code, quantity=line["quantity"],
                refund_fen=line["refund_fen"],
                refunded_fen=line["refund_fen"] if row.outcome == "refunded" else 0,
                applied_at=rfc3339(row.applied_at), updated_at=rfc3339(row.updated_at)))
    return by_line
