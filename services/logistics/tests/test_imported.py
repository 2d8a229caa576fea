"""order.imported takes the goods out of the nearest warehouse once, never below zero."""
import time

from mall.events.v1 import order_events_pb2
from sqlalchemy import select

from services.logistics import imported
from services.logistics.models import LedgerEntry, Reservation

from .test_reservations import stock_of


def imported_event(order_id, lines, *, deduct=True, province="上海市"):
    return order_events_pb2.OrderImported(
        order_id=order_id, order_no=f"NO-{order_id}", channel="import:tmall", batch_id="b-42",
        status="completed", deduct_stock=deduct, province=province,
        lines=[order_events_pb2.OrderEventLine(sku_id=s, quantity=q) for s, q in lines])


def handle(runtime, event, event_id="e-1"):
    with runtime.transaction() as session:
        r = imported.order_imported(runtime, session, event, event_id)
        return r and (r.status, r.shortfall)


def test_an_imported_order_takes_its_stock_from_the_nearest_warehouse_once(shelves):
    assert handle(shelves, imported_event("io-1", [("sku-75b", 2)])) == ("committed", [])
    assert handle(shelves, imported_event("io-1", [("sku-75b", 2)]), "e-2") is None  # again
    assert stock_of(shelves)[("SH-EAST", "sku-75b")] == (3, 0)
    with shelves.transaction() as session:
        reasons = {e.reason for e in session.scalars(
            select(LedgerEntry).where(LedgerEntry.order_id == "io-1"))}
    assert reasons and all("batch b-42" in r for r in reasons)


def test_short_stock_takes_nothing_and_is_recorded(shelves):
    before = stock_of(shelves)
    assert handle(shelves, imported_event("io-2", [("sku-80b", 9)])) == (
        "released", [{"sku_id": "sku-80b", "requested": 9, "missing": 4}])
    assert stock_of(shelves) == before
    with shelves.transaction() as session:
        assert "batch b-42" in session.get(Reservation, "io-2").reason


def test_no_deduction_when_the_profile_says_so_and_a_bad_province_changes_nothing(shelves):
    before = stock_of(shelves)
    assert handle(shelves, imported_event("io-3", [("sku-75b", 1)], deduct=False)) is None
    assert handle(shelves, imported_event("io-4", [("sku-75b", 1)], province="火星")) is None
    assert stock_of(shelves) == before


def test_the_worker_deducts_a_redelivered_import_once(shelves, worker_process, publish_event,
                                                     wait_until):
    worker_process("logistics")
    event = imported_event("io-5", [("sku-80b", 3)], province="广东省")
    sent = publish_event("order", "order.imported", event)
    publish_event("order", "order.imported", sent["data"], event_id=sent["id"])
    publish_event("order", "order.imported", event)  # the same order under a new event id
    wait_until(lambda: stock_of(shelves)[("GZ-SOUTH", "sku-80b")] == (1, 0), timeout=20,
               message="three units out of Guangzhou")
    time.sleep(1)  # give a wrongly applied duplicate its chance
    assert stock_of(shelves)[("GZ-SOUTH", "sku-80b")] == (1, 0)
