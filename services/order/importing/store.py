"""Writing imported orders in bulk: one transaction per batch of orders, Core INSERTs with many
rows each (no ORM object per row), the external ids claimed first so an order is never imported
twice, even by two jobs at once.

An imported order is written directly in its partner status (paid, shipped or completed) with
the path to it in its status history (actor `import:<partner>`); no payment intent, no
order.status_changed (the shopper is not notified of a sale made elsewhere); each batch of orders
is one order.imported_batch event (OrdersImported: each order as an order.imported would carry it).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from google.protobuf.descriptor import FieldDescriptor
from mall.common.v1 import common_pb2
from mall.events.v1 import order_events_pb2 as events
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.bulk import bulk_insert, insert_new
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from .. import privacy
from ..models import ImportedOrder, Order, OrderLine, OrderLineCategory, OrderStatusChange
from .rows import Line, OrderFields

# The path from nothing to each partner status, as the status history records it.
PATHS = {"paid": ("paid",), "shipped": ("paid", "shipped"),
         "completed": ("paid", "shipped", "delivered", "completed")}


@dataclass
class ReadyOrder:
    """An order of the file with every line checked, ready to be written."""
    external_id: str
    order: OrderFields
    lines: list[Line]
    member_id: str = ""


def already_imported(session: Session, partner: str, external_ids: list[str]) -> dict[str, str]:
    """external id -> order number, for those of `external_ids` this partner imported before."""
    found: dict[str, str] = {}
    for start in range(0, len(external_ids), 1000):
        chunk = external_ids[start:start + 1000]
        found.update(session.execute(
            select(ImportedOrder.external_id, ImportedOrder.order_no)
            .where(ImportedOrder.partner == partner, ImportedOrder.external_id.in_(chunk))).all())
    return found


def write_orders(session: Session, runtime: Runtime, ready: list[ReadyOrder], *, partner: str,
                 job_id: str, deduct_stock: bool, now: datetime,
                 numbers: list[str]) -> dict[str, str]:
    """Writes the orders whose external ids this call claims; returns external id -> order
    number for them (an id another job claimed first is left out: the caller marks it skipped).
    `numbers`: one order number per order, reserved beforehand (`numbering.reserve_order_nos`)."""
    if not ready:
        return {}
    ids = {r.external_id: (str(uuid.uuid4()), numbers[i]) for i, r in enumerate(ready)}
    claimed = insert_new(session, ImportedOrder.__table__, [
        {"partner": partner, "external_id": r.external_id, "order_id": ids[r.external_id][0],
         "order_no": ids[r.external_id][1], "job_id": job_id, "imported_at": now}
        for r in ready], returning="external_id")
    channel, actor = f"import:{partner}", f"import:{partner}"
    orders, lines, changes, categories, imported = [], [], [], [], []
    for item in ready:
        if item.external_id not in claimed:
            continue
        order_id, order_no = ids[item.external_id]
        head = item.order
        line_rows = []
        for number, row in enumerate(item.lines, start=1):
            sku = row.sku
            line_rows.append({
                "id": f"{order_id}-{number}", "order_id": order_id, "line_no": number,
                "sku_id": sku.sku_id, "product_id": sku.product_id, "sku_code": sku.code,
                "title": sku.title, "sku_label": sku.label, "attributes": sku.attributes,
                "image_url": sku.image_url, "category_ids": sku.category_ids,
                "quantity": row.quantity, "unit_price_fen": row.unit_price_fen,
                "discounts": {"partner": row.discount_fen} if row.discount_fen else {},
                "paid_fen": row.line_total_fen, "gift": False, "refunded_fen": 0})
        lines.extend(line_rows)
        list_total = sum(r.unit_price_fen * r.quantity for r in item.lines)
        discount = sum(r.discount_fen for r in item.lines)
        payable = head.order_total_fen if head.order_total_fen is not None else (
            sum(r.line_total_fen for r in item.lines) + head.shipping_fee_fen)
        path = PATHS[head.status]
        address = common_pb2.Address(recipient=head.recipient, phone=head.phone,
                                     province=head.province, city=head.city,
                                     district=head.district, detail=head.detail)
        orders.append({
            "id": order_id, "order_no": order_no, "member_id": item.member_id,
            "status": head.status, "channel": channel, "flash_sale": False,
            "idempotency_key": None, "request_fingerprint": "", "list_total_fen": list_total,
            "discount_fen": discount, "points_deduction_fen": 0,
            "shipping_fee_fen": head.shipping_fee_fen, "payable_fen": payable,
            "paid_fen": payable, "refunded_fen": 0, "points_used": 0, "coupon_ids": [],
            "explanation": [f"imported from {partner}, their order {item.external_id}"],
            "member_tier": "", "member_tier_rank": 0,
            "address_sealed": privacy.seal_address(order_id, address), "province": head.province,
            "discreet_packaging": False, "allocation": [], "shopper_note": head.note,
            "failure": "", "payment_method": "", "created_at": head.order_time,
            "updated_at": now, "pay_deadline": None, "paid_at": head.order_time,
            "shipped_at": now if "shipped" in path else None,
            "delivered_at": now if "delivered" in path else None,
            "completed_at": now if "completed" in path else None, "closed_at": None,
            "import_batch_id": job_id})
        before = ""
        for step, status in enumerate(path):
            changes.append({"order_id": order_id, "from_status": before, "to_status": status,
                            "actor": actor, "at": head.order_time if step == 0 else now,
                            "reason": f"imported (batch {job_id}, their order {item.external_id})"
                            if step == 0 else f"imported as {head.status}"})
            before = status
        categories.extend({"order_id": order_id, "category_id": c}
                          for c in sorted({c for r in item.lines for c in r.sku.category_ids}))
        imported.append(imported_event_data(
            order_id=order_id, order_no=order_no, member_id=item.member_id, channel=channel,
            partner=partner, batch_id=job_id, external_id=item.external_id, status=head.status,
            payable_fen=payable, shipping_fee_fen=head.shipping_fee_fen,
            ordered_at=rfc3339(head.order_time), deduct_stock=deduct_stock,
            province=head.province, lines=line_rows))
    if orders:
        # Not the ORM's bulk path (it fetches generated keys row by row): COPY on PostgreSQL.
        bulk_insert(session, Order.__table__, orders)
        bulk_insert(session, OrderLine.__table__, lines)
        bulk_insert(session, OrderStatusChange.__table__, changes)
        bulk_insert(session, OrderLineCategory.__table__, categories)
        # One event for the batch (order.imported_batch): one message per order made the relay,
        # the broker and every consumer the slowest part of an import.
        runtime.emit(session, "order.imported_batch", imported_batch_data(job_id, partner, imported))
    return {external_id: ids[external_id][1] for external_id in claimed}


def imported_event_data(*, lines: list[dict], **fields) -> dict:
    """One order of `order.imported_batch` exactly as `MessageToDict(OrderImported(...),
    always_print_fields_with_no_presence=True)` writes it (JSON names, int64 as strings, every
    field), built directly: converting a message costs ~100 µs, a fifth of an imported row's
    budget. The names and kinds come from the messages' descriptors, so a field added to the
    contract is asked for here (KeyError) rather than left out; test_import_writing proves the
    result equal to protobuf's own."""
    data = _proto3_json(_ORDER_FIELDS, fields)
    data["lines"] = [_proto3_json(_LINE_FIELDS, {
        **line, "line_id": line["id"], "size": str((line.get("attributes") or {}).get("size", ""))})
        for line in lines]
    return data


