"""Stock held for orders: reserve (allocated to warehouses by the shipping address), release,
commit, and expiry of holds nobody committed or released.

Concurrency: every change of a SKU's stock locks the SKU's registry row first (skus.lock_sku),
and a reservation of several SKUs locks them in sorted order, so two orders never wait on each
other in a circle. Under those locks the stock rows are read fresh and the plan is made on what
is really sellable; the CHECK constraints of `stock` back it up. A cheap unlocked look first
turns away orders that cannot be filled anyway, so a sold-out SKU does not queue every buyer on
its lock.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from servicekit import idempotency
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

from . import availability, provinces
from .allocation import Candidate, Plan, allocate
from .models import Allocation, LedgerEntry, Reservation, Stock, Warehouse
from .skus import known_sku_ids, lock_sku, unknown_skus
from .stock import MAX_QUANTITY, Caller

log = logging.getLogger(__name__)

MAX_LINES = 100
HOLD_RANGE = (60, 86_400)


@dataclass(frozen=True)
class Line:
    sku_id: str
    quantity: int


def default_hold_seconds() -> int:
    return env_int("RESERVATION_HOLD_SECONDS", 35 * 60, "logistics")


def _fingerprint(lines: list[Line]) -> str:
    body = json.dumps(sorted((line.sku_id, line.quantity) for line in lines))
    return hashlib.sha256(body.encode()).hexdigest()


def _validate(order_id: str, lines: list[Line], province: str, hold_seconds: int | None) -> str:
    """Every problem at once; returns the province's key in the capitals table."""
    v = Violations()
    v.check(bool(order_id) and len(order_id) <= 64, "order_id", "required",
            "order_id is required (at most 64 characters)")
    v.check(1 <= len(lines) <= MAX_LINES, "lines", "size",
            f"an order reserves 1 to {MAX_LINES} lines, not {len(lines)}")
    seen: set[str] = set()
    for i, line in enumerate(lines):
        v.check(bool(line.sku_id), f"lines[{i}].sku_id", "required", "a SKU id is required")
        v.check(line.sku_id not in seen, f"lines[{i}].sku_id", "unique",
                f"SKU {line.sku_id!r} is on an earlier line: put its quantities on one line")
        seen.add(line.sku_id)
        whole = isinstance(line.quantity, int) and not isinstance(line.quantity, bool)
        v.check(whole and 1 <= line.quantity <= MAX_QUANTITY, f"lines[{i}].quantity",
                "whole_units", f"quantity must be a whole number of units between 1 and "
                               f"{MAX_QUANTITY}, not {line.quantity!r}")
    key = provinces.short_name(province)
    if not (province or "").strip():
        v.add("shipping_address.province", "required",
              "the shipping address needs its province (e.g. 广东省): it chooses the warehouse")
    elif key is None:
        v.add("shipping_address.province", "known",
              f"{province!r} is not a province of China; use one of "
              + "、".join(provinces.CAPITALS) + " (with or without 省/市/自治区)")
    if hold_seconds is not None:
        v.check(HOLD_RANGE[0] <= hold_seconds <= HOLD_RANGE[1], "hold_seconds", "range",
                f"hold_seconds must be between {HOLD_RANGE[0]} and {HOLD_RANGE[1]}, "
                f"not {hold_seconds}")
    v.raise_if_any("the reservation is invalid")
    return key or ""


@dataclass(frozen=True)
class Held:
    """What a caller sees of a reservation."""
    order_id: str
    status: str
    allocations: list[tuple[str, str, int]]   # (warehouse code, sku_id, quantity)
    expires_at: datetime
    lines: list[dict]
    reason: str = ""

    @classmethod
    def of(cls, r: Reservation) -> "Held":
        return cls(r.order_id, r.status, [(a.warehouse.code, a.sku_id, a.quantity)
                                          for a in r.allocations],
                   r.expires_at, r.lines, r.reason)


