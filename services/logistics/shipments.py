"""Shipments: when an order is paid, one parcel per warehouse of its allocation, each with a
carrier chosen by the rules (carriers.py) and, once the carrier answers, its waybill.

Discreet packaging (the shopper asked for it, this being a lingerie shop): a plain box, a neutral
sender name on the waybill, and product names masked on the waybill, on the packing list that
goes in the parcel and in every shipment event. Only the warehouse's picking list names the
goods. The recipient's name, phone and street are personal data: sealed (AES-GCM, servicekit.pii)
and opened only to book the waybill.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from mall.events.v1 import logistics_events_pb2 as events
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from servicekit import pii
from servicekit.config import env
from servicekit.runtime import Runtime
from servicekit.times import parse_rfc3339, rfc3339

from . import carriers, fengqiao
from .models import Shipment, TrackingEvent, Warehouse

log = logging.getLogger(__name__)

MASKED_TITLE = "日用品"  # what a discreet parcel's goods are called outside the warehouse
STATES = {"created": events.SHIPMENT_CREATED, "picked_up": events.SHIPMENT_PICKED_UP,
          "in_transit": events.SHIPMENT_IN_TRANSIT,
          "out_for_delivery": events.SHIPMENT_OUT_FOR_DELIVERY,
          "delivered": events.SHIPMENT_DELIVERED, "exception": events.SHIPMENT_EXCEPTION,
          "returned": events.SHIPMENT_RETURNED, "cancelled": events.SHIPMENT_CANCELLED,
          "returning": events.SHIPMENT_RETURNING}
STATE_NAMES = {value: name for name, value in STATES.items()}


def brand_sender() -> str:
    return env("SENDER_NAME", "蕾丝密语旗舰店", "logistics")


def neutral_sender() -> str:
    return env("DISCREET_SENDER_NAME", "品牌仓储", "logistics")


def sender_tel() -> str:
    return env("SENDER_TEL", "4008000000", "logistics")


_cipher: pii.Cipher | None = None


def cipher() -> pii.Cipher:
    global _cipher
    if _cipher is None:
        _cipher = pii.load_cipher("logistics")
    return _cipher


@dataclass(frozen=True)
class PaidLine:
    sku_id: str
    quantity: int
    title: str = ""
    sku_label: str = ""
    sku_code: str = ""
    gift: bool = False


@dataclass(frozen=True)
class PaidOrder:
    """What order.paid tells logistics (event-carried: logistics never calls order)."""
    order_id: str
    order_no: str
    member_id: str
    lines: tuple[PaidLine, ...]
    address: dict          # recipient, phone, province, city, district, detail
    discreet: bool
    priority: bool = False  # the member's tier gives priority shipping
    ships_from: datetime | None = None   # a pre-sale's release date: booked from then on

    @classmethod
    def from_event(cls, paid) -> "PaidOrder":
        a = paid.shipping_address
        return cls(paid.order_id, paid.order_no, paid.member_id,
                   tuple(PaidLine(x.sku_id, x.quantity, x.title, x.sku_label, x.sku_code, x.gift)
                         for x in paid.lines if x.sku_id and x.quantity > 0),
                   {"recipient": a.recipient, "phone": a.phone, "province": a.province,
                    "city": a.city, "district": a.district, "detail": a.detail},
                   paid.discreet_packaging, paid.priority_shipping,
                   parse_rfc3339(paid.ships_from) if paid.ships_from else None)


def shipment_id(order_id: str, warehouse_code: str) -> str:
    """Stable per order and warehouse: a redelivered order.paid finds the same parcel, and the
    carrier (which dedupes by our orderId) answers the same waybill."""
    return "SHP" + hashlib.sha256(f"{order_id}/{warehouse_code}".encode()).hexdigest()[:24].upper()


def _sealed_context(shipment_id_: str) -> str:
    return f"shipments/{shipment_id_}/recipient"


def recipient_of(shipment: Shipment) -> dict:
    """The sealed recipient opened (recipient, phone, district, detail); {} once erased."""
    if not shipment.recipient_sealed:
        return {}
    return json.loads(cipher().decrypt(shipment.recipient_sealed, _sealed_context(shipment.id)))


def plan(session: Session, order: PaidOrder, allocations: list[tuple[str, str, int]]
         ) -> list[Shipment]:
    """One shipment per warehouse of the allocation (waybills are booked later); a shipment
    that already exists is kept as it is."""
    by_code: dict[str, list[tuple[str, int]]] = {}
    for code, sku_id, quantity in allocations:
        by_code.setdefault(code, []).append((sku_id, quantity))
    described = {line.sku_id: line for line in order.lines}
    warehouses = {w.code: w for w in session.scalars(
        select(Warehouse).where(Warehouse.code.in_(list(by_code))))}
    now = datetime.now(timezone.utc)
    private = json.dumps({k: order.address.get(k, "") for k in
                          ("recipient", "phone", "district", "detail")}, ensure_ascii=False)
    planned = []
    for code, goods in by_code.items():
        sid = shipment_id(order.order_id, code)
        if (existing := session.get(Shipment, sid)) is not None:
            planned.append(existing)
            continue
        warehouse = warehouses[code]
        items = []
        for sku_id, quantity in goods:
            line = described.get(sku_id) or PaidLine(sku_id, quantity)
            item = {"sku_id": sku_id, "quantity": quantity, "title": line.title,
                    "sku_label": line.sku_label, "sku_code": line.sku_code}
            if line.gift:
                item["gift"] = True
            items.append(item)
        shipment = Shipment(
            id=sid, order_id=order.order_id, order_no=order.order_no,
            member_id=order.member_id, warehouse_id=warehouse.id, warehouse=warehouse,
            carrier=carriers.choose(warehouse.carriers, order.address["province"],
                                    order.priority),
            priority=order.priority,
            waybill_no=None, booking_error="", state="created", state_at=now,
            discreet=order.discreet,
            sender_name=neutral_sender() if order.discreet else brand_sender(),
            destination_province=order.address["province"][:50],
            destination_city=order.address.get("city", "")[:50],
            recipient_sealed=cipher().encrypt(private, _sealed_context(sid)),
            items=items, last_heard_at=now, created_at=now, updated_at=now,
            ship_after=order.ships_from)
        session.add(shipment)
        planned.append(shipment)
    session.flush()
    return planned


def customer_items(shipment: Shipment) -> list[events.ShipmentItem]:
    """The goods as anyone outside the warehouse sees them: masked when discreet."""
    return [events.ShipmentItem(sku_id=i["sku_id"], quantity=i["quantity"],
                                title=MASKED_TITLE if shipment.discreet else i["title"],
                                sku_label="" if shipment.discreet else i["sku_label"])
            for i in shipment.items]


def announce(runtime: Runtime, session: Session, shipment: Shipment, step: TrackingEvent) -> None:
    """shipment.<state>, in the caller's transaction."""
    if shipment.redemption_id:
        same = Shipment.redemption_id == shipment.redemption_id
    elif shipment.aftersale_request_id:
        same = Shipment.aftersale_request_id == shipment.aftersale_request_id
    else:
        same = Shipment.order_id == shipment.order_id
    count = session.scalar(select(func.count()).select_from(Shipment).where(same))
    runtime.emit(session, f"shipment.{step.state}", events.ShipmentChanged(
        shipment_id=shipment.id, order_id=shipment.order_id, order_no=shipment.order_no,
        member_id=shipment.member_id, warehouse_code=shipment.warehouse.code,
        carrier=shipment.carrier, waybill_no=shipment.waybill_no or "",
        state=STATES[step.state], occurred_at=rfc3339(step.occurred_at),
        description=step.description, location=step.location, discreet=shipment.discreet,
        items=customer_items(shipment), shipment_count=count,
        stop_outcome=shipment.stop_outcome or "",
        redemption_id=shipment.redemption_id or "",
        aftersale_request_id=shipment.aftersale_request_id or ""))


