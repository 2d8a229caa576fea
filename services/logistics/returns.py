"""After-sales returns and exchanges (support's aftersale.* events start them).

- `aftersale.approved` with return_expected: a return expectation (request, order, member,
  lines, free return shipping, return_by) going back to the warehouse that shipped those lines
  (logistics' own shipments of the order). An exchange reserves its new SKUs at once through the
  reservation machinery, keyed `exchange:<request id>`, held until return_by plus the inspection
  allowance (`MALL_LOGISTICS_RETURN_INSPECTION_SECONDS`, 7 days), or `exchange.unavailable`.
- `BookReturn` (the shopper, her own request): a pick-up booked with the carrier (Fengqiao's
  退货下单, EXP_RECE_CREATE_REVERSE_ORDER, orderId `RET…` stable per request, so the carrier
  answers the same waybill again) or her own carrier and waybill → `return.booked`. A second
  booking answers the first waybill.
- `InspectReturn` (warehouse): received quantities per line, seal, condition, accepted. Accepted
  goods go back to sellable stock (as new with the seal intact: a `return` ledger entry,
  availability announced) or to quarantine (`stock.quarantined`, a `quarantine` ledger entry,
  never sellable) → `return.inspected`. An accepted exchange commits its reservation (or reserves
  again if the hold lapsed; none left → `exchange.unavailable`) and plans its parcel to the
  original order's sealed recipient; `exchange.shipped` once its waybill is booked.
- `aftersale.closed`: the expectation is dropped (status closed) and an exchange's held stock
  released. A close heard before the approval leaves a closed row, so the late approval
  changes nothing; redeliveries find the state they left.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from mall.events.v1 import logistics_events_pb2 as events
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from servicekit import paging
from servicekit.config import env_int
from servicekit.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Violations,
)
from servicekit.runtime import Runtime
from servicekit.times import parse_rfc3339, rfc3339

from . import availability, carriers, fengqiao, reservations, shipments
from .models import LedgerEntry, Reservation, ReturnExpectation, Shipment, Stock, Warehouse
from .skus import known_sku_ids, lock_sku
from .stock import Caller, stock_row
from .warehouses import warehouse_by_code

log = logging.getLogger(__name__)

CONDITIONS = ("as_new", "used", "damaged")
OPEN = ("expected", "booked")
NOTE_MAX = 500
# carriers a shopper may name for a parcel she sends herself (codes as kuaidi trackers use them);
# the ones logistics books with are among them
OWN_CARRIERS = {"sf": "顺丰速运", "zto": "中通快递", "yto": "圆通速递", "sto": "申通快递",
                "yunda": "韵达快递", "ems": "中国邮政 EMS", "jd": "京东物流", "jtexpress": "极兔速递",
                "deppon": "德邦快递"}
WAYBILL_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def inspection_allowance() -> timedelta:
    return timedelta(seconds=env_int("RETURN_INSPECTION_SECONDS", 7 * 86400, "logistics"))


def exchange_key(request_id: str) -> str:
    return f"exchange:{request_id}"


def return_order_id(request_id: str) -> str:
    """Our orderId of a return booked with the carrier: stable per request (the carrier dedupes)."""
    return "RET" + hashlib.sha256(request_id.encode()).hexdigest()[:24].upper()


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- aftersale.approved / aftersale.closed -------------------------------------------------------

def _shipments_of(session: Session, order_id: str) -> list[Shipment]:
    return list(session.scalars(select(Shipment).where(
        Shipment.order_id == order_id, Shipment.aftersale_request_id.is_(None))
        .order_by(Shipment.created_at, Shipment.id)))


def _shipped_from(session: Session, parcels: list[Shipment], sku_ids: set[str]) -> Warehouse | None:
    """The warehouse that shipped the most of these SKUs to her; else the first active one."""
    best, count = None, 0
    for parcel in parcels:
        n = sum(i["quantity"] for i in parcel.items if i["sku_id"] in sku_ids)
        if n > count:
            best, count = parcel.warehouse, n
    if best is not None:
        return best
    return session.scalar(select(Warehouse).where(Warehouse.active.is_(True))
                          .order_by(Warehouse.priority.desc(), Warehouse.code).limit(1))


def approved(runtime: Runtime, session: Session, approval, event_id: str
             ) -> ReturnExpectation | None:
    """From mall.events.v1.AfterSaleApproved."""
    if not approval.return_expected or not approval.request_id:
        return None
    existing = session.get(ReturnExpectation, approval.request_id, with_for_update=True)
    if existing is not None:  # redelivered, announced twice, or closed before we heard this
        return existing
    lines = [{"line_id": x.line_id, "sku_id": x.sku_id, "product_id": x.product_id,
              "quantity": int(x.quantity), "exchange_sku_id": x.exchange_sku_id, "received": 0}
             for x in approval.lines if x.quantity > 0]
    parcels = _shipments_of(session, approval.order_id)
    warehouse = _shipped_from(session, parcels, {x["sku_id"] for x in lines})
    now = _now()
    expectation = ReturnExpectation(
        request_id=approval.request_id, order_id=approval.order_id,
        member_id=approval.member_id, kind=approval.kind, lines=lines,
        warehouse_id=warehouse.id if warehouse else None, warehouse=warehouse,
        free_return_shipping=approval.free_return_shipping,
        return_by=parse_rfc3339(approval.return_by) if approval.return_by else None,
        status="expected", inspection={}, exchange_status="", exchange_shipment_id="",
        created_at=now, updated_at=now)
    session.add(expectation)
    session.flush()
    if approval.kind == "exchange":
        _reserve_exchange(runtime, session, expectation, parcels, event_id)
    return expectation


def _exchange_lines(expectation: ReturnExpectation) -> list[reservations.Line]:
    need: dict[str, int] = {}
    for line in expectation.lines:
        sku = line.get("exchange_sku_id") or line["sku_id"]
        need[sku] = need.get(sku, 0) + line["quantity"]
    return [reservations.Line(s, q) for s, q in need.items()]


def _destination(session: Session, expectation: ReturnExpectation,
                 parcels: list[Shipment] | None = None) -> Shipment | None:
    parcels = parcels if parcels is not None else _shipments_of(session, expectation.order_id)
    return parcels[0] if parcels else None


def _reserve_exchange(runtime: Runtime, session: Session, expectation: ReturnExpectation,
                      parcels: list[Shipment], event_id: str) -> None:
    original = _destination(session, expectation, parcels)
    province = original.destination_province if original else (
        expectation.warehouse.province if expectation.warehouse else "")
    lines = _exchange_lines(expectation)
    key = exchange_key(expectation.request_id)
    try:
        with session.begin_nested():
            reservations.reserve(runtime, session, key, lines, province,
                                 caller=Caller("logistics-worker", event_id))
    except (ResourceExhausted, NotFound, FailedPrecondition, InvalidArgument) as err:
        log.info("exchange %s cannot be reserved: %s", expectation.request_id, err)
        expectation.exchange_status = "unavailable"
        _unavailable(runtime, session, expectation)
        return
    until = (expectation.return_by or _now()) + inspection_allowance()
    reservations.hold_until(session, key, until)
    expectation.exchange_status = "reserved"


def _unavailable(runtime: Runtime, session: Session, expectation: ReturnExpectation) -> None:
    runtime.emit(session, "exchange.unavailable", events.ExchangeUnavailable(
        request_id=expectation.request_id, order_id=expectation.order_id,
        member_id=expectation.member_id,
        lines=[events.ReturnLine(line_id=x["line_id"],
                                 sku_id=x.get("exchange_sku_id") or x["sku_id"],
                                 quantity=x["quantity"]) for x in expectation.lines]))


def closed(runtime: Runtime, session: Session, closing, event_id: str) -> ReturnExpectation:
    """From mall.events.v1.AfterSaleClosed: drops an open expectation and gives an exchange's
    held stock back. Heard before the approval: a closed row, so the approval changes nothing."""
    expectation = session.get(ReturnExpectation, closing.request_id, with_for_update=True)
    now = _now()
    if expectation is None:
        expectation = ReturnExpectation(
            request_id=closing.request_id, order_id=closing.order_id,
            member_id=closing.member_id, kind=closing.kind,
            lines=[{"line_id": x.line_id, "sku_id": x.sku_id, "product_id": x.product_id,
                    "quantity": int(x.quantity), "exchange_sku_id": x.exchange_sku_id,
                    "received": 0} for x in closing.lines],
            warehouse_id=None, free_return_shipping=False, return_by=None, status="closed",
            inspection={}, exchange_status="", exchange_shipment_id="",
            closed_reason=f"{closing.outcome}: {closing.reason}"[:200],
            created_at=now, updated_at=now)
        session.add(expectation)
        return expectation
    if expectation.status in OPEN:
        expectation.status = "closed"
        expectation.closed_reason = f"{closing.outcome}: {closing.reason}"[:200]
        expectation.updated_at = now
    if expectation.exchange_status == "reserved":
        try:
            reservations.release(runtime, session, exchange_key(expectation.request_id),
                                 f"after-sale {closing.outcome}",
                                 Caller("logistics-worker", event_id))
        except (NotFound, FailedPrecondition) as err:
            log.info("exchange %s had nothing held: %s", expectation.request_id, err)
        expectation.exchange_status, expectation.updated_at = "released", now
    return expectation


# --- BookReturn -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Booking:
    request_id: str
    own_waybill: bool
    carrier: str = ""
    waybill_no: str = ""
    pickup_at: str = ""


def _validate_booking(booking: Booking) -> datetime | None:
    v = Violations()
    v.check(bool(booking.request_id) and len(booking.request_id) <= 64, "request_id",
            "required", "request_id is required (at most 64 characters)")
    if booking.own_waybill:
        v.check(bool(booking.carrier), "carrier", "required",
                "say which carrier you sent it with, e.g. sf or zto")
        v.check(booking.carrier in OWN_CARRIERS or not booking.carrier, "carrier",
                "known", f"carriers are {', '.join(sorted(OWN_CARRIERS))}")
        v.check(bool(booking.waybill_no), "waybill_no", "required",
                "the tracking number on your receipt is required")
        v.check(6 <= len(booking.waybill_no) <= 40 and set(booking.waybill_no) <= WAYBILL_CHARS
                or not booking.waybill_no, "waybill_no", "format",
                "a tracking number is 6 to 40 letters, digits or dashes")
    else:
        v.check(not booking.waybill_no, "waybill_no", "own_only",
                "a waybill number is only sent with own_waybill (the carrier issues one)")
        v.check(booking.carrier in carriers.CARRIERS or not booking.carrier, "carrier",
                "known", f"carriers are {', '.join(sorted(carriers.CARRIERS))}")
    pickup = None
    if booking.pickup_at:
        try:
            pickup = parse_rfc3339(booking.pickup_at)
        except ValueError:
            v.add("pickup_at", "rfc3339", "pickup_at is a time like 2026-12-06T09:00:00+08:00")
    v.raise_if_any("the return booking is invalid")
    return pickup


def _mine(session: Session, request_id: str, member_id: str, lock: bool = False
          ) -> ReturnExpectation:
    expectation = session.get(ReturnExpectation, request_id, with_for_update=lock,
                              populate_existing=lock)
    if expectation is None or expectation.member_id != member_id:
        raise NotFound(f"no return expected for request {request_id!r}", [FieldViolation(
            "request_id", "exists", f"no return of yours is expected for {request_id!r}")])
    return expectation


def _bookable(expectation: ReturnExpectation) -> None:
    if expectation.status == "closed":
        raise FailedPrecondition(
            f"request {expectation.request_id} is closed ({expectation.closed_reason})",
            [FieldViolation("request_id", "open", "the after-sale request is closed: nothing "
                                                  "is to be sent back")])
    if expectation.status == "inspected":
        raise FailedPrecondition(
            f"the return of {expectation.request_id} was already received",
            [FieldViolation("request_id", "open", "the warehouse already received it")])
    if expectation.return_by is not None and _now() > expectation.return_by:
        raise FailedPrecondition(
            f"the return of {expectation.request_id} was due by {rfc3339(expectation.return_by)}",
            [FieldViolation("request_id", "return_by",
                            f"the parcel had to be sent by {rfc3339(expectation.return_by)}")])


def book_return(runtime: Runtime, member_id: str, booking: Booking) -> str:
    """Her own waybill, or a pick-up booked with the carrier (the HTTP call runs outside any
    transaction; the carrier answers the same waybill for the same orderId, so two racing
    bookings end with one waybill). Returns the request id (read it back)."""
    pickup = _validate_booking(booking)
    with runtime.transaction() as session:
        expectation = _mine(session, booking.request_id, member_id)
        if expectation.status == "booked":
            return expectation.request_id  # booked before: the same waybill
        _bookable(expectation)
        carrier, waybill = booking.carrier, booking.waybill_no
        merchant_pays = expectation.free_return_shipping
        if not booking.own_waybill:
            carrier = carrier or "sf"
            request = _return_request(session, expectation)
    if not booking.own_waybill:
        try:
            waybill = carriers.client(carrier).create_return_order(
                return_order_id(booking.request_id), *request,
                merchant_pays=merchant_pays, pickup_at=pickup)
        except fengqiao.CarrierError as err:
            log.warning("booking the return of %s with %s failed: %s", booking.request_id,
                        carrier, err)
            raise FailedPrecondition(
                f"{carriers.CARRIERS[carrier]} could not book the pick-up now: {err}",
                [FieldViolation("carrier", "available",
                                "the carrier did not take the booking; try again shortly or "
                                "send it yourself and give the tracking number")]) from err
    with runtime.transaction() as session:
        expectation = _mine(session, booking.request_id, member_id, lock=True)
        if expectation.status == "booked":  # a racing booking won
            return expectation.request_id
        _bookable(expectation)
        now = _now()
        expectation.status, expectation.carrier, expectation.waybill_no = "booked", carrier, waybill
        expectation.own_waybill, expectation.booked_at = booking.own_waybill, now
        expectation.updated_at = now
        if expectation.exchange_status == "reserved":  # the parcel travels: keep the hold
            reservations.hold_until(session, exchange_key(expectation.request_id),
                                    max(expectation.return_by or now, now)
                                    + inspection_allowance())
        runtime.emit(session, "return.booked", events.ReturnBooked(
            request_id=expectation.request_id, order_id=expectation.order_id,
            member_id=expectation.member_id, carrier=carrier, waybill_no=waybill,
            warehouse_code=expectation.warehouse.code if expectation.warehouse else "",
            own_waybill=booking.own_waybill, booked_at=rfc3339(now)))
        return expectation.request_id


def _return_request(session: Session, expectation: ReturnExpectation
                    ) -> tuple[dict, dict, list[tuple[str, int]]]:
    """(her address: the original order's sealed recipient, the warehouse, the cargo)."""
    original = _destination(session, expectation)
    warehouse = expectation.warehouse
    if original is None or warehouse is None or not original.recipient_sealed:
        raise FailedPrecondition(
            f"logistics holds no address to collect {expectation.request_id} from",
            [FieldViolation("own_waybill", "required",
                            "no pick-up address is known for this order: send it yourself and "
                            "give the carrier and tracking number")])
    private = shipments.recipient_of(original)
    shopper = {"contact": private["recipient"], "tel": private["phone"],
               "province": original.destination_province, "city": original.destination_city,
               "county": private["district"], "address": private["detail"]}
    home = {"contact": shipments.neutral_sender() if original.discreet
            else shipments.brand_sender(), "tel": shipments.sender_tel(),
            "province": warehouse.province, "city": warehouse.city,
            "county": warehouse.district, "address": warehouse.name}
    titles = {i["sku_id"]: i["title"] for i in original.items}
    cargo = [(shipments.MASKED_TITLE if original.discreet else titles.get(x["sku_id"])
              or x["sku_id"], x["quantity"]) for x in expectation.lines]
    return shopper, home, cargo


# --- ListReturns ----------------------------------------------------------------------------

def list_returns(session: Session, status: str, warehouse_code: str, request_id: str,
                 page_size: int, page_token: str) -> tuple[list[ReturnExpectation], str]:
    v = Violations()
    v.check(not status or status in ("expected", "booked", "inspected", "closed"), "status",
            "one_of", "status is expected, booked, inspected or closed (empty: the open ones)")
    v.raise_if_any("the returns query is invalid")
    size = paging.page_size(page_size)
    bound = paging.fingerprint("returns", status, warehouse_code, request_id)
    query = select(ReturnExpectation)
    query = query.where(ReturnExpectation.status == status) if status else query.where(
        ReturnExpectation.status.in_(OPEN))
    if warehouse_code:
        query = query.where(ReturnExpectation.warehouse_id
                            == warehouse_by_code(session, warehouse_code).id)
    if request_id:
        query = query.where(ReturnExpectation.request_id == request_id)
    if after := paging.decode("logistics", page_token, bound):
        created_at, rid = datetime.fromisoformat(after[0]), after[1]
        query = query.where(or_(ReturnExpectation.created_at < created_at,
                                (ReturnExpectation.created_at == created_at)
                                & (ReturnExpectation.request_id < rid)))
    rows = list(session.scalars(query.order_by(ReturnExpectation.created_at.desc(),
                                               ReturnExpectation.request_id.desc())
                                .limit(size + 1)))
    token = ""
    if len(rows) > size:
        rows = rows[:size]
        token = paging.encode("logistics", [rows[-1].created_at.isoformat(),
                                            rows[-1].request_id], bound)
    return rows, token


# --- InspectReturn --------------------------------------------------------------------------

@dataclass(frozen=True)
class Inspection:
    request_id: str
    lines: tuple[tuple[str, int], ...]      # (line_id, received)
    seal_intact: bool
    condition: str
    accepted: bool
    note: str = ""

    def fingerprint(self) -> str:
        return json.dumps([sorted(self.lines), self.seal_intact, self.condition, self.accepted,
                           self.note])


def _validate_inspection(inspection: Inspection, expectation: ReturnExpectation | None) -> None:
    v = Violations()
    v.check(bool(inspection.request_id), "request_id", "required", "request_id is required")
    v.check(inspection.condition in CONDITIONS, "condition", "one_of",
            f"condition is one of {', '.join(CONDITIONS)}, not {inspection.condition!r}")
    v.check(len(inspection.note) <= NOTE_MAX, "note", "length",
            f"the note has at most {NOTE_MAX} characters")
    v.check(inspection.accepted or bool(inspection.note.strip()), "note", "required",
            "say why the return is refused, e.g. 吊牌已拆、有穿着痕迹")
    expected = {x["line_id"]: x["quantity"] for x in (expectation.lines if expectation else [])}
    seen: set[str] = set()
    v.check(1 <= len(inspection.lines) <= 100, "lines", "size",
            "count the received units of each line (1 to 100 lines)")
    for i, (line_id, quantity) in enumerate(inspection.lines):
        if expectation is not None:
            v.check(line_id in expected, f"lines[{i}].line_id", "known",
                    f"line {line_id!r} is not part of this request")
        v.check(line_id not in seen, f"lines[{i}].line_id", "unique",
                f"line {line_id!r} is counted on an earlier line")
        seen.add(line_id)
        most = expected.get(line_id, 0)
        whole = isinstance(quantity, int) and not isinstance(quantity, bool)
        v.check(whole and 0 <= quantity <= max(most, 0) if expectation else whole and quantity >= 0,
                f"lines[{i}].quantity", "at_most_expected",
                f"received units are 0 to {most} (what the request sends back), not {quantity}")
    if inspection.accepted and inspection.lines:
        v.check(sum(q for _, q in inspection.lines) > 0, "lines", "something_received",
                "an accepted return received at least one unit")
    v.raise_if_any("the inspection is invalid")


def inspect(runtime: Runtime, session: Session, inspection: Inspection, inspector: str
            ) -> ReturnExpectation:
    expectation = session.get(ReturnExpectation, inspection.request_id, with_for_update=True) \
        if inspection.request_id else None
    if expectation is None:
        _validate_inspection(inspection, None)
        raise NotFound(f"no return expected for request {inspection.request_id!r}",
                       [FieldViolation("request_id", "exists",
                                       f"no return is expected for {inspection.request_id!r}")])
    if expectation.status == "inspected":  # a retry of the same inspection answers it again
        if expectation.inspection.get("fingerprint") == inspection.fingerprint():
            return expectation
        raise FailedPrecondition(
            f"the return of {inspection.request_id} was already inspected",
            [FieldViolation("request_id", "not_inspected",
                            "this return was inspected already; it is recorded once")])
    if expectation.status == "closed":
        raise FailedPrecondition(
            f"request {inspection.request_id} is closed ({expectation.closed_reason})",
            [FieldViolation("request_id", "open", "the after-sale request is closed")])
    _validate_inspection(inspection, expectation)
    if expectation.warehouse is None:
        raise FailedPrecondition("no warehouse takes this return back", [FieldViolation(
            "request_id", "warehouse", "no active warehouse: create one first")])
    received = dict(inspection.lines)
    sellable = inspection.condition == "as_new" and inspection.seal_intact
    if inspection.accepted and expectation.kind != "repair":
        # the returned SKUs and an exchange's new ones, locked together in the sorted order every
        # stock change uses: two exchanges crossing sizes never wait on each other in a circle
        touched = {x["sku_id"] for x in expectation.lines}
        if expectation.kind == "exchange":
            touched |= known_sku_ids(session, [x.sku_id for x in _exchange_lines(expectation)])
        for sku_id in sorted(touched):
            lock_sku(session, sku_id)
    restocked_to = "none"
    # a repair's goods are hers: they go back to her, never into stock
    if inspection.accepted and expectation.kind != "repair":
        restocked_to = "sellable" if sellable else "quarantine"
        _restock(runtime, session, expectation, received, sellable, inspector)
    now = _now()
    expectation.lines = [{**x, "received": received.get(x["line_id"], 0)}
                         for x in expectation.lines]
    expectation.inspection = {
        "accepted": inspection.accepted, "seal_intact": inspection.seal_intact,
        "condition": inspection.condition, "restocked_to": restocked_to,
        "lines": [[line_id, q] for line_id, q in inspection.lines],
        "inspected_by": inspector, "inspected_at": rfc3339(now), "note": inspection.note,
        "fingerprint": inspection.fingerprint()}
    expectation.status, expectation.updated_at = "inspected", now
    runtime.emit(session, "return.inspected", events.ReturnInspected(
        request_id=expectation.request_id, order_id=expectation.order_id,
        member_id=expectation.member_id, accepted=inspection.accepted,
        seal_intact=inspection.seal_intact, condition=inspection.condition,
        lines=[events.ReturnLine(line_id=x["line_id"], sku_id=x["sku_id"],
                                 quantity=x["received"]) for x in expectation.lines],
        restocked_to=restocked_to, inspected_by=inspector, inspected_at=rfc3339(now),
        note=inspection.note))
    if inspection.accepted and expectation.kind == "exchange":
        _ship_exchange(runtime, session, expectation, inspector)
    session.flush()
    return expectation


def _restock(runtime: Runtime, session: Session, expectation: ReturnExpectation,
             received: dict[str, int], sellable: bool, inspector: str) -> None:
    goods: dict[str, int] = {}
    for line in expectation.lines:
        if received.get(line["line_id"], 0) > 0:
            goods[line["sku_id"]] = goods.get(line["sku_id"], 0) + received[line["line_id"]]
    for sku_id in sorted(goods):
        lock_sku(session, sku_id)  # stock changes of a SKU are serialized, in sorted order
    now = _now()
    for sku_id, quantity in sorted(goods.items()):
        stock = stock_row(session, expectation.warehouse, sku_id)
        session.flush()
        session.refresh(stock)
        why = f"after-sale {expectation.request_id} returned ({'as new' if sellable else 'set aside'})"
        if sellable:
            stock.on_hand += quantity
        else:
            stock.quarantined += quantity
        stock.updated_at = now
        session.add(LedgerEntry(
            warehouse_id=stock.warehouse_id, sku_id=sku_id,
            kind="return" if sellable else "quarantine",
            quantity=quantity if sellable else 0, on_hand_after=stock.on_hand,
            reserved_change=0, reserved_after=stock.reserved,
            quarantine_change=0 if sellable else quantity, quarantined_after=stock.quarantined,
            order_id=expectation.order_id, actor_user_id=(inspector or "internal")[:64],
            reason=why[:500], request_id=expectation.request_id[:64], created_at=now))
    if sellable and goods:
        session.flush()
        availability.announce(runtime, session, sorted(goods))


def _ship_exchange(runtime: Runtime, session: Session, expectation: ReturnExpectation,
                   inspector: str) -> None:
    """Commits the exchange's hold (or holds again, if it lapsed) and plans its parcel to the
    original order's recipient; the booking timer (or InspectReturn right after) books it."""
    key = exchange_key(expectation.request_id)
    caller = Caller(inspector or "logistics", expectation.request_id)
    original = _destination(session, expectation)
    if original is None or not original.recipient_sealed:
        log.warning("exchange %s: no recipient known for order %s", expectation.request_id,
                    expectation.order_id)
        expectation.exchange_status = "unavailable"
        _unavailable(runtime, session, expectation)
        return
    private = shipments.recipient_of(original)
    held = session.get(Reservation, key)
    why = f"exchange of after-sale {expectation.request_id}"
    if held is not None and held.status == "held":
        allocations = reservations.commit(runtime, session, key, caller, why).allocations
    elif held is not None and held.status == "committed":
        allocations = reservations.Held.of(held).allocations
    else:
        again, short = reservations.reserve_again_and_commit(
            runtime, session, key, _exchange_lines(expectation), original.destination_province,
            caller, why)
        if short is not None:
            expectation.exchange_status = "unavailable"
            _unavailable(runtime, session, expectation)
            return
        allocations = reservations.Held.of(again).allocations
    order = shipments.PaidOrder(
        key, original.order_no, expectation.member_id,
        tuple(shipments.PaidLine(line.sku_id, line.quantity, _title(original, line.sku_id))
              for line in _exchange_lines(expectation)),
        {"recipient": private["recipient"], "phone": private["phone"],
         "province": original.destination_province, "city": original.destination_city,
         "district": private["district"], "detail": private["detail"]},
        original.discreet, original.priority)
    planned = shipments.plan(session, order, allocations)
    for parcel in planned:  # like a gift's parcel it moves no order: the request names the order
        parcel.order_id, parcel.aftersale_request_id = "", expectation.request_id
    expectation.exchange_status = "reserved"
    expectation.exchange_shipment_id = planned[0].id if planned else ""


def _title(original: Shipment, sku_id: str) -> str:
    for item in original.items:
        if item["sku_id"] == sku_id:
            return item["title"]
    return original.items[0]["title"] if original.items else ""


def exchange_booked(runtime: Runtime, session: Session, shipment: Shipment) -> None:
    """The replacement's waybill was booked (shipments.book_pending): exchange.shipped, once."""
    expectation = session.get(ReturnExpectation, shipment.aftersale_request_id,
                              with_for_update=True)
    if expectation is None or expectation.exchange_status == "shipped":
        return
    expectation.exchange_status, expectation.updated_at = "shipped", _now()
    runtime.emit(session, "exchange.shipped", events.ExchangeShipped(
        request_id=expectation.request_id, order_id=expectation.order_id,
        member_id=expectation.member_id, shipment_id=shipment.id, carrier=shipment.carrier,
        waybill_no=shipment.waybill_no or "",
        lines=[events.ReturnLine(line_id=x["line_id"],
                                 sku_id=x.get("exchange_sku_id") or x["sku_id"],
                                 quantity=x["quantity"]) for x in expectation.lines],
        shipped_at=rfc3339(_now())))


def quarantined(session: Session, warehouse_id: int, sku_id: str) -> int:
    stock = session.get(Stock, (warehouse_id, sku_id))
    return stock.quarantined if stock else 0