@dataclass
class _Shelf:
    """One stock row as the hot path reads it (plain values, no ORM object)."""
    warehouse_id: int
    sku_id: str
    on_hand: int
    reserved: int
    safety_stock: int
    low_stock_threshold: int

    @property
    def sellable(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


@dataclass
class _Shelves:
    """Every stock row of the SKUs in active warehouses (read fresh), and the candidates."""
    rows: dict[tuple[str, str], _Shelf]   # (warehouse code, sku_id) -> row
    candidates: list[Candidate]


# Built once: reservations are the hottest path of the service, and SQLAlchemy caches the
# compiled form of a statement object it has seen.
_STOCK, _WAREHOUSE = Stock.__table__, Warehouse.__table__
_FREE = _STOCK.c.on_hand - _STOCK.c.reserved - _STOCK.c.safety_stock
_STOCK_IN_WAREHOUSES = _STOCK.join(_WAREHOUSE, _WAREHOUSE.c.id == _STOCK.c.warehouse_id)
_OF_THESE_SKUS_IN_ACTIVE_WAREHOUSES = (_STOCK.c.sku_id.in_(bindparam("sku_ids", expanding=True)),
                                       _WAREHOUSE.c.active.is_(True))
_EXISTING = select(Reservation.__table__.c.fingerprint).where(
    Reservation.__table__.c.order_id == bindparam("order_id"))
_TOTALS = (select(_STOCK.c.sku_id, func.sum(case((_FREE > 0, _FREE), else_=0)))
           .select_from(_STOCK_IN_WAREHOUSES).where(*_OF_THESE_SKUS_IN_ACTIVE_WAREHOUSES)
           .group_by(_STOCK.c.sku_id))
_SHELVES = (select(_STOCK.c.warehouse_id, _STOCK.c.sku_id, _STOCK.c.on_hand, _STOCK.c.reserved,
                   _STOCK.c.safety_stock, _STOCK.c.low_stock_threshold, _WAREHOUSE.c.code,
                   _WAREHOUSE.c.latitude, _WAREHOUSE.c.longitude, _WAREHOUSE.c.priority)
            .select_from(_STOCK_IN_WAREHOUSES).where(*_OF_THESE_SKUS_IN_ACTIVE_WAREHOUSES))
# Conditional even under the SKU lock: the database has the last word on what is sellable.
_TAKE = (update(_STOCK)
         .where(_STOCK.c.warehouse_id == bindparam("w"), _STOCK.c.sku_id == bindparam("s"),
                _FREE >= bindparam("q"))
         .values(reserved=_STOCK.c.reserved + bindparam("q"), updated_at=bindparam("now"))
         .returning(_STOCK.c.on_hand, _STOCK.c.reserved))


def _shelves(session: Session, need: dict[str, int], province_key: str) -> _Shelves:
    rows: dict[tuple[str, str], _Shelf] = {}
    sellable: dict[str, dict[str, int]] = {}
    places: dict[str, tuple[float, float, int]] = {}
    for r in session.execute(_SHELVES, {"sku_ids": list(need)}):
        shelf = _Shelf(r.warehouse_id, r.sku_id, r.on_hand, r.reserved, r.safety_stock,
                       r.low_stock_threshold)
        rows[(r.code, r.sku_id)] = shelf
        sellable.setdefault(r.code, {})[r.sku_id] = shelf.sellable
        places[r.code] = (r.latitude, r.longitude, r.priority)
    return _Shelves(rows, [Candidate(code, provinces.distance_km(province_key, lat, lon),
                                     priority, sellable[code])
                           for code, (lat, lon, priority) in places.items()])


def _shortage(plan: Plan, lines: list[Line]) -> ResourceExhausted:
    violations = [
        FieldViolation(f"lines[{i}].quantity", "in_stock",
                       f"SKU {line.sku_id}: {line.quantity} asked, "
                       f"{line.quantity - plan.shortfall[line.sku_id]} can be sold; "
                       f"{plan.shortfall[line.sku_id]} missing")
        for i, line in enumerate(lines) if line.sku_id in plan.shortfall]
    return ResourceExhausted("not enough stock: " + "; ".join(v.description for v in violations),
                             violations)


def _same_or_refuse(existing: Reservation, fingerprint: str) -> Held:
    """A retried Reserve (keyed by its order id) gets the hold it made, for exactly the same lines."""
    return Held.of(idempotency.replay(existing, key=existing.order_id,
                                      same=existing.fingerprint == fingerprint, field="order_id"))


def _plan_locked(session: Session, need: dict[str, int], province_key: str,
                 lines: list[Line]) -> tuple[Plan, _Shelves]:
    for sku_id in sorted(need):  # a fixed order: no two reservations wait on each other
        lock_sku(session, sku_id)
    shelves = _shelves(session, need, province_key)
    plan = allocate(need, shelves.candidates)
    if not plan.ok:
        raise _shortage(plan, lines)
    return plan, shelves


def _write_ledger(session: Session, caller: Caller, stock: Stock, kind: str, order_id: str,
                  on_hand_change: int, reserved_change: int, reason: str) -> None:
    session.add(LedgerEntry(**_ledger_row(caller, stock.warehouse_id, stock.sku_id, kind,
                                          order_id, on_hand_change, stock.on_hand,
                                          reserved_change, stock.reserved, reason)))


def _ledger_row(caller: Caller, warehouse_id: int, sku_id: str, kind: str, order_id: str,
                on_hand_change: int, on_hand_after: int, reserved_change: int,
                reserved_after: int, reason: str) -> dict:
    return dict(warehouse_id=warehouse_id, sku_id=sku_id, kind=kind, quantity=on_hand_change,
                on_hand_after=on_hand_after, reserved_change=reserved_change,
                reserved_after=reserved_after, order_id=order_id,
                # the saga sends the shopper's id; an internal call without one still says so
                actor_user_id=(caller.user_id or "internal")[:64], reason=reason[:500],
                request_id=caller.request_id[:64], created_at=datetime.now(timezone.utc))


def _hold(session: Session, caller: Caller, order_id: str, plan: Plan,
          shelves: _Shelves, why: str = "") -> list[tuple[str, str, int]]:
    """Moves the plan's units into `reserved`, records the allocations and their ledger
    entries (plain statements: this runs under the SKU lock, so it is kept short)."""
    now = datetime.now(timezone.utc)
    allocations, entries = [], []
    for code, sku_id, quantity in plan.allocations:
        shelf = shelves.rows[(code, sku_id)]
        after = session.execute(_TAKE, {"w": shelf.warehouse_id, "s": sku_id, "q": quantity,
                                        "now": now}).one_or_none()
        if after is None:  # cannot happen under the SKU lock; refuse rather than oversell
            raise ResourceExhausted(f"{code} no longer has {quantity} of {sku_id}")
        shelf.on_hand, shelf.reserved = after
        allocations.append({"order_id": order_id, "warehouse_id": shelf.warehouse_id,
                            "sku_id": sku_id, "quantity": quantity})
        entries.append(_ledger_row(caller, shelf.warehouse_id, sku_id, "reservation", order_id,
                                   0, shelf.on_hand, quantity, shelf.reserved,
                                   why or f"held for order {order_id}"))
    session.execute(insert(Allocation.__table__), allocations)
    session.execute(insert(LedgerEntry.__table__), entries)
    return list(plan.allocations)


def reserve(runtime: Runtime, session: Session, order_id: str, lines: list[Line],
            province: str, hold_seconds: int | None = None,
            caller: Caller | None = None) -> Held:
    caller = caller or Caller.current()
    province_key = _validate(order_id, lines, province, hold_seconds)
    fingerprint = _fingerprint(lines)
    if session.execute(_EXISTING, {"order_id": order_id}).first() is not None:
        return _same_or_refuse(session.get(Reservation, order_id), fingerprint)
    need = {line.sku_id: line.quantity for line in lines}
    # Unlocked first look: stale figures can only be too high under a rush of reservations, and
    # the locked pass below decides; a sold-out SKU turns buyers away without its lock.
    totals = dict(session.execute(_TOTALS, {"sku_ids": list(need)}).all())
    if len(totals) < len(need):  # no stock row anywhere: maybe a SKU nobody registered
        known = known_sku_ids(session, list(need))
        unknown = [(f"lines[{i}].sku_id", line.sku_id) for i, line in enumerate(lines)
                   if line.sku_id not in known]
        if unknown:
            raise unknown_skus(unknown)
    short = {sku: qty - totals.get(sku, 0) for sku, qty in need.items()
             if totals.get(sku, 0) < qty}
    if short:
        raise _shortage(Plan([], short), lines)
    plan, shelves = _plan_locked(session, need, province_key, lines)
    # A retry of this very order may have won the locks first.
    if session.execute(_EXISTING, {"order_id": order_id}).first() is not None:
        return _same_or_refuse(session.get(Reservation, order_id), fingerprint)
    now = datetime.now(timezone.utc)
    expires_at = now + timedelta(seconds=hold_seconds or default_hold_seconds())
    stored_lines = [{"sku_id": line.sku_id, "quantity": line.quantity} for line in lines]
    session.execute(insert(Reservation.__table__), [{
        "order_id": order_id, "status": "held", "fingerprint": fingerprint,
        "lines": stored_lines, "province": province_key, "reason": "", "shortfall": [],
        "created_at": now, "updated_at": now, "expires_at": expires_at}])
    allocations = _hold(session, caller, order_id, plan, shelves)
    availability.announce(runtime, session, list(need), list(shelves.rows.values()))
    return Held(order_id, "held", allocations, expires_at, stored_lines)


def get(session: Session, order_id: str) -> Held:
    return Held.of(_found(session.get(Reservation, order_id) if order_id else None, order_id))


def _locked(session: Session, order_id: str) -> Reservation:
    return _found(session.scalar(select(Reservation).where(Reservation.order_id == order_id)
                                 .with_for_update().execution_options(populate_existing=True)),
                  order_id)


def _found(reservation: Reservation | None, order_id: str) -> Reservation:
    if reservation is None:
        raise NotFound(f"no reservation for order {order_id!r}",
                       [FieldViolation("order_id", "exists",
                                       f"order {order_id!r} has no reservation")])
    return reservation


def _lock_skus_of(session: Session, reservation: Reservation) -> list[str]:
    sku_ids = sorted({a.sku_id for a in reservation.allocations})
    for sku_id in sku_ids:
        lock_sku(session, sku_id)
    return sku_ids


def _give_back(runtime: Runtime, session: Session, caller: Caller, reservation: Reservation,
               status: str, reason: str) -> None:
    sku_ids = _lock_skus_of(session, reservation)
    for a in reservation.allocations:
        stock = session.get(Stock, (a.warehouse_id, a.sku_id), populate_existing=True)
        stock.reserved -= a.quantity
        stock.updated_at = datetime.now(timezone.utc)
        _write_ledger(session, caller, stock, "release", reservation.order_id, 0, -a.quantity,
                      f"{status} for order {reservation.order_id}: {reason}")
    reservation.status, reservation.reason = status, reason[:200]
    reservation.updated_at = datetime.now(timezone.utc)
    availability.announce(runtime, session, sku_ids)


def release(runtime: Runtime, session: Session, order_id: str, reason: str = "",
            caller: Caller | None = None) -> Held:
    caller = caller or Caller.current()
    v = Violations()
    v.check(bool(order_id), "order_id", "required", "order_id is required")
    v.check(len(reason) <= 200, "reason", "length", "the reason has at most 200 characters")
    v.raise_if_any("the release is invalid")
    reservation = _locked(session, order_id)
    if reservation.status in ("released", "expired"):
        return Held.of(reservation)  # released before: nothing more to give back
    if reservation.status == "committed":
        raise FailedPrecondition(
            f"order {order_id}'s stock was committed (paid); it is no longer held",
            [FieldViolation("order_id", "held", "only held stock can be released; goods of a "
                                                "paid order come back through a return")])
    _give_back(runtime, session, caller, reservation, "released", reason or "released")
    return Held.of(reservation)


def commit(runtime: Runtime, session: Session, order_id: str,
           caller: Caller | None = None, why: str = "") -> Held:
    """`why`: the ledger's reason, "order <id> paid" unless told otherwise."""
    caller = caller or Caller.current()
    if not order_id:
        raise InvalidArgument.field("order_id", "required", "order_id is required")
    reservation = _locked(session, order_id)
    if reservation.status == "committed":
        return Held.of(reservation)
    if reservation.status in ("released", "expired"):
        raise FailedPrecondition(
            f"order {order_id}'s reservation was {reservation.status} ({reservation.reason})",
            [FieldViolation("order_id", "held",
                            f"the stock is no longer held ({reservation.status}); reserve again")])
    _lock_skus_of(session, reservation)  # stock changes of a SKU are serialized
    for a in reservation.allocations:
        stock = session.get(Stock, (a.warehouse_id, a.sku_id), populate_existing=True)
        stock.on_hand -= a.quantity  # the goods now belong to the order's shipment
        stock.reserved -= a.quantity
        stock.updated_at = datetime.now(timezone.utc)
        _write_ledger(session, caller, stock, "commit", order_id, -a.quantity, -a.quantity,
                      why or f"order {order_id} paid")
    reservation.status, reservation.updated_at = "committed", datetime.now(timezone.utc)
    # Nothing to announce: on hand and reserved fall together, so what can be sold is unchanged
    # (an announcement here was one more event per paid order for three consumers).
    return Held.of(reservation)


def reserve_again_and_commit(runtime: Runtime, session: Session, order_id: str,
                             lines: list[Line], province: str, caller: Caller, why: str = ""
                             ) -> tuple[Reservation, Plan | None]:
    """For a paid order whose hold lapsed (or never reached us): holds and commits at once.
    Returns the reservation and, when stock is short, the failed plan (nothing is held then).
    A paid order may list a SKU twice (a gift of something also bought): lines are merged."""
    need: dict[str, int] = {}
    for line in lines:
        need[line.sku_id] = need.get(line.sku_id, 0) + line.quantity
    province_key = _validate(order_id, [Line(s, q) for s, q in need.items()], province, None)
    reservation = session.get(Reservation, order_id)
    now = datetime.now(timezone.utc)
    if reservation is None:
        reservation = Reservation(
            order_id=order_id, status="released", fingerprint=_fingerprint(lines),
            lines=[{"sku_id": s, "quantity": q} for s, q in need.items()],
            province=province_key, reason="paid without a reservation", shortfall=[],
            created_at=now, updated_at=now, expires_at=now)
        session.add(reservation)
    merged = [Line(s, q) for s, q in need.items()]
    unknown = set(need) - known_sku_ids(session, list(need))
    try:
        if unknown:  # goods nobody registered cannot be shipped: all of them are missing
            raise ResourceExhausted("unknown SKUs")
        with session.begin_nested():
            plan, shelves = _plan_locked(session, need, province_key, merged)
    except ResourceExhausted:
        plan = allocate(need, _shelves(session, need, province_key).candidates)
        missing = {**plan.shortfall, **{s: need[s] for s in unknown}}
        plan = Plan([], missing)
        reservation.shortfall = [{"sku_id": s, "requested": need[s], "missing": m}
                                 for s, m in missing.items()]
        reservation.updated_at = now
        return reservation, plan
    reservation.allocations.clear()
    reservation.status, reservation.shortfall = "held", []
    session.flush()
    _hold(session, caller, order_id, plan, shelves, why)
    session.expire_all()  # the hold was written by plain statements: read it back fresh
    commit(runtime, session, order_id, caller, why)
    return session.get(Reservation, order_id), None


def hold_until(session: Session, order_id: str, until: datetime) -> Reservation | None:
    """A pre-sale order's deposit was paid (order.deposit_paid): its held stock stays held until
    `until` (its balance window closed), never shortened, so the expiry timer leaves it while the
    order waits for its balance. One that lapsed meanwhile stays lapsed: order.paid reserves
    again (or records the shortfall), as for any paid order whose hold lapsed."""
    reservation = session.get(Reservation, order_id, with_for_update=True)
    if reservation is None or reservation.status != "held":
        log.warning("order %s paid its deposit but its stock is %s", order_id,
                    reservation.status if reservation is not None else "not reserved")
        return reservation
    if reservation.expires_at < until:
        reservation.expires_at, reservation.updated_at = until, datetime.now(timezone.utc)
    return reservation


def expire_due(runtime: Runtime, now: datetime | None = None, limit: int = 200) -> int:
    """Expires held reservations past their time, one transaction each (short, and never
    holding two reservations' SKU locks at once). Replicas skip each other's rows."""
    now = now or datetime.now(timezone.utc)
    caller = Caller("logistics-worker", "reservation-expiry")
    expired = 0
    for _ in range(limit):
        with runtime.transaction() as session:
            reservation = session.scalar(
                select(Reservation)
                .where(Reservation.status == "held", Reservation.expires_at <= now)
                .order_by(Reservation.expires_at).limit(1)
                .with_for_update(skip_locked=True))
            if reservation is None:
                break
            _give_back(runtime, session, caller, reservation, "expired", "hold expired unpaid")
            expired += 1
    if expired:
        log.info("expired %s reservations", expired)
    return expired