def _book(shipment: Shipment) -> str:
    account = carriers.account(shipment.carrier)
    client = fengqiao.FengqiaoClient(account.url, account.partner_id, account.checkword)
    private = json.loads(cipher().decrypt(shipment.recipient_sealed,
                                          _sealed_context(shipment.id)))
    warehouse = shipment.warehouse
    sender = {"contact": shipment.sender_name, "tel": sender_tel(),
              "province": warehouse.province, "city": warehouse.city,
              "county": warehouse.district, "address": warehouse.name}
    recipient = {"contact": private["recipient"], "tel": private["phone"],
                 "province": shipment.destination_province, "city": shipment.destination_city,
                 "county": private["district"], "address": private["detail"]}
    cargo = [(MASKED_TITLE if shipment.discreet else i["title"] or i["sku_id"], i["quantity"])
             for i in shipment.items]
    return client.create_order(shipment.id, sender, recipient, cargo)


def book_pending(runtime: Runtime, limit: int = 20, order_ids: list[str] | None = None,
                 now: datetime | None = None, shipment_ids: list[str] | None = None) -> int:
    """Books waybills for planned shipments (a worker timer; staff for chosen orders). Rows are
    claimed with SKIP LOCKED, so replicas share the work; a carrier that fails leaves its error
    for the next round."""
    from .tracking import record_step  # tracking announces through this module

    booked = 0
    with runtime.transaction() as session:
        # a stopped shipment (its order cancelled or refunded) is never booked
        # ... nor a pre-sale's before its release date
        query = select(Shipment).where(Shipment.waybill_no.is_(None), Shipment.state == "created",
                                       Shipment.stop_requested_at.is_(None),
                                       or_(Shipment.ship_after.is_(None),
                                           Shipment.ship_after <= (now or datetime.now(timezone.utc))))
        if order_ids is not None:
            query = query.where(Shipment.order_id.in_(order_ids))
        if shipment_ids is not None:
            query = query.where(Shipment.id.in_(shipment_ids))
        pending = list(session.scalars(
            # priority shipping first (the member's tier benefit), then first paid first
            query.order_by(Shipment.priority.desc(), Shipment.created_at, Shipment.id).limit(limit)
            .with_for_update(skip_locked=True, of=Shipment)))
        for shipment in pending:
            try:
                waybill = _book(shipment)
            except fengqiao.CarrierError as err:
                log.warning("booking %s with %s failed: %s", shipment.id, shipment.carrier, err)
                shipment.booking_error = str(err)[:500]
                continue
            shipment.waybill_no, shipment.booking_error = waybill, ""
            now = datetime.now(timezone.utc)
            shipment.updated_at = shipment.last_heard_at = now
            record_step(runtime, session, shipment, "created", now, source="system",
                        description=f"{carriers.CARRIERS[shipment.carrier]} 已下单，运单号 {waybill}",
                        dedupe_key="created", announce=True)
            if shipment.aftersale_request_id:  # an exchange's replacement is on its way
                from .returns import exchange_booked
                exchange_booked(runtime, session, shipment)
            booked += 1
    return booked
