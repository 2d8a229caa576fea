"""Stopping the parcels of an order that was cancelled (paid, by staff) or refunded in full.

On order.cancelled or order.refunded (full), in the handler's transaction:
- the order is remembered as stopped (stopped_orders), so an order.paid that comes later plans
  nothing;
- a parcel without a waybill yet is cancelled at once and its goods go back on the shelf;
- a booked parcel is marked for the carrier; a worker timer then asks, outside any handler:
  still `created` → the carrier's cancel (Fengqiao EXP_RECE_UPDATE_ORDER, dealType 2), and the
  goods go back on the shelf (shipment.cancelled); collected meanwhile (the carrier refuses the
  cancel: the race between order's check and this) or already on its way → the carrier's
  intercept back to the warehouse (EXP_RECE_WANTED_INTERCEPT, 退回) and shipment.returning; if
  the carrier refuses the interception, the parcel is still recorded as returning, with
  stop_outcome `return_expected` saying no interception was accepted (after-sales receives it).
A delivered or returned parcel is left alone. A carrier that cannot be reached is asked again at
the next round. The stop is idempotent: a redelivered event finds the parcel already stopped.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.runtime import Runtime

from . import availability, carriers, fengqiao, shipments
from .models import LedgerEntry, Shipment, Stock, StoppedOrder
from .skus import lock_sku

log = logging.getLogger(__name__)

LEFT_ALONE = ("delivered", "returned", "cancelled", "returning")
NOT_BOOKED = "not_booked"
CANCELLED_AT_CARRIER = "cancelled_at_carrier"
INTERCEPT_REQUESTED = "intercept_requested"
RETURN_EXPECTED = "return_expected"


def is_stopped(session: Session, order_id: str) -> bool:
    return session.get(StoppedOrder, order_id) is not None


def stop_order(runtime: Runtime, session: Session, order_id: str, why: str) -> list[Shipment]:
    """Marks the order stopped and its parcels for stopping; returns the parcels it touched."""
    now = datetime.now(timezone.utc)
    session.execute(dialect_insert(session, StoppedOrder.__table__)
                    .values(order_id=order_id, why=why[:200], stopped_at=now)
                    .on_conflict_do_nothing())
    touched = []
    for shipment in session.scalars(select(Shipment).where(Shipment.order_id == order_id)
                                    .order_by(Shipment.id).with_for_update(of=Shipment)):
        if shipment.state in LEFT_ALONE or shipment.stop_requested_at is not None:
            continue
        shipment.stop_requested_at, shipment.stop_reason = now, why[:200]
        if shipment.waybill_no is None:  # the carrier never heard of it
            _cancelled(runtime, session, shipment, NOT_BOOKED, "订单已取消，包裹未交运")
        touched.append(shipment)
    return touched


def stop_pending(runtime: Runtime, limit: int = 20) -> int:
    """Asks the carriers to cancel or intercept the parcels marked for stopping (a worker
    timer). Rows are claimed with SKIP LOCKED, so replicas share the work."""
    done = 0
    with runtime.transaction() as session:
        pending = list(session.scalars(
            select(Shipment).where(Shipment.stop_requested_at.is_not(None),
                                   Shipment.state.not_in(LEFT_ALONE))
            .order_by(Shipment.stop_requested_at).limit(limit)
            .with_for_update(skip_locked=True, of=Shipment)))
        for shipment in pending:
            try:
                done += _ask_carrier(runtime, session, shipment)
            except fengqiao.CarrierError as err:  # not reached: asked again next round
                log.warning("stopping %s with %s failed: %s", shipment.id, shipment.carrier, err)
                shipment.stop_error = str(err)[:500]
    return done


def _ask_carrier(runtime: Runtime, session: Session, shipment: Shipment) -> bool:
    client = carriers.client(shipment.carrier)
    if shipment.state == "created":
        try:
            client.cancel_order(shipment.id)
        except fengqiao.CarrierRefused as refused:  # collected before we asked: intercept it
            log.info("%s refused to cancel %s (%s): intercepting", shipment.carrier,
                     shipment.id, refused)
            shipment.stop_error = str(refused)[:500]
        else:
            _cancelled(runtime, session, shipment, CANCELLED_AT_CARRIER,
                       f"{carriers.CARRIERS[shipment.carrier]} 已取消运单 {shipment.waybill_no}")
            return True
    try:
        client.intercept_return(shipment.waybill_no, _warehouse_address(shipment))
    except fengqiao.CarrierRefused as refused:
        shipment.stop_error = str(refused)[:500]
        _returning(runtime, session, shipment, RETURN_EXPECTED,
                   f"{carriers.CARRIERS[shipment.carrier]} 未受理拦截（{refused}）：包裹按退货处理")
        return True
    _returning(runtime, session, shipment, INTERCEPT_REQUESTED,
               f"已请求{carriers.CARRIERS[shipment.carrier]}拦截并退回运单 {shipment.waybill_no}")
    return True


def _warehouse_address(shipment: Shipment) -> dict:
    warehouse = shipment.warehouse
    return {"province": warehouse.province, "city": warehouse.city, "county": warehouse.district,
            "address": warehouse.name, "contact": shipment.sender_name,
            "phone": shipments.sender_tel()}


def _record(runtime: Runtime, session: Session, shipment: Shipment, state: str, outcome: str,
            description: str) -> None:
    from .tracking import record_step  # tracking announces through shipments, as booking does

    now = datetime.now(timezone.utc)
    shipment.stop_outcome, shipment.updated_at = outcome, now
    record_step(runtime, session, shipment, state, max(now, shipment.state_at), source="system",
                dedupe_key=state, description=description, announce=True)


def _cancelled(runtime: Runtime, session: Session, shipment: Shipment, outcome: str,
               description: str) -> None:
    _record(runtime, session, shipment, "cancelled", outcome, description)
    _back_on_the_shelf(runtime, session, shipment)


def _returning(runtime: Runtime, session: Session, shipment: Shipment, outcome: str,
               description: str) -> None:
    _record(runtime, session, shipment, "returning", outcome, description)


def came_back(runtime: Runtime, session: Session, shipment: Shipment) -> bool:
    """A stopped parcel (returning: intercepted, or refused at the door) reached the warehouse
    again (tracking moved it to `returned`): its goods are sellable again, once."""
    if shipment.stop_requested_at is None or shipment.restocked_at is not None:
        return False
    _back_on_the_shelf(runtime, session, shipment,
                       f"shipment {shipment.id} came back: {shipment.stop_reason}")
    return True


def _back_on_the_shelf(runtime: Runtime, session: Session, shipment: Shipment,
                       why: str = "") -> None:
    """The parcel never left, or came back: its goods (committed when the order was paid) are
    sellable again."""
    now = datetime.now(timezone.utc)
    shipment.restocked_at = now
    sku_ids = sorted({item["sku_id"] for item in shipment.items})
    for sku_id in sku_ids:
        lock_sku(session, sku_id)  # stock changes of a SKU are serialized
    for item in shipment.items:
        stock = session.get(Stock, (shipment.warehouse_id, item["sku_id"]), populate_existing=True)
        stock.on_hand += item["quantity"]
        stock.updated_at = now
        session.add(LedgerEntry(
            warehouse_id=stock.warehouse_id, sku_id=stock.sku_id, kind="return",
            quantity=item["quantity"], on_hand_after=stock.on_hand, reserved_change=0,
            reserved_after=stock.reserved, order_id=shipment.order_id, actor_user_id="internal",
            reason=(why or f"shipment {shipment.id} stopped: {shipment.stop_reason}")[:500],
            request_id=shipment.id, created_at=now))
    availability.announce(runtime, session, sku_ids)
