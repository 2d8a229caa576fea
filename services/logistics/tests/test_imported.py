"""order.imported (and each order of an order.imported_batch) takes the goods out of the nearest
warehouse once, never below zero."""
import time

from mall.events.v1 import order_events_pb2
from sqlalchemy import select

from servicekit.testing import check_lock_order
from services.logistics import imported
from services.logistics.models import LedgerEntry, Reservation
from services.logistics.skus import lock_sku

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


def imported_batch(*orders):
    return order_events_pb2.OrdersImported(batch_id="b-42", partner="tmall", orders=list(orders))


def handle_batch(runtime, batch, event_id="e-b"):
    with runtime.transaction() as session:
        return [(r.order_id, r.status) for r in
                imported.orders_imported(runtime, session, batch, event_id)]


def test_each_order_of_a_batch_is_handled_as_a_single_import_in_one_transaction(shelves):
    batch = imported_batch(
        imported_event("io-11", [("sku-75b", 2)]),                       # Shanghai: SH-EAST
        imported_event("io-12", [("sku-80b", 9)]),                       # short: takes nothing
        imported_event("io-13", [("sku-75b", 1)], deduct=False),         # not ours to deduct
        imported_event("io-14", [("sku-80b", 3)], province="广东省"),     # after the short one
        imported_event("io-15", [("sku-75b", 1)], province="火星"))       # unplaceable: skipped
    assert handle_batch(shelves, batch) == [("io-11", "committed"), ("io-12", "released"),
                                            ("io-14", "committed")]
    after = stock_of(shelves)
    assert after == {("SH-EAST", "sku-75b"): (3, 0), ("SH-EAST", "sku-80b"): (1, 0),
                     ("GZ-SOUTH", "sku-75b"): (3, 0), ("GZ-SOUTH", "sku-80b"): (1, 0)}
    with shelves.transaction() as session:
        reservations = {r.order_id: (r.status, r.shortfall, r.reason)
                        for r in session.scalars(select(Reservation))}
        reasons = {(e.order_id, e.reason) for e in session.scalars(select(LedgerEntry))
                   if e.order_id}
    assert set(reservations) == {"io-11", "io-12", "io-14"}
    assert reservations["io-12"][:2] == (
        "released", [{"sku_id": "sku-80b", "requested": 9, "missing": 4}])
    assert all("batch b-42" in reason for _, _, reason in reservations.values())
    assert {order_id for order_id, _ in reasons} == {"io-11", "io-14"}
    assert all("batch b-42" in reason for _, reason in reasons)
    # The same orders again (a new event naming them): each is already handled.
    assert handle_batch(shelves, batch, "e-b2") == []
    assert stock_of(shelves) == after


def test_a_batch_locks_its_skus_in_the_sorted_order_before_any_order(shelves):
    """Holding sku-75b (as a shopper's reservation of both SKUs does, sorted), another
    transaction can still take sku-80b while the batch waits: the batch holds nothing yet,
    although its first order needs only sku-80b (order by order, it would: a deadlock)."""
    batch = imported_batch(imported_event("io-21", [("sku-80b", 1)]),
                           imported_event("io-22", [("sku-75b", 1)]))
    check_lock_order(shelves, hold=lambda s: lock_sku(s, "sku-75b"),
                     work=lambda: handle_batch(shelves, batch),
                     then_take=lambda s: lock_sku(s, "sku-80b"))
    assert stock_of(shelves)[("SH-EAST", "sku-75b")] == (4, 0)
    assert stock_of(shelves)[("SH-EAST", "sku-80b")] == (0, 0)


def test_the_worker_handles_each_order_of_a_redelivered_batch_once(shelves, worker_process,
                                                                  publish_event, wait_until):
    worker_process("logistics")
    batch = imported_batch(imported_event("io-31", [("sku-80b", 3)], province="广东省"),
                           imported_event("io-32", [("sku-75b", 2)], deduct=False),
                           imported_event("io-33", [("sku-75b", 2)]))
    sent = publish_event("order", "order.imported_batch", batch)
    publish_event("order", "order.imported_batch", sent["data"], event_id=sent["id"])  # again
    publish_event("order", "order.imported_batch", batch)  # the same orders under a new event id
    expected = {("SH-EAST", "sku-75b"): (3, 0), ("SH-EAST", "sku-80b"): (1, 0),
                ("GZ-SOUTH", "sku-75b"): (3, 0), ("GZ-SOUTH", "sku-80b"): (1, 0)}
    wait_until(lambda: stock_of(shelves) == expected, timeout=20,
               message="io-31 out of Guangzhou, io-33 out of Shanghai, io-32 untouched")
    time.sleep(1)  # give a wrongly applied duplicate its chance
    assert stock_of(shelves) == expected
    with shelves.transaction() as session:
        assert {r.order_id: r.status for r in session.scalars(select(Reservation))} == {
            "io-31": "committed", "io-33": "committed"}
