"""The parcels of a cancelled paid order or a fully refunded one are stopped: cancelled at the
carrier (the stand-in, over HTTP, signed as Fengqiao) with the goods back on the shelf while
they have not left, intercepted back to the warehouse once collected (also when the courier
collects between the order's check and our call), never twice, whatever order events come in."""

from sqlalchemy import select

from services.logistics import fengqiao, fulfilment, shipments, stopping, tracking
from services.logistics.models import Shipment, Stock

from .conftest import paid_order, published
from .test_shipments import hold, pay

ORDER = paid_order("o-1", [("sku-80b", 1)], province="上海市")  # one parcel from SH-EAST


def on_hand(runtime, code="SH-EAST", sku="sku-80b"):
    with runtime.transaction() as session:
        return session.scalar(select(Stock.on_hand).join(Stock.warehouse)
                              .where(Stock.sku_id == sku, Stock.warehouse.has(code=code)))


def parcel(runtime):
    with runtime.transaction() as session:
        (row,) = session.scalars(select(Shipment)).all()
        session.expunge(row)
        return row


def cancel(runtime, event_id="evt-c1", was_paid=True):
    with runtime.transaction() as session:
        fulfilment.order_cancelled(runtime, session, "o-1", "缺货", event_id, was_paid)


def refund(runtime, full=True):
    with runtime.transaction() as session:
        fulfilment.order_refunded(runtime, session, "o-1", full)


def booked(runtime):
    hold(runtime, "o-1", [("sku-80b", 1)], province="上海市")
    pay(runtime, ORDER)
    assert shipments.book_pending(runtime) == 1
    return parcel(runtime)


def carrier_collects(carrier, waybill, *op_codes):
    """The courier's scans at the stand-in, as logistics would hear them (pushed)."""
    standin = carrier.standin
    with standin.lock:
        for op in op_codes:
            standin._step(standin.parcels[waybill], op, "scan")
        return [fengqiao.Route.from_sf(waybill, r) for r in standin.parcels[waybill].routes]


def heard(runtime, routes):
    carrier_code = parcel(runtime).carrier
    with runtime.transaction() as session:
        assert tracking.apply_routes(runtime, session, carrier_code, routes, "push")[1] == []


def stopped_events(runtime):
    return [(t, d.get("stopOutcome")) for t, d in published(runtime)
            if t in ("shipment.cancelled", "shipment.returning")]


def test_a_booked_parcel_is_cancelled_at_the_carrier_once_and_its_goods_are_sellable(
        shelves, carrier):
    before = on_hand(shelves)
    shipment = booked(shelves)
    assert on_hand(shelves) == before - 1  # committed when paid
    cancel(shelves)
    cancel(shelves, "evt-c2")  # a replay of the event (another id): nothing more
    assert stopping.stop_pending(shelves) == 1 and stopping.stop_pending(shelves) == 0
    stopped = parcel(shelves)
    assert (stopped.state, stopped.stop_outcome) == ("cancelled", "cancelled_at_carrier")
    assert carrier.standin.parcels[shipment.waybill_no].cancelled
    assert on_hand(shelves) == before
    assert stopped_events(shelves) == [("shipment.cancelled", "cancelled_at_carrier")]
    # a late (or wrong) push never revives it, and it is never booked or asked again
    heard(shelves, carrier_collects(carrier, shipment.waybill_no, "50"))
    assert parcel(shelves).state == "cancelled"
    assert shipments.book_pending(shelves) == 0 and stopping.stop_pending(shelves) == 0


def test_a_parcel_not_booked_yet_is_cancelled_without_the_carrier(shelves, carrier):
    before = on_hand(shelves)
    hold(shelves, "o-1", [("sku-80b", 1)], province="上海市")
    pay(shelves, ORDER)
    cancel(shelves)
    stopped = parcel(shelves)
    assert (stopped.state, stopped.stop_outcome, stopped.waybill_no) == ("cancelled", "not_booked", None)
    assert shipments.book_pending(shelves) == 0 and carrier.standin.parcels == {}
    assert on_hand(shelves) == before


