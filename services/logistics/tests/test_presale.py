"""A pre-sale order (新品预售): its stock held from the deposit until its balance window closed
(order.deposit_paid), and its parcels booked only from its release date (order.paid's
ships_from), never before, whoever asks."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from mall.events.v1 import order_events_pb2 as order_events
from sqlalchemy import select

from servicekit.testing import deliver_in_process
from servicekit.times import rfc3339
from services.logistics import reservations, shipments
from services.logistics.models import Reservation, Shipment

from .conftest import paid_order
from .test_shipments import hold, pay

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def deposit_paid(order_id, until, event_id):
    deliver_in_process("logistics", "order", "order.deposit_paid", order_events.OrderDepositPaid(
        order_id=order_id, member_id="m-1", hold_until=rfc3339(until)), event_id=event_id)


def reservation(runtime, order_id):
    with runtime.transaction() as session:
        found = session.get(Reservation, order_id)
        return found.status, found.expires_at


def test_the_deposit_keeps_the_stock_held_until_the_balance_window_closed(shelves):
    hold(shelves, "o-pre", [("sku-75b", 2)], hold_seconds=60)
    closes = NOW + timedelta(days=10)
    deposit_paid("o-pre", closes, "e-1")
    deposit_paid("o-pre", closes, "e-1")  # redelivered
    deposit_paid("o-pre", NOW + timedelta(days=1), "e-2")  # an older word never shortens it
    assert reservation(shelves, "o-pre") == ("held", closes)
    assert reservations.expire_due(shelves, now=NOW + timedelta(days=2)) == 0
    assert reservation(shelves, "o-pre")[0] == "held"
    assert reservations.expire_due(shelves, now=closes + timedelta(seconds=1)) == 1


def test_an_unknown_or_lapsed_reservation_is_left_as_it_is(shelves):
    deposit_paid("o-none", NOW + timedelta(days=10), "e-1")  # nothing to hold: logged
    hold(shelves, "o-old", [("sku-75b", 1)], hold_seconds=60)
    reservations.expire_due(shelves, now=datetime.now(timezone.utc) + timedelta(seconds=61))
    deposit_paid("o-old", NOW + timedelta(days=10), "e-2")
    assert reservation(shelves, "o-old")[0] == "expired"


def test_nothing_is_booked_before_the_release_date(shelves, carrier):
    release = NOW + timedelta(days=3)
    hold(shelves, "o-pre", [("sku-80b", 1)])
    hold(shelves, "o-now", [("sku-80b", 1)])
    pay(shelves, replace(paid_order("o-pre", [("sku-80b", 1)]), ships_from=release))
    pay(shelves, paid_order("o-now", [("sku-80b", 1)]), "evt-2")
    with shelves.transaction() as session:
        assert {s.order_id: s.ship_after for s in session.scalars(select(Shipment))} == \
            {"o-pre": release, "o-now": None}
    assert shipments.book_pending(shelves) == 1  # the ordinary order only
    assert shipments.book_pending(shelves, order_ids=["o-pre"]) == 0  # staff's "ship now" too
    assert shipments.book_pending(shelves, now=release - timedelta(seconds=1)) == 0
    assert shipments.book_pending(shelves, now=release) == 1
    with shelves.transaction() as session:
        assert session.scalar(select(Shipment.waybill_no).where(Shipment.order_id == "o-pre"))


def test_ships_from_is_read_from_order_paid():
    from mall.events.v1 import order_events_pb2 as events

    from services.logistics.shipments import PaidOrder
    release = NOW + timedelta(days=3)
    assert PaidOrder.from_event(events.OrderPaid(order_id="o", ships_from=rfc3339(release))).ships_from \
        == release
    assert PaidOrder.from_event(events.OrderPaid(order_id="o")).ships_from is None
