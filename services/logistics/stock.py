"""Stock changes. Every change of on-hand stock writes a ledger entry (who, why, how much, what
was left) and announces the new availability, all in the caller's transaction; a change that
would leave on-hand stock below zero is refused before anything is written.

Changes honour a client's idempotency key (servicekit.idempotency.run_once, which remembers the
ledger entries a change wrote): the retry of a change that was done returns it again (`replayed`)
and changes nothing; the same key on a different request is refused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit import context, idempotency
from servicekit.errors import FailedPrecondition, FieldViolation, NotFound, Violations
from servicekit.runtime import Runtime

from . import availability
from .models import LedgerEntry, Stock, Warehouse
from .skus import known_sku_ids, lock_sku, unknown_skus
from .warehouses import warehouse_by_code

MAX_QUANTITY = 1_000_000
ADJUSTMENT_KINDS = ("count_correction", "damage")


@dataclass
class StockChange:
    stocks: list[Stock]
    entries: list[LedgerEntry]
    replayed: bool = False


@dataclass(frozen=True)
class Caller:
    user_id: str
    request_id: str
    idempotency_key: str = ""

    @classmethod
    def current(cls) -> "Caller":
        ctx = context.current()
        return cls(ctx.user_id, ctx.request_id, ctx.idempotency_key)


@dataclass
class _Check:
    """Validates the fields of one request together, so the caller sees every problem at once."""
    violations: Violations = field(default_factory=Violations)

    def required(self, name: str, value: str, example: str) -> None:
        self.violations.check(bool(value), name, "required", f"{name} is required, e.g. {example}")

    def quantity(self, name: str, value, *, signed: bool = False) -> None:
        whole = isinstance(value, int) and not isinstance(value, bool)
        if signed:
            ok = whole and value != 0 and abs(value) <= MAX_QUANTITY
            wanted = f"a non-zero whole number between -{MAX_QUANTITY} and {MAX_QUANTITY}"
        else:
            ok = whole and 1 <= value <= MAX_QUANTITY
            wanted = f"a whole number of units between 1 and {MAX_QUANTITY}"
        self.violations.check(ok, name, "whole_units", f"{name} must be {wanted}, not {value!r}")

    def reason(self, value: str, *, required: bool) -> None:
        if required:
            self.violations.check(bool(value.strip()), "reason", "required",
                                  "say why the stock changed, e.g. 盘点差异 or 水渍破损")
        self.violations.check(len(value) <= 500, "reason", "length",
                              "the reason has at most 500 characters")

    def done(self) -> None:
        self.violations.raise_if_any("the stock change is invalid")


@dataclass(frozen=True)
class _Written:
    """What a keyed change leaves for its retries: the ids of the ledger entries it wrote (JSON)."""
    entry_ids: list[int]

    def SerializeToString(self) -> bytes:
        return json.dumps(self.entry_ids).encode()

    @classmethod
    def FromString(cls, data: bytes) -> "_Written":
        return cls(json.loads(data))


def _once(session: Session, caller: Caller, operation: str, request: dict,
          change: Callable[[], StockChange]) -> StockChange:
    """`change()` once per idempotency key; a retry gets the entries it wrote and today's stock."""
    made: list[StockChange] = []

    def work() -> _Written:
        made.append(change())
        return _Written([e.id for e in made[0].entries])

    written = idempotency.run_once(session, scope=f"stock.{operation}", key=caller.idempotency_key,
                                   request=[operation, request], response_type=_Written, work=work)
    if made:
        return made[0]
    entries = list(session.scalars(select(LedgerEntry)
                                   .where(LedgerEntry.id.in_(written.entry_ids))
                                   .order_by(LedgerEntry.id)))
    stocks = [session.get(Stock, (e.warehouse_id, e.sku_id)) for e in entries]
    return StockChange(stocks, entries, replayed=True)


def _resolve(session: Session, warehouse_fields: list[tuple[str, str]], sku_id: str
             ) -> list[Warehouse]:
    """The warehouses named, and the SKU locked; one NOT_FOUND naming every unknown field."""
    found, missing = [], []
    for name, code in warehouse_fields:
        try:
            found.append(warehouse_by_code(session, code, name))
        except NotFound as err:
            missing += err.violations
    try:
        lock_sku(session, sku_id)
    except NotFound as err:
        missing += err.violations
    if missing:
        raise NotFound("; ".join(v.description for v in missing), missing)
    return found


def stock_row(session: Session, warehouse: Warehouse, sku_id: str) -> Stock:
    stock = session.get(Stock, (warehouse.id, sku_id))
    if stock is None:
        stock = Stock(warehouse_id=warehouse.id, sku_id=sku_id, on_hand=0, reserved=0,
                      safety_stock=0,
                      low_stock_threshold=availability.default_low_stock_threshold(),
                      updated_at=datetime.now(timezone.utc))
        stock.warehouse = warehouse
        session.add(stock)
    return stock


