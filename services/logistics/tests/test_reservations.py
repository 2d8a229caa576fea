"""Reservations on the real database: allocation by address, idempotency by order id, release,
commit, expiry, and every change in the ledger and the availability announcements."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from servicekit.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from services.logistics import availability, reservations, stock
from services.logistics.models import LedgerEntry, Reservation, Stock
from services.logistics.reservations import Line

from .test_stock import outbox

SAGA = stock.Caller(user_id="order-saga", request_id="req-r")


def reserve(runtime, order_id, lines, province="上海市", **kw):
    with runtime.transaction() as session:
        r = reservations.reserve(runtime, session, order_id, [Line(*x) for x in lines], province,
                                 caller=SAGA, **kw)
        return r.status, r.allocations


def stock_of(runtime):
    with runtime.transaction() as session:
        return {(s.warehouse.code, s.sku_id): (s.on_hand, s.reserved)
                for s in session.scalars(select(Stock))}


def ledger_of(runtime, order_id):
    with runtime.transaction() as session:
        return [(e.warehouse.code, e.sku_id, e.kind, e.quantity, e.reserved_change,
                 e.actor_user_id) for e in session.scalars(
            select(LedgerEntry).where(LedgerEntry.order_id == order_id).order_by(LedgerEntry.id))]


def test_the_nearest_warehouse_that_fills_the_order_holds_it(shelves):
    assert reserve(shelves, "o-sh", [("sku-75b", 2)], "上海") == (
        "held", [("SH-EAST", "sku-75b", 2)])
    assert reserve(shelves, "o-gz", [("sku-75b", 1), ("sku-80b", 2)], "广东省") == (
        "held", [("GZ-SOUTH", "sku-75b", 1), ("GZ-SOUTH", "sku-80b", 2)])
    # Shanghai cannot give two sku-80b: Guangzhou, farther, fills the whole order alone
    assert reserve(shelves, "o-sh2", [("sku-75b", 1), ("sku-80b", 2)], "江苏省") == (
        "held", [("GZ-SOUTH", "sku-75b", 1), ("GZ-SOUTH", "sku-80b", 2)])
    assert stock_of(shelves)[("GZ-SOUTH", "sku-80b")] == (4, 4)
    assert ledger_of(shelves, "o-sh") == [("SH-EAST", "sku-75b", "reservation", 0, 2,
                                           "order-saga")]
    assert outbox(shelves)[-1] == [("sku-75b", 4, "LOW"), ("sku-80b", 1, "LOW")]


def test_a_split_when_no_warehouse_can_fill_it_alone(shelves):
    assert reserve(shelves, "o-1", [("sku-75b", 7)], "浙江省") == (
        "held", [("SH-EAST", "sku-75b", 5), ("GZ-SOUTH", "sku-75b", 2)])


def test_short_stock_names_each_short_line_and_holds_nothing(shelves):
    with pytest.raises(ResourceExhausted) as err:
        reserve(shelves, "o-1", [("sku-80b", 1), ("sku-75b", 10)])
    assert [(v.field, v.rule) for v in err.value.violations] == [("lines[1].quantity", "in_stock")]
    assert "2 missing" in err.value.violations[0].description
    with shelves.transaction() as session:
        assert session.get(Reservation, "o-1") is None
    assert all(reserved == 0 for _, reserved in stock_of(shelves).values())


def test_safety_stock_is_never_reserved(shelves):
    with shelves.transaction() as session:
        stock.set_stock_policy(shelves, session, "SH-EAST", "sku-75b", 4, 1)
        stock.set_stock_policy(shelves, session, "GZ-SOUTH", "sku-75b", 3, 1)
    with pytest.raises(ResourceExhausted):
        reserve(shelves, "o-1", [("sku-75b", 2)])
    assert reserve(shelves, "o-2", [("sku-75b", 1)])[1] == [("SH-EAST", "sku-75b", 1)]


def test_bad_input_is_named_all_at_once(shelves):
    with pytest.raises(InvalidArgument) as err:
        reserve(shelves, "", [("sku-75b", 0), ("sku-75b", 1.5), ("", 1)], "", hold_seconds=5)
    assert sorted((v.field, v.rule) for v in err.value.violations) == [
        ("hold_seconds", "range"), ("lines[0].quantity", "whole_units"),
        ("lines[1].quantity", "whole_units"), ("lines[1].sku_id", "unique"),
        ("lines[2].sku_id", "required"), ("order_id", "required"),
        ("shipping_address.province", "required")]
    with pytest.raises(InvalidArgument) as err:
        reserve(shelves, "o-1", [("sku-75b", 1)], "Atlantis")
    assert [(v.field, v.rule) for v in err.value.violations] == [
        ("shipping_address.province", "known")]
    with pytest.raises(NotFound) as err:
        reserve(shelves, "o-1", [("sku-75b", 1), ("sku-ghost", 1)])
    assert [v.field for v in err.value.violations] == ["lines[1].sku_id"]
    assert all(reserved == 0 for _, reserved in stock_of(shelves).values())


def test_reserve_is_idempotent_by_order_id(shelves):
    first = reserve(shelves, "o-1", [("sku-75b", 2), ("sku-80b", 1)])
    assert reserve(shelves, "o-1", [("sku-80b", 1), ("sku-75b", 2)]) == first  # same lines
    assert stock_of(shelves)[("SH-EAST", "sku-75b")] == (5, 2)
    with pytest.raises(FailedPrecondition) as err:
        reserve(shelves, "o-1", [("sku-75b", 3)])
    assert [(v.field, v.rule) for v in err.value.violations] == [("order_id", "reused")]


def test_release_gives_back_and_is_idempotent(shelves):
    reserve(shelves, "o-1", [("sku-75b", 7)])
    for _ in range(2):
        with shelves.transaction() as session:
            r = reservations.release(shelves, session, "o-1", "member", caller=SAGA)
            assert (r.status, r.reason) == ("released", "member")
    assert all(reserved == 0 for _, reserved in stock_of(shelves).values())
    kinds = [(code, kind, change_) for code, _, kind, _, change_, _ in ledger_of(shelves, "o-1")]
    assert kinds == [("SH-EAST", "reservation", 5), ("GZ-SOUTH", "reservation", 2),
                     ("SH-EAST", "release", -5), ("GZ-SOUTH", "release", -2)]
    with shelves.transaction() as session, pytest.raises(FailedPrecondition):
        reservations.commit(shelves, session, "o-1", caller=SAGA)
    with shelves.transaction() as session, pytest.raises(NotFound):
        reservations.release(shelves, session, "o-nobody", caller=SAGA)


def test_commit_takes_the_goods_off_the_shelf_once(shelves):
    reserve(shelves, "o-1", [("sku-75b", 2)])
    announced = outbox(shelves)
    for _ in range(2):
        with shelves.transaction() as session:
            assert reservations.commit(shelves, session, "o-1", caller=SAGA).status == "committed"
    assert stock_of(shelves)[("SH-EAST", "sku-75b")] == (3, 0)
    assert [(k, q, rc) for _, _, k, q, rc, _ in ledger_of(shelves, "o-1")] == [
        ("reservation", 0, 2), ("commit", -2, -2)]
    # on hand and reserved fell together: what can be sold is still what the reservation
    # announced, so the commit announces nothing
    assert outbox(shelves) == announced
    with shelves.transaction() as session:
        now = availability.summed(session, ["sku-75b"])["sku-75b"]
    assert [(now.sku_id, now.sellable)] == [(sku, sellable) for sku, sellable, _ in announced[-1]]
    with shelves.transaction() as session, pytest.raises(FailedPrecondition):
        reservations.release(shelves, session, "o-1", "too late", caller=SAGA)


def test_expiry_releases_lapsed_holds_only(shelves):
    reserve(shelves, "o-old", [("sku-75b", 3)], hold_seconds=60)
    reserve(shelves, "o-new", [("sku-75b", 1)])
    later = datetime.now(timezone.utc) + timedelta(seconds=61)
    assert reservations.expire_due(shelves, now=later) == 1
    assert reservations.expire_due(shelves, now=later) == 0
    with shelves.transaction() as session:
        assert session.get(Reservation, "o-old").status == "expired"
        assert session.get(Reservation, "o-new").status == "held"
    assert stock_of(shelves)[("SH-EAST", "sku-75b")] == (5, 1)
    assert ledger_of(shelves, "o-old")[-1][2:6] == ("release", 0, -3, "logistics-worker")


def test_a_paid_order_whose_hold_lapsed_is_reserved_again_or_reported_short(shelves):
    reserve(shelves, "o-1", [("sku-75b", 2)], hold_seconds=60)
    reservations.expire_due(shelves, now=datetime.now(timezone.utc) + timedelta(seconds=61))
    with shelves.transaction() as session:  # a gift of the same SKU: one line of 2
        r, short = reservations.reserve_again_and_commit(
            shelves, session, "o-1", [Line("sku-75b", 1), Line("sku-75b", 1)], "上海市", SAGA)
        assert (r.status, short) == ("committed", None)
    with shelves.transaction() as session:
        r, short = reservations.reserve_again_and_commit(
            shelves, session, "o-2", [Line("sku-75b", 50), Line("sku-ghost", 1)], "上海市", SAGA)
        assert r.status == "released" and short.shortfall == {"sku-75b": 44, "sku-ghost": 1}
    with shelves.transaction() as session:
        assert session.get(Reservation, "o-2").shortfall == [
            {"sku_id": "sku-75b", "requested": 50, "missing": 44},
            {"sku_id": "sku-ghost", "requested": 1, "missing": 1}]
    assert stock_of(shelves)[("SH-EAST", "sku-75b")] == (3, 0)


def test_an_adjustment_may_not_take_goods_promised_to_orders(shelves):
    reserve(shelves, "o-1", [("sku-75b", 4)])  # SH-EAST: 5 on hand, 4 reserved
    with shelves.transaction() as session, pytest.raises(FailedPrecondition) as err:
        stock.adjust_stock(shelves, session, "SH-EAST", "sku-75b", "damage", -2, "破损",
                           caller=SAGA)
    assert [(v.field, v.rule) for v in err.value.violations] == [("delta", "not_below_reserved")]
    with shelves.transaction() as session:
        stock.adjust_stock(shelves, session, "SH-EAST", "sku-75b", "damage", -1, "破损",
                           caller=SAGA)
    assert stock_of(shelves)[("SH-EAST", "sku-75b")] == (4, 4)


def test_expiry_run_by_several_replicas_at_once_releases_each_hold_once(shelves):
    import threading

    for i in range(8):
        reserve(shelves, f"o-{i}", [("sku-75b", 1)], hold_seconds=60)
    later = datetime.now(timezone.utc) + timedelta(seconds=61)
    counts = []
    replicas = [threading.Thread(target=lambda: counts.append(
        reservations.expire_due(shelves, now=later))) for _ in range(3)]
    for t in replicas:
        t.start()
    for t in replicas:
        t.join()
    assert sum(counts) == 8
    with shelves.transaction() as session:
        releases = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "release")).all()
    assert len(releases) == 8 and len({e.order_id for e in releases}) == 8
    assert all(reserved == 0 for _, reserved in stock_of(shelves).values())