def imported_batch_data(batch_id: str, partner: str, orders: list[dict]) -> dict:
    """`order.imported_batch`'s data (OrdersImported) as protobuf's JSON writes it, `orders`
    each from `imported_event_data`."""
    return {_BATCH_NAMES["batch_id"]: batch_id, _BATCH_NAMES["partner"]: partner,
            _BATCH_NAMES["orders"]: orders}


_BATCH_NAMES = {f.name: f.json_name for f in events.OrdersImported.DESCRIPTOR.fields}
_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
          FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64}


def _scalar_fields(message_type) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, object], ...]]:
    """The fields but nested messages: ((name, JSON name) of those written as they are,
    (name, JSON name, how the value is written) of the others: int64 as text, repeated as lists)."""
    plain, converted = [], []
    for f in message_type.DESCRIPTOR.fields:
        if f.message_type is not None:
            continue
        if f.enum_type is not None:  # proto3 JSON writes enum names: not needed here yet
            raise TypeError(f"{message_type.__name__}.{f.name}: enums are not handled here")
        int64 = f.type in _INT64
        if f.is_repeated:
            converted.append((f.name, f.json_name, _int64_texts if int64 else list))
        elif int64:
            converted.append((f.name, f.json_name, str))
        else:
            plain.append((f.name, f.json_name))
    return tuple(plain), tuple(converted)


def _int64_texts(values) -> list[str]:
    return [str(v) for v in values]


def _proto3_json(fields, values: dict) -> dict:
    plain, converted = fields  # most fields are copied: no call per field for them
    data = {json_name: values[name] for name, json_name in plain}
    for name, json_name, write in converted:
        data[json_name] = write(values[name])
    return data


_ORDER_FIELDS = _scalar_fields(events.OrderImported)
_LINE_FIELDS = _scalar_fields(events.OrderEventLine)
