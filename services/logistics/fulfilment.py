"""What a paid or cancelled order does to logistics (the worker's order.* handlers).

Paid: the held stock is committed and the shipments are planned (their waybills are booked by a
timer). If the hold had lapsed (expired, released) or never reached logistics, the stock is
reserved again and committed at once; if it is gone, nothing ships: the shortfall is recorded on
the reservation and `inventory.paid_order_short` says so, for someone to refund or restock.
Cancelled: the held stock is released; a paid order's parcels are stopped (stopping.py), as
are those of an order refunded in full. A stopped order's late order.paid plans nothing.
"""
from __future__ import annotations

import logging

from mall.events.v1 import logistics_events_pb2 as events
from sqlalchemy.orm import Session

from servicekit.errors import FailedPrecondition, NotFound
from servicekit.runtime import Runtime

from . import reservations, shipments, stopping
from .models import Reservation, Shipment
from .stock import Caller

log = logging.getLogger(__name__)

PAID_ORDER_SHORT = "inventory.paid_order_short"


def order_paid(runtime: Runtime, session: Session, order: shipments.PaidOrder,
               event_id: str) -> list[Shipment]:
    caller = Caller("logistics-worker", event_id)
    if stopping.is_stopped(session, order.order_id):
        log.info("order %s was paid after it was cancelled or refunded: nothing ships",
                 order.order_id)
        return []
    reservation = session.get(Reservation, order.order_id)
    if reservation is not None and reservation.status == "released":
        # Released by order.cancelled (or a failed checkout, which is never paid): this order.paid
        # arrived after the cancellation of a paid order. Heard in order, the cancellation would
        # stop the parcels; heard late, the payment must not reserve and ship again.
        log.warning("order %s was paid but already cancelled (%s): not shipped", order.order_id,
                    reservation.reason)
        return []
    if reservation is not None and reservation.status in ("held", "committed"):
        # Shipments first, the commit last: the commit locks the SKUs, which every checkout's
        # Reserve of them waits for, and under eventlet each statement while holding the lock
        # lets the worker's other handlers run. Same transaction, same outcome (a commit that
        # is refused rolls the planned shipments back with it).
        planned = shipments.plan(session, order, reservations.Held.of(reservation).allocations)
        reservations.commit(runtime, session, order.order_id, caller)
        return planned
    else:
        lapsed = reservation.status if reservation is not None else "missing"
        lines = [reservations.Line(line.sku_id, line.quantity) for line in order.lines]
        again, short = reservations.reserve_again_and_commit(
            runtime, session, order.order_id, lines, order.address["province"], caller)
        if short is not None:
            log.warning("order %s was paid but its stock is gone (%s): %s", order.order_id,
                        lapsed, short.shortfall)
            runtime.emit(session, PAID_ORDER_SHORT, events.PaidOrderShort(
                order_id=order.order_id, order_no=order.order_no, member_id=order.member_id,
                reservation_status=lapsed,
                lines=[events.ShortLine(sku_id=x["sku_id"], requested=x["requested"],
                                        missing=x["missing"]) for x in again.shortfall]))
            return []
        held = reservations.Held.of(again)
    return shipments.plan(session, order, held.allocations)


def order_cancelled(runtime: Runtime, session: Session, order_id: str, reason: str,
                    event_id: str, was_paid: bool = False) -> None:
    if was_paid:
        stopping.stop_order(runtime, session, order_id, f"order cancelled: {reason}")
    try:
        reservations.release(runtime, session, order_id, reason or "cancelled",
                             Caller("logistics-worker", event_id))
    except NotFound:
        log.info("order %s cancelled before it reserved anything", order_id)
    except FailedPrecondition:
        # Paid and committed: its goods come back through after-sales, not a release.
        # Paid and committed: the goods of each stopped parcel go back on the shelf with it.
        log.info("order %s cancelled after its stock was committed; parcels stopped", order_id)


def order_refunded(runtime: Runtime, session: Session, order_id: str, full: bool) -> None:
    """A full refund stops what has not reached the shopper (intercepting what is on its way)."""
    if full:
        stopping.stop_order(runtime, session, order_id, "order refunded in full")