def _book(session: Session, caller: Caller, stock: Stock, kind: str, quantity: int,
          reason: str, delta_field: str) -> LedgerEntry:
    """Changes on_hand by `quantity` and writes its ledger entry; never below zero."""
    after = stock.on_hand + quantity
    if after < 0:
        raise FailedPrecondition(
            f"{stock.warehouse.code} has {stock.on_hand} of {stock.sku_id} on hand; "
            f"a change of {quantity} would leave {after}",
            [FieldViolation(delta_field, "not_below_zero",
                            f"on hand is {stock.on_hand}: the stock can go down by at most "
                            f"{stock.on_hand}")])
    if quantity < 0 and after < stock.reserved:
        # Reserved goods are promised to orders that will be shipped: taking them away would
        # oversell. Release those orders (or move stock in) first.
        raise FailedPrecondition(
            f"{stock.warehouse.code} holds {stock.reserved} of {stock.sku_id} for orders; "
            f"a change of {quantity} would leave {after} on hand",
            [FieldViolation(delta_field, "not_below_reserved",
                            f"{stock.reserved} of the {stock.on_hand} on hand are reserved for "
                            f"orders: the stock can go down by at most "
                            f"{stock.on_hand - stock.reserved}")])
    now = datetime.now(timezone.utc)
    stock.on_hand, stock.updated_at = after, now
    entry = LedgerEntry(warehouse_id=stock.warehouse_id, sku_id=stock.sku_id, kind=kind,
                        quantity=quantity, on_hand_after=after,
                        actor_user_id=caller.user_id[:64], reason=reason,
                        request_id=caller.request_id[:64], created_at=now)
    entry.warehouse = stock.warehouse
    session.add(entry)
    return entry


def receive_stock(runtime: Runtime, session: Session, warehouse_code: str, sku_id: str,
                  quantity: int, reason: str = "", caller: Caller | None = None) -> StockChange:
    caller = caller or Caller.current()
    check = _Check()
    check.required("warehouse_code", warehouse_code, "SH-EAST")
    check.required("sku_id", sku_id, "the SKU id from catalog")
    check.quantity("quantity", quantity)
    check.reason(reason, required=False)
    check.done()
    (warehouse,) = _resolve(session, [("warehouse_code", warehouse_code)], sku_id)

    def change() -> StockChange:
        stock = stock_row(session, warehouse, sku_id)
        entry = _book(session, caller, stock, "receipt", quantity, reason, "quantity")
        session.flush()
        availability.announce(runtime, session, [sku_id])
        return StockChange([stock], [entry])

    return _once(session, caller, "receive",
                 dict(warehouse=warehouse_code, sku=sku_id, qty=quantity, reason=reason), change)


def adjust_stock(runtime: Runtime, session: Session, warehouse_code: str, sku_id: str,
                 kind: str, delta: int, reason: str, caller: Caller | None = None
                 ) -> StockChange:
    caller = caller or Caller.current()
    check = _Check()
    check.required("warehouse_code", warehouse_code, "SH-EAST")
    check.required("sku_id", sku_id, "the SKU id from catalog")
    check.violations.check(kind in ADJUSTMENT_KINDS, "kind", "one_of",
                           "kind must be COUNT_CORRECTION or DAMAGE (receipts use ReceiveStock, "
                           "moves use TransferStock)")
    check.quantity("delta", delta, signed=True)
    if kind == "damage" and isinstance(delta, int):
        check.violations.check(delta < 0, "delta", "negative",
                               f"damaged goods leave the stock: delta must be below zero, "
                               f"not {delta}")
    check.reason(reason, required=True)
    check.done()
    (warehouse,) = _resolve(session, [("warehouse_code", warehouse_code)], sku_id)

    def change() -> StockChange:
        stock = stock_row(session, warehouse, sku_id)
        entry = _book(session, caller, stock, kind, delta, reason, "delta")
        session.flush()
        availability.announce(runtime, session, [sku_id])
        return StockChange([stock], [entry])

    return _once(session, caller, "adjust", dict(warehouse=warehouse_code, sku=sku_id, kind=kind,
                                                 delta=delta, reason=reason), change)


