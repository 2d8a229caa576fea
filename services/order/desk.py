"""The merchant's order desk: orders by filter and sort with cursor pages, and exports that
stream every matching order as CSV or Excel in constant memory."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Iterator

from mall.order.v1 import order_pb2
from sqlalchemy import Select, exists, select, tuple_
from sqlalchemy.orm import Session

from servicekit import paging
from servicekit.errors import InvalidArgument, Violations
from servicekit.times import parse_rfc3339, rfc3339

from . import states
from .models import Order, OrderLine, OrderLineCategory
from .views import summaries

SORTS = {  # name -> (column, descending)
    "created_desc": (Order.created_at, True),
    "created_asc": (Order.created_at, False),
    "payable_desc": (Order.payable_fen, True),
    "payable_asc": (Order.payable_fen, False),
}
EXPORT_BATCH = 500
EXPORT_COLUMNS = [  # (header, value of an order and its lines)
    ("订单号 order_no", lambda o, lines: o.order_no),
    ("状态 status", lambda o, lines: o.status),
    ("渠道 channel", lambda o, lines: o.channel),
    ("会员 member_id", lambda o, lines: o.member_id),
    ("下单时间 created_at", lambda o, lines: rfc3339(o.created_at)),
    ("支付时间 paid_at", lambda o, lines: rfc3339(o.paid_at)),
    ("商品 items", lambda o, lines: "; ".join(f"{line.title} {line.sku_label} ×{line.quantity}"
                                              for line in lines)),
    ("件数 quantity", lambda o, lines: sum(line.quantity for line in lines)),
    ("商品原价 list_total_fen", lambda o, lines: o.list_total_fen),
    ("优惠 discount_fen", lambda o, lines: o.discount_fen),
    ("积分抵扣 points_deduction_fen", lambda o, lines: o.points_deduction_fen),
    ("运费 shipping_fee_fen", lambda o, lines: o.shipping_fee_fen),
    ("应付 payable_fen", lambda o, lines: o.payable_fen),
    ("实付 paid_fen", lambda o, lines: o.paid_fen),
    ("退款 refunded_fen", lambda o, lines: o.refunded_fen),
    ("省份 province", lambda o, lines: o.province),
]


def _time(v: Violations, raw: str, field: str) -> datetime | None:
    if not raw:
        return None
    try:
        moment = parse_rfc3339(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        v.add(field, "rfc3339", "a time with its zone, e.g. 2026-11-23T00:00:00+08:00")
        return None
    return moment


def filtered(f: order_pb2.OrderFilter) -> Select:
    """SELECT orders matching the filter (INVALID_ARGUMENT naming every bad field)."""
    v = Violations()
    unknown = [s for s in f.statuses if s not in states.VISIBLE]
    v.check(not unknown, "filter.statuses", "one_of",
            f"unknown {', '.join(unknown)}; use any of {', '.join(states.VISIBLE)}")
    start, end = _time(v, f.created_from, "filter.created_from"), _time(v, f.created_to,
                                                                        "filter.created_to")
    v.check(not (start and end and start >= end), "filter.created_to", "after",
            "created_to must be after created_from")
    v.check(f.min_payable_fen >= 0 and f.max_payable_fen >= 0, "filter.min_payable_fen",
            "non_negative", "amounts are fen, 0 or more (0: no bound)")
    v.check(not (f.max_payable_fen and f.min_payable_fen > f.max_payable_fen),
            "filter.max_payable_fen", "range", "max_payable_fen must not be below min_payable_fen")
    v.raise_if_any("the order filter is invalid")
    query = select(Order).where(Order.status.in_(list(f.statuses) or states.VISIBLE))
    if start:
        query = query.where(Order.created_at >= start)
    if end:
        query = query.where(Order.created_at < end)
    for column, value in ((Order.member_id, f.member_id), (Order.channel, f.channel),
                          (Order.order_no, f.order_no), (Order.import_batch_id, f.import_batch_id)):
        if value:
            query = query.where(column == value)
    if f.min_payable_fen:
        query = query.where(Order.payable_fen >= f.min_payable_fen)
    if f.max_payable_fen:
        query = query.where(Order.payable_fen <= f.max_payable_fen)
    if f.product_id or f.sku_id:
        line = select(OrderLine.id).where(OrderLine.order_id == Order.id)
        if f.product_id:
            line = line.where(OrderLine.product_id == f.product_id)
        if f.sku_id:
            line = line.where(OrderLine.sku_id == f.sku_id)
        query = query.where(exists(line))
    if f.category_id:
        query = query.where(exists(select(OrderLineCategory.order_id).where(
            OrderLineCategory.order_id == Order.id,
            OrderLineCategory.category_id == f.category_id)))
    return query


def list_orders(session: Session, request: order_pb2.ListOrdersRequest) -> order_pb2.ListOrdersResponse:
    sort = request.sort or "created_desc"
    if sort not in SORTS:
        raise InvalidArgument.field("sort", "one_of", f"one of {', '.join(SORTS)}")
    column, descending = SORTS[sort]
    size = paging.page_size(request.page.page_size)
    bound = paging.fingerprint("desk", request.filter.SerializeToString(deterministic=True).hex(),
                               sort)
    after = paging.decode("order", request.page.page_token, bound)
    query = filtered(request.filter)
    if after:
        key = datetime.fromisoformat(after[0]) if column is Order.created_at else after[0]
        position = tuple_(column, Order.id)
        query = query.where(position < (key, after[1]) if descending else position > (key, after[1]))
    order_by = (column.desc(), Order.id.desc()) if descending else (column.asc(), Order.id.asc())
    rows = session.scalars(query.order_by(*order_by).limit(size + 1)).all()
    shown = rows[:size]
    token = ""
    if len(rows) > size:
        last = shown[-1]
        value = getattr(last, column.key)
        token = paging.encode("order", [value.isoformat() if isinstance(value, datetime) else value,
                                        last.id], bound)
    return order_pb2.ListOrdersResponse(orders=summaries(session, shown),
                                        page={"next_page_token": token})


def _matching(session: Session, f: order_pb2.OrderFilter) -> Iterator[tuple[Order, list[OrderLine]]]:
    """Every matching order with its lines, oldest first, a batch at a time (keyset, so memory
    stays flat however many orders match)."""
    query = filtered(f)
    last: tuple | None = None
    while True:
        batch_query = query
        if last:
            batch_query = batch_query.where(tuple_(Order.created_at, Order.id) > last)
        batch = session.scalars(batch_query.order_by(Order.created_at, Order.id)
                                .limit(EXPORT_BATCH)).all()
        if not batch:
            return
        lines: dict[str, list[OrderLine]] = {}
        for line in session.scalars(select(OrderLine).where(
                OrderLine.order_id.in_([o.id for o in batch])).order_by(OrderLine.line_no)):
            lines.setdefault(line.order_id, []).append(line)
        for order in batch:
            yield order, lines.get(order.id, [])
        last = (batch[-1].created_at, batch[-1].id)
        session.expunge_all()


def export_csv(session: Session, f: order_pb2.OrderFilter) -> Iterator[bytes]:
    """UTF-8 with a BOM, which Chinese Excel needs to read the headers right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([header for header, _ in EXPORT_COLUMNS])
    yield "\ufeff".encode() + _drain(buffer)
    for n, (order, lines) in enumerate(_matching(session, f), start=1):
        writer.writerow([value(order, lines) for _, value in EXPORT_COLUMNS])
        if n % EXPORT_BATCH == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def export_xlsx(session: Session, f: order_pb2.OrderFilter, spool_dir: str | None = None) -> Iterator[bytes]:
    """openpyxl's write-only workbook keeps rows out of memory; the zip is built in a temporary
    file and then streamed in chunks."""
    import tempfile

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("orders")
    sheet.append([header for header, _ in EXPORT_COLUMNS])
    for order, lines in _matching(session, f):
        sheet.append([value(order, lines) for _, value in EXPORT_COLUMNS])
    with tempfile.TemporaryFile(dir=spool_dir) as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(256 * 1024):
            yield chunk
