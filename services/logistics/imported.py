"""What an imported order (`order.imported`, or each order of an `order.imported_batch`) does to
stock: when the partner's profile says its stock is ours, the goods are taken out of the
warehouse nearest the customer's province, through the same allocation and commit as a paid
order whose hold lapsed.

Once per order id (a reservation row is the record): a second event for the same order changes
nothing. Stock never goes negative: when it is short nothing is taken, the shortfall is kept on
the order's reservation and logged, for someone to restock or correct.

A batch is handled in one transaction, order after order, and every order's SKU locks are kept
to its end. Taken order by order, they would be taken out of the sorted order every other stock
change keeps (a batch whose first order needs sku-B and second sku-A would hold B while waiting
for A, which a shopper's reservation of A and B holds while waiting for B: a deadlock; two
batches of one import sharing SKUs likewise). So the batch first locks all the SKUs its orders
may deduct, sorted, and the orders then find them locked already.
"""
from __future__ import annotations

import logging

from mall.events.v1 import order_events_pb2
from sqlalchemy.orm import Session

from servicekit.errors import InvalidArgument
from servicekit.runtime import Runtime

from . import reservations
from .models import Reservation
from .skus import known_sku_ids, lock_sku
from .stock import Caller

log = logging.getLogger(__name__)


def orders_imported(runtime: Runtime, session: Session, batch: order_events_pb2.OrdersImported,
                    event_id: str) -> list[Reservation]:
    """Each order of the batch as `order_imported` handles one, in `session`; the reservations
    of the orders whose stock was handled now (deducted, or recorded short)."""
    deducting = {line.sku_id for order in batch.orders if order.deduct_stock
                 for line in order.lines}
    # Unknown SKUs have no row to lock: order_imported records those orders short.
    for sku_id in sorted(known_sku_ids(session, list(deducting)) if deducting else ()):
        lock_sku(session, sku_id)
    handled = (order_imported(runtime, session, order, event_id) for order in batch.orders)
    return [reservation for reservation in handled if reservation is not None]


def order_imported(runtime: Runtime, session: Session, imported: order_events_pb2.OrderImported,
                   event_id: str) -> Reservation | None:
    """Deducts the imported order's stock; None when there is nothing to do (no deduction asked,
    already done, or an order logistics cannot place)."""
    if not imported.deduct_stock:
        return None
    if session.get(Reservation, imported.order_id) is not None:
        log.info("imported order %s: stock already handled", imported.order_id)
        return None
    note = f"imported order {imported.order_no or imported.order_id}, batch {imported.batch_id}"
    lines = [reservations.Line(line.sku_id, line.quantity) for line in imported.lines]
    try:
        reservation, short = reservations.reserve_again_and_commit(
            runtime, session, imported.order_id, lines, imported.province,
            Caller("logistics-worker", event_id), why=note)
    except InvalidArgument as err:  # a bad event cannot become good by retrying: say so, move on
        log.error("%s: stock not deducted: %s", note, err.message)
        return None
    reservation.reason = note[:200]
    if short is not None:
        log.warning("%s: stock short, nothing deducted: %s", note, reservation.shortfall)
        return reservation
    return reservation