def transfer_stock(runtime: Runtime, session: Session, from_code: str, to_code: str,
                   sku_id: str, quantity: int, reason: str = "",
                   caller: Caller | None = None) -> StockChange:
    caller = caller or Caller.current()
    check = _Check()
    check.required("from_warehouse_code", from_code, "SH-EAST")
    check.required("to_warehouse_code", to_code, "GZ-SOUTH")
    if from_code and to_code:
        check.violations.check(from_code != to_code, "to_warehouse_code", "different",
                               "a transfer goes to another warehouse than it comes from")
    check.required("sku_id", sku_id, "the SKU id from catalog")
    check.quantity("quantity", quantity)
    check.reason(reason, required=False)
    check.done()
    source, target = _resolve(session, [("from_warehouse_code", from_code),
                                        ("to_warehouse_code", to_code)], sku_id)

    def change() -> StockChange:
        out_of, into = stock_row(session, source, sku_id), stock_row(session, target, sku_id)
        movable = out_of.on_hand - out_of.reserved  # reserved goods are promised to orders: they stay
        if quantity > movable:
            raise FailedPrecondition(
                f"{from_code} can move at most {max(0, movable)} of {sku_id}",
                [FieldViolation("quantity", "at_most_unreserved",
                                f"{from_code} has {out_of.on_hand} on hand of which "
                                f"{out_of.reserved} reserved: at most {max(0, movable)} can move")])
        entries = [_book(session, caller, out_of, "transfer", -quantity,
                         f"to {to_code}: {reason}".rstrip(": "), "quantity"),
                   _book(session, caller, into, "transfer", quantity,
                         f"from {from_code}: {reason}".rstrip(": "), "quantity")]
        session.flush()
        availability.announce(runtime, session, [sku_id])
        return StockChange([out_of, into], entries)

    return _once(session, caller, "transfer", dict(source=from_code, target=to_code, sku=sku_id,
                                                   qty=quantity, reason=reason), change)


def set_stock_policy(runtime: Runtime, session: Session, warehouse_code: str, sku_id: str,
                     safety_stock: int, low_stock_threshold: int) -> Stock:
    check = _Check()
    check.required("warehouse_code", warehouse_code, "SH-EAST")
    check.required("sku_id", sku_id, "the SKU id from catalog")
    for name, value in (("safety_stock", safety_stock),
                        ("low_stock_threshold", low_stock_threshold)):
        check.violations.check(isinstance(value, int) and 0 <= value <= MAX_QUANTITY, name,
                               "range", f"{name} must be a whole number between 0 and "
                                        f"{MAX_QUANTITY}, not {value!r}")
    check.done()
    (warehouse,) = _resolve(session, [("warehouse_code", warehouse_code)], sku_id)
    stock = stock_row(session, warehouse, sku_id)
    stock.safety_stock, stock.low_stock_threshold = safety_stock, low_stock_threshold
    stock.updated_at = datetime.now(timezone.utc)
    availability.announce(runtime, session, [sku_id])
    return stock


def _sku_list(session: Session, sku_ids: list[str]) -> list[str]:
    check = _Check()
    wanted = list(dict.fromkeys(sku_ids))
    check.violations.check(1 <= len(wanted) <= 200, "sku_ids", "size",
                           f"ask for 1 to 200 SKUs at a time, not {len(wanted)}")
    for i, sku_id in enumerate(sku_ids):
        check.violations.check(bool(sku_id), f"sku_ids[{i}]", "required", "a SKU id is empty")
    check.done()
    known = known_sku_ids(session, wanted)
    unknown = [(f"sku_ids[{i}]", sku_id) for i, sku_id in enumerate(sku_ids)
               if sku_id not in known]
    if unknown:
        raise unknown_skus(unknown)
    return wanted


def get_stock(session: Session, sku_ids: list[str]) -> list[tuple[str, list[Stock]]]:
    wanted = _sku_list(session, sku_ids)
    rows = session.scalars(select(Stock).join(Warehouse).where(Stock.sku_id.in_(wanted))
                           .order_by(Warehouse.priority.desc(), Warehouse.code))
    by_sku: dict[str, list[Stock]] = {sku_id: [] for sku_id in wanted}
    for stock in rows:
        by_sku[stock.sku_id].append(stock)
    return list(by_sku.items())


def get_availability(session: Session, sku_ids: list[str]) -> list[availability.Availability]:
    wanted = _sku_list(session, sku_ids)
    current = availability.summed(session, wanted)
    return [current[sku_id] for sku_id in wanted]


def list_ledger(session: Session, sku_id: str, warehouse_code: str = "", limit: int = 0
                ) -> list[LedgerEntry]:
    check = _Check()
    check.required("sku_id", sku_id, "the SKU id from catalog")
    limit = limit or 50
    check.violations.check(1 <= limit <= 500, "limit", "range",
                           f"limit must be between 1 and 500 (0 means 50), not {limit}")
    check.done()
    query = select(LedgerEntry).where(LedgerEntry.sku_id == sku_id)
    if warehouse_code:
        query = query.where(LedgerEntry.warehouse_id == warehouse_by_code(session,
                                                                         warehouse_code).id)
    return list(session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit)))


def low_stock(session: Session, warehouse_code: str = "") -> list[Stock]:
    """Stock at or below its low-stock threshold (sellable), per warehouse, lowest first."""
    free = Stock.on_hand - Stock.reserved - Stock.safety_stock
    query = (select(Stock).join(Warehouse).where(free <= Stock.low_stock_threshold)
             .order_by(Warehouse.code, free, Stock.sku_id))
    if warehouse_code:
        query = query.where(Stock.warehouse_id == warehouse_by_code(session, warehouse_code).id)
    else:
        query = query.where(Warehouse.active.is_(True))
    return list(session.scalars(query))