def test_a_cancel_heard_before_the_payment_ships_nothing(shelves, carrier):
    before = on_hand(shelves)
    hold(shelves, "o-1", [("sku-80b", 1)], province="上海市")
    cancel(shelves)          # order.cancelled overtook order.paid
    assert pay(shelves, ORDER) == []
    with shelves.transaction() as session:
        assert session.scalars(select(Shipment)).all() == []
    assert on_hand(shelves) == before  # the hold was released, nothing committed


def test_an_unpaid_cancellation_stops_nothing(shelves, carrier):
    hold(shelves, "o-1", [("sku-80b", 1)], province="上海市")
    cancel(shelves, was_paid=False)
    assert stopping.stop_pending(shelves) == 0  # nothing was booked, nothing to ask the carrier
    # Its hold was released: an order.paid heard after it ships nothing (fulfilment.order_paid).
    assert pay(shelves, ORDER) == []


def test_collected_between_the_check_and_our_call_it_is_intercepted(shelves, carrier):
    before = on_hand(shelves)
    shipment = booked(shelves)
    routes = carrier_collects(carrier, shipment.waybill_no, "50")  # logistics has not heard yet
    cancel(shelves)
    assert stopping.stop_pending(shelves) == 1
    stopped = parcel(shelves)
    assert (stopped.state, stopped.stop_outcome) == ("returning", "intercept_requested")
    assert "8252" in stopped.stop_error  # the carrier's refusal of the cancel
    at_carrier = carrier.standin.parcels[shipment.waybill_no]
    assert not at_carrier.cancelled and at_carrier.intercepted_to["province"] == "上海市"
    assert on_hand(shelves) == before - 1  # the goods are on the road, not on the shelf
    heard(shelves, routes)  # the pick-up push arrives late
    assert parcel(shelves).state == "returning"
    back = carrier_collects(carrier, shipment.waybill_no, "99")
    heard(shelves, back)
    assert parcel(shelves).state == "returned"
    assert on_hand(shelves) == before  # received back: on the shelf again (ledger kind return)
    heard(shelves, back)  # the same push again: nothing more
    assert on_hand(shelves) == before and parcel(shelves).restocked_at is not None
    assert stopped_events(shelves) == [("shipment.returning", "intercept_requested")]


def test_a_full_refund_intercepts_a_parcel_in_transit_and_a_partial_one_does_not(
        shelves, carrier):
    shipment = booked(shelves)
    heard(shelves, carrier_collects(carrier, shipment.waybill_no, "50", "30"))
    refund(shelves, full=False)
    assert stopping.stop_pending(shelves) == 0 and parcel(shelves).state == "in_transit"
    refund(shelves)
    refund(shelves)  # redelivered
    assert stopping.stop_pending(shelves) == 1
    assert (parcel(shelves).state, parcel(shelves).stop_outcome) == ("returning", "intercept_requested")
    assert carrier.standin.parcels[shipment.waybill_no].intercepted_to is not None
    heard(shelves, carrier_collects(carrier, shipment.waybill_no, "44", "80"))  # too late a scan
    assert parcel(shelves).state == "returning"


def test_an_interception_the_carrier_refuses_is_recorded_as_a_return_to_expect(shelves, carrier):
    shipment = booked(shelves)
    heard(shelves, carrier_collects(carrier, shipment.waybill_no, "50"))
    carrier_collects(carrier, shipment.waybill_no, "30", "44", "80")  # delivered, unheard
    refund(shelves)
    assert stopping.stop_pending(shelves) == 1
    stopped = parcel(shelves)
    assert (stopped.state, stopped.stop_outcome) == ("returning", "return_expected")
    assert "20011" in stopped.stop_error
    assert "按退货处理" in published(shelves)[-1][1]["description"]


def test_a_carrier_that_does_not_answer_is_asked_again(shelves, carrier, monkeypatch):
    booked(shelves)
    cancel(shelves)
    monkeypatch.setenv("MALL_LOGISTICS_CARRIER_ZTO_URL", "http://127.0.0.1:9/std/service")
    assert stopping.stop_pending(shelves) == 0
    assert parcel(shelves).state == "created" and parcel(shelves).stop_error
    monkeypatch.setenv("MALL_LOGISTICS_CARRIER_ZTO_URL", carrier.url)
    assert stopping.stop_pending(shelves) == 1 and parcel(shelves).state == "cancelled"
