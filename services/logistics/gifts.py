"""A points-mall gift (member's `points.gift_redeemed`) ships like a paid order's goods: stock is
taken from the nearest warehouse that has it (the same allocation as checkout's), a parcel is
planned and its waybill booked by the timer, and its shipment.* events carry the redemption id
(no order follows it). No stock anywhere: nothing ships and `gift.unavailable` tells member,
which gives the points back. Keyed by the redemption (reservation `points:<redemption id>`), so a
redelivered or re-announced event plans nothing twice and says nothing twice."""
from __future__ import annotations

import logging

from mall.events.v1 import logistics_events_pb2 as events
from sqlalchemy.orm import Session

from servicekit.errors import InvalidArgument
from servicekit.runtime import Runtime

from . import reservations, shipments
from .models import Reservation, Shipment
from .stock import Caller

log = logging.getLogger(__name__)


def reservation_key(redemption_id: str) -> str:
    return f"points:{redemption_id}"


def gift_redeemed(runtime: Runtime, session: Session, gift, event_id: str) -> list[Shipment]:
    """From mall.events.v1.PointsGiftRedeemed."""
    key = reservation_key(gift.redemption_id)
    a = gift.shipping_address
    order = shipments.PaidOrder(
        key, "", gift.member_id, (shipments.PaidLine(gift.sku_id, gift.quantity, gift.title),),
        {"recipient": a.recipient, "phone": a.phone, "province": a.province, "city": a.city,
         "district": a.district, "detail": a.detail}, False)
    done = session.get(Reservation, key)
    if done is not None and done.status == "committed":  # told before: the same parcels
        return _planned(runtime, session, gift, order, reservations.Held.of(done).allocations)
    if done is not None and done.shortfall:
        return []  # told before: nothing to ship
    try:
        reservation, short = reservations.reserve_again_and_commit(
            runtime, session, key, [reservations.Line(gift.sku_id, gift.quantity or 1)],
            a.province, Caller("logistics-worker", event_id), why="points-mall gift")
    except InvalidArgument as err:
        log.warning("gift %s cannot ship: %s", gift.redemption_id, err.message)
        _unavailable(runtime, session, gift, "no_address", gift.quantity, gift.quantity)
        return []
    if short is not None:  # (a SKU nobody registered has no stock anywhere either)
        missing = sum(x["missing"] for x in reservation.shortfall) or gift.quantity
        _unavailable(runtime, session, gift, "out_of_stock", gift.quantity, missing)
        return []
    return _planned(runtime, session, gift, order,
                    reservations.Held.of(reservation).allocations)


def _planned(runtime: Runtime, session: Session, gift, order: shipments.PaidOrder,
             allocations) -> list[Shipment]:
    planned = shipments.plan(session, order, allocations)
    fresh = [s for s in planned if s.redemption_id is None]
    for shipment in planned:  # a gift's parcel follows no order
        shipment.order_id, shipment.redemption_id = "", gift.redemption_id
    if fresh:
        runtime.emit(session, "gift.shipment_planned", events.GiftShipmentPlanned(
            redemption_id=gift.redemption_id, member_id=gift.member_id,
            shipment_ids=[s.id for s in planned]))
    return planned


def _unavailable(runtime: Runtime, session: Session, gift, reason: str, requested: int,
                 missing: int) -> None:
    runtime.emit(session, "gift.unavailable", events.GiftUnavailable(
        redemption_id=gift.redemption_id, member_id=gift.member_id, sku_id=gift.sku_id,
        requested=requested, missing=missing, reason=reason))
