"""Returns counted by reason, product and size, from support's after-sale requests.

Each line of a request is a row (`return_lines`), written by whichever of `aftersale.applied` and
`aftersale.closed` comes first and completed by the other (applied: when and why; closed: the
outcome and what was refunded), so the counts are the same in any order of arrival and a
redelivery changes nothing (the key is request and line). Every aftersale.* event is also kept
as a fact, like any other event (facts.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mall.events.v1 import support_events_pb2 as support
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.errors import Violations
from servicekit.times import parse_rfc3339

from .models import ReturnLine
from .queries import Window, _window

GROUPS = {"reason": ReturnLine.reason_code, "product": ReturnLine.product_id, "size": ReturnLine.size}
KINDS = ("refund_only", "return_refund", "exchange", "repair")


def _moment(text: str, fallback: datetime) -> datetime:
    try:
        return parse_rfc3339(text) if text else fallback
    except ValueError:
        return fallback


def record(session: Session, message, occurred_at: datetime) -> None:
    """aftersale.applied or aftersale.closed: its lines written or completed."""
    closed = isinstance(message, support.AfterSaleClosed)
    applied_at = occurred_at if closed else _moment(message.applied_at, occurred_at)
    refunded = {line.line_id: line.refund_fen for line in message.lines} if closed else {}
    for line in message.lines:
        values = dict(request_id=message.request_id, line_id=line.line_id, order_id=message.order_id,
                      kind=message.kind, reason_code=message.reason_code, product_id=line.product_id,
                      sku_id=line.sku_id, size=line.size, quantity=line.quantity,
                      applied_at=applied_at, outcome=message.outcome if closed else "",
                      refunded_fen=refunded.get(line.line_id, 0)
                      if closed and message.outcome == "refunded" else 0)
        insert = dialect_insert(session, ReturnLine.__table__).values(**values)
        if closed:   # the outcome; what applied said stays
            update = {"outcome": insert.excluded.outcome, "refunded_fen": insert.excluded.refunded_fen}
        else:        # when and why (a closed heard first took its own time as applied_at)
            update = {name: getattr(insert.excluded, name)
                      for name in ("applied_at", "kind", "reason_code", "product_id", "sku_id",
                                   "size", "quantity")}
        session.execute(insert.on_conflict_do_update(index_elements=["request_id", "line_id"],
                                                     set_=update))


@dataclass(frozen=True)
class ReturnCount:
    key: str
    requests: int      # distinct requests naming it
    units: int         # units asked about
    refunded: int      # units of requests closed refunded
    exchanged: int     # units of requests closed exchanged
    refunded_fen: int


def counts(session: Session, by: str, since: datetime | None = None, until: datetime | None = None,
           kind: str = "") -> list[ReturnCount]:
    """Per reason code, product or size, requests applied in [since, until); most units first."""
    problems = Violations()
    problems.check(by in GROUPS, "by", "one_of", f"by is one of {', '.join(GROUPS)}; got {by!r}")
    problems.check(kind in ("", *KINDS), "kind", "one_of",
                   f"kind is empty (all) or one of {', '.join(KINDS)}; got {kind!r}")
    window: Window = _window(problems, since, until)
    problems.raise_if_any("the return counts query is invalid")
    key = GROUPS[by]
    query = select(
        key, func.count(distinct(ReturnLine.request_id)), func.sum(ReturnLine.quantity),
        func.sum(ReturnLine.quantity).filter(ReturnLine.outcome == "refunded"),
        func.sum(ReturnLine.quantity).filter(ReturnLine.outcome == "exchanged"),
        func.sum(ReturnLine.refunded_fen)).group_by(key)
    if window.since is not None:
        query = query.where(ReturnLine.applied_at >= window.since)
    if window.until is not None:
        query = query.where(ReturnLine.applied_at < window.until)
    if kind:
        query = query.where(ReturnLine.kind == kind)
    rows = [ReturnCount(k or "", int(r), int(u or 0), int(f or 0), int(x or 0), int(fen or 0))
            for k, r, u, f, x, fen in session.execute(query)]
    return sorted(rows, key=lambda c: (-c.units, c.key))
