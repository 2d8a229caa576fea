"""Tracking: the state machine, signed pushes (refused when the signature or timestamp is
wrong, harmless when repeated or late), and polling shipments that went silent."""
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from servicekit.errors import NotFound
from services.logistics import carriers, fengqiao, shipments, tracking
from services.logistics.models import Shipment, TrackingEvent

from .conftest import paid_order, published
from .test_shipments import hold, pay


@pytest.mark.parametrize("current,new,allowed", [
    ("created", "picked_up", True), ("picked_up", "delivered", True),
    ("in_transit", "picked_up", False), ("out_for_delivery", "in_transit", False),
    ("in_transit", "exception", True), ("exception", "out_for_delivery", True),
    ("exception", "created", False), ("in_transit", "returned", True),
    ("delivered", "exception", False), ("delivered", "returned", False),
    ("returned", "delivered", False), ("in_transit", "in_transit", False)])
def test_the_state_machine(current, new, allowed):
    assert tracking.may_move(current, new) is allowed


@pytest.fixture
def booked(shelves, carrier):
    hold(shelves, "o-1", [("sku-75b", 1)])
    pay(shelves, paid_order("o-1", [("sku-75b", 1)], province="上海市", discreet=True))
    shipments.book_pending(shelves)
    with shelves.transaction() as session:
        shipment = session.scalar(select(Shipment))
        return shelves, shipment.carrier, shipment.waybill_no


def push(carrier, routes, *, checkword=None, now=None):
    account = carriers.account(carrier)
    form = fengqiao.signed_form(account.partner_id, fengqiao.ROUTE_PUSH,
                                {"WaybillRoute": routes}, checkword or account.checkword, now=now)
    from urllib.parse import urlencode
    return urlencode(form).encode()


def route(waybill, op, minutes_from_now, remark=""):
    at = (datetime.now(fengqiao.SHANGHAI) + timedelta(minutes=minutes_from_now)).strftime(
        "%Y-%m-%d %H:%M:%S")  # SF's Beijing wall-clock time
    return {"id": f"{op}-{at}", "mailno": waybill, "opCode": op, "acceptTime": at,
            "acceptAddress": "上海", "remark": remark}


def state_and_steps(runtime):
    with runtime.transaction() as session:
        shipment = session.scalar(select(Shipment))
        steps = [(e.state, e.source, e.carrier_code) for e in session.scalars(
            select(TrackingEvent).order_by(TrackingEvent.occurred_at, TrackingEvent.id))]
        return shipment.state, steps


def test_signed_pushes_move_the_shipment_and_repeats_or_late_ones_change_nothing(booked):
    runtime, carrier, waybill = booked
    body = push(carrier, [route(waybill, "30", 60),
                          route(waybill, "50", 10, "已收取快件")])
    status, reply = tracking.handle_push(runtime, carrier, body)
    assert (status, reply) == (200, fengqiao.push_reply(True))
    assert tracking.handle_push(runtime, carrier, body)[0] == 200  # the carrier retried
    assert state_and_steps(runtime)[0] == "in_transit"
    # late news: picked-up again, and an exception from before the current state
    tracking.handle_push(runtime, carrier, push(carrier, [
        route(waybill, "50", 30), route(waybill, "70", 45)]))
    tracking.handle_push(runtime, carrier, push(carrier, [
        route(waybill, "80", 600, "已签收"),
        route(waybill, "607", 120, "中转")]))  # an unmapped scan: timeline only
    state, steps = state_and_steps(runtime)
    assert state == "delivered"
    assert [s[0] for s in steps] == ["created", "picked_up", "picked_up", "exception",
                                     "in_transit", "in_transit", "delivered"]
    assert [t for t, _ in published(runtime)] == [
        "shipment.created", "shipment.picked_up", "shipment.in_transit", "shipment.delivered"]
    delivered = published(runtime)[-1][1]
    assert (delivered["description"], delivered["items"][0]["title"]) == ("已签收", "日用品")


def test_a_push_with_a_wrong_signature_or_an_old_timestamp_is_refused_and_changes_nothing(
        booked, caplog):
    runtime, carrier, waybill = booked
    before = state_and_steps(runtime)
    delivered = [route(waybill, "80", 600)]
    for body in (push(carrier, delivered, checkword="guessed"),
                 push(carrier, delivered, now=time.time() - 3600),
                 b"msgData=%7B%7D", b"\xff\xfe"):
        status, reply = tracking.handle_push(runtime, carrier, body)
        assert status == 400 and b'"return_code": "1000"' in reply
    assert state_and_steps(runtime) == before
    assert "refused a" in caplog.text and "msgDigest does not match" in caplog.text
    with pytest.raises(NotFound):
        tracking.handle_push(runtime, "ems", push(carrier, delivered))


def test_routes_of_unknown_waybills_are_acknowledged_and_ignored(booked):
    runtime, carrier, _ = booked
    status, _ = tracking.handle_push(runtime, carrier, push(carrier, [
        route("SF-NOT-OURS", "80", 600)]))
    assert status == 200
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TrackingEvent)) == 1  # created


def test_silent_shipments_are_polled_from_the_carriers_query_api(booked, carrier, wait_until):
    runtime, _, waybill = booked
    carrier.standin.step_seconds = 0.05  # the parcel runs its route; nobody pushes
    wait_until(lambda: len(carrier.standin.parcels[waybill].routes) == 4, timeout=10)
    assert tracking.poll_silent(runtime) == 0  # not silent long enough yet
    later = datetime.now(timezone.utc) + timedelta(seconds=tracking.silence_seconds() + 1)
    assert tracking.poll_silent(runtime, now=later) == 4
    state, steps = state_and_steps(runtime)
    assert state == "delivered" and {s[1] for s in steps} == {"system", "poll"}
    assert tracking.poll_silent(runtime, now=later) == 0  # its clock was reset, and it is done
