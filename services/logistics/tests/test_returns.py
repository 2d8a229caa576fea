"""After-sales returns on the real PostgreSQL: the expectation support's approval starts (back to
the warehouse that shipped the goods), the return booked through the carrier stand-in (signed as
Fengqiao) or with her own waybill, once; inspection to sellable or to quarantine; an exchange
reserved at approval, shipped on acceptance, released on close, or unavailable; bad input named
field by field with nothing changed."""
from datetime import datetime, timedelta, timezone

import pytest
from mall.events.v1 import support_events_pb2 as support
from sqlalchemy import select

from servicekit.errors import FailedPrecondition, InvalidArgument, NotFound
from services.logistics import returns, shipments
from services.logistics.models import LedgerEntry, Reservation, ReturnExpectation, Shipment, Stock

from .conftest import paid_order, published
from .test_shipments import hold, pay

ORDER = paid_order("o-1", [("sku-75b", 2)], province="广东省", member_id="m-1")  # from GZ-SOUTH


def delivered(runtime):
    hold(runtime, "o-1", [("sku-75b", 2)])
    pay(runtime, ORDER)
    shipments.book_pending(runtime)


def approval(request_id="as-1", kind="return_refund", exchange_sku="", quantity=1, free=False,
             return_by=None, expected=True):
    return support.AfterSaleApproved(
        request_id=request_id, order_id="o-1", member_id="m-1", kind=kind,
        lines=[support.AfterSaleLine(line_id="l-1", sku_id="sku-75b", product_id="p-bra",
                                     quantity=quantity, exchange_sku_id=exchange_sku,
                                     size="75B")],
        return_expected=expected, free_return_shipping=free, approved_by="auto",
        return_by=(return_by or datetime.now(timezone.utc) + timedelta(days=7)).isoformat())


def approve(runtime, message, event_id="evt-a1"):
    with runtime.transaction() as session:
        returns.approved(runtime, session, message, event_id)


def close(runtime, request_id="as-1", outcome="withdrawn", event_id="evt-c1"):
    with runtime.transaction() as session:
        returns.closed(runtime, session, support.AfterSaleClosed(
            request_id=request_id, order_id="o-1", member_id="m-1", kind="exchange",
            outcome=outcome, reason="她撤回了申请"), event_id)


def expectation(runtime, request_id="as-1"):
    with runtime.transaction() as session:
        row = session.get(ReturnExpectation, request_id)
        if row is not None:
            _ = row.warehouse  # loaded before it leaves the session
            session.expunge(row)
        return row


def figures(runtime, sku="sku-75b", code="GZ-SOUTH"):
    with runtime.transaction() as session:
        s = session.scalar(select(Stock).join(Stock.warehouse)
                           .where(Stock.sku_id == sku, Stock.warehouse.has(code=code)))
        return (s.on_hand, s.reserved, s.quarantined) if s else (0, 0, 0)


def inspect(runtime, request_id="as-1", received=1, seal=True, condition="as_new",
            accepted=True, note="", lines=None, inspector="staff-wh"):
    with runtime.transaction() as session:
        row = returns.inspect(runtime, session, returns.Inspection(
            request_id, tuple(lines if lines is not None else [("l-1", received)]), seal,
            condition, accepted, note), inspector)
        return row.status, row.inspection.get("restocked_to"), row.exchange_shipment_id


def test_an_approved_return_is_expected_at_the_warehouse_that_shipped_it_once(shelves, carrier):
    delivered(shelves)
    approve(shelves, approval())
    approve(shelves, approval(quantity=2), "evt-a2")  # announced again: the first one stays
    approve(shelves, approval("as-0", kind="refund_only", expected=False))  # nothing comes back
    row = expectation(shelves)
    assert (row.status, row.warehouse.code, row.lines[0]["quantity"]) == ("expected", "GZ-SOUTH", 1)
    assert expectation(shelves, "as-0") is None


def test_a_return_is_booked_with_the_carrier_stand_in_once(shelves, carrier):
    delivered(shelves)
    approve(shelves, approval(free=True))
    first = returns.book_return(shelves, "m-1", returns.Booking("as-1", own_waybill=False))
    again = returns.book_return(shelves, "m-1", returns.Booking("as-1", own_waybill=False))
    assert first == again == "as-1"
    row = expectation(shelves)
    assert (row.status, row.carrier, row.own_waybill) == ("booked", "sf", False)
    parcel = carrier.standin.parcels[row.waybill_no]  # the stand-in issued it
    assert parcel.order_id == returns.return_order_id("as-1")
    assert parcel.sender == "李四"  # collected at her door (the original order's recipient)
    booked = published(shelves, "return.booked")
    assert [(t, d["waybillNo"], d["warehouseCode"]) for t, d in booked] == [
        ("return.booked", row.waybill_no, "GZ-SOUTH")]


def test_her_own_waybill_is_recorded_and_someone_else_cannot_book(shelves, carrier):
    delivered(shelves)
    approve(shelves, approval())
    with pytest.raises(NotFound):
        returns.book_return(shelves, "m-2", returns.Booking("as-1", True, "sf", "SF1234567890"))
    with pytest.raises(InvalidArgument) as bad:
        returns.book_return(shelves, "m-1", returns.Booking("as-1", True, "pigeon", "x"))
    assert {(v.field, v.rule) for v in bad.value.violations} == {
        ("carrier", "known"), ("waybill_no", "format")}
    assert expectation(shelves).status == "expected"  # nothing changed
    returns.book_return(shelves, "m-1", returns.Booking("as-1", True, "zto", "ZT7788990011"))
    returns.book_return(shelves, "m-1", returns.Booking("as-1", True, "sf", "SF000000001"))
    row = expectation(shelves)
    assert (row.carrier, row.waybill_no, row.own_waybill) == ("zto", "ZT7788990011", True)
    assert len(published(shelves, "return.booked")) == 1


def test_as_new_with_its_seal_goes_back_to_sellable_stock(shelves, carrier):
    delivered(shelves)
    before = figures(shelves)
    approve(shelves, approval())
    assert inspect(shelves) == ("inspected", "sellable", "")
    assert inspect(shelves) == ("inspected", "sellable", "")  # the same inspection, retried
    assert figures(shelves) == (before[0] + 1, 0, 0)
    with shelves.transaction() as session:
        entry = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
        assert (entry.kind, entry.quantity, entry.request_id) == ("return", 1, "as-1")
    # summed over the warehouses: SH-EAST's 5 and GZ-SOUTH's 1 + 1 back
    assert published(shelves, "inventory.availability_changed")[-1][1]["skus"][0]["sellable"] \
        == "7"
    [(_, event)] = published(shelves, "return.inspected")
    assert (event["accepted"], event["restockedTo"], event["lines"][0]["quantity"]) == (
        True, "sellable", "1")
    with pytest.raises(FailedPrecondition):  # another inspection of the same return
        inspect(shelves, condition="used")


def test_a_broken_seal_or_used_goods_go_to_quarantine_not_for_sale(shelves, carrier):
    delivered(shelves)
    before = figures(shelves)
    approve(shelves, approval())
    approve(shelves, approval("as-2"))
    inspect(shelves, seal=False)
    inspect(shelves, "as-2", condition="damaged")
    assert figures(shelves) == (before[0], 0, 2)
    with shelves.transaction() as session:
        kinds = [(e.kind, e.quantity, e.quarantine_change, e.quarantined_after) for e in
                 session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "quarantine")
                                 .order_by(LedgerEntry.id))]
    assert kinds == [("quarantine", 0, 1, 1), ("quarantine", 0, 1, 2)]


def test_a_refused_return_restocks_nothing_and_bad_inspections_name_the_field(shelves, carrier):
    delivered(shelves)
    before = figures(shelves)
    approve(shelves, approval())
    with pytest.raises(InvalidArgument) as bad:
        inspect(shelves, condition="worn", accepted=False,
                lines=[("l-9", 1), ("l-1", 5), ("l-1", 1)])
    assert {(v.field, v.rule) for v in bad.value.violations} == {
        ("condition", "one_of"), ("note", "required"), ("lines[0].line_id", "known"),
        ("lines[0].quantity", "at_most_expected"), ("lines[1].quantity", "at_most_expected"),
        ("lines[2].line_id", "unique")}
    with pytest.raises(NotFound):
        inspect(shelves, "as-none")
    assert expectation(shelves).status == "expected"
    assert inspect(shelves, accepted=False, condition="used", note="有穿着痕迹") == (
        "inspected", "none", "")
    approve(shelves, approval("as-r", kind="repair"))  # her goods: never stocked
    assert inspect(shelves, "as-r") == ("inspected", "none", "")
    assert figures(shelves) == before


def test_an_exchange_is_reserved_at_approval_and_shipped_when_the_return_is_accepted(
        shelves, carrier):
    delivered(shelves)
    approve(shelves, approval(kind="exchange", exchange_sku="sku-80b"))
    row = expectation(shelves)
    assert row.exchange_status == "reserved"
    with shelves.transaction() as session:
        held = session.get(Reservation, returns.exchange_key("as-1"))
        # held past return_by: the parcel's journey never lets it lapse
        assert held.status == "held" and held.expires_at > datetime.now(timezone.utc) + timedelta(days=13)
        assert [(a.warehouse.code, a.sku_id, a.quantity) for a in held.allocations] == [
            ("GZ-SOUTH", "sku-80b", 1)]
    returns.book_return(shelves, "m-1", returns.Booking("as-1", own_waybill=False))
    status, restocked, shipment_id = inspect(shelves)
    assert (status, restocked) == ("inspected", "sellable") and shipment_id
    assert figures(shelves, "sku-80b") == (3, 0, 0)  # committed: 4 - 1 on hand, nothing held
    assert shipments.book_pending(shelves, shipment_ids=[shipment_id]) == 1
    with shelves.transaction() as session:
        parcel = session.get(Shipment, shipment_id)
        assert (parcel.order_id, parcel.aftersale_request_id) == ("", "as-1")  # moves no order
        assert shipments.recipient_of(parcel)["recipient"] == "李四"
        assert [i["sku_id"] for i in parcel.items] == ["sku-80b"]
    [(_, shipped)] = published(shelves, "exchange.shipped")
    assert (shipped["shipmentId"], shipped["lines"][0]["skuId"]) == (shipment_id, "sku-80b")
    assert shipped["waybillNo"]
    [created] = [d for t, d in published(shelves, "shipment.created")
                 if d.get("aftersaleRequestId") == "as-1"]
    assert (created["shipmentId"], created.get("orderId", ""), created["shipmentCount"]) == (
        shipment_id, "", 1)
    assert expectation(shelves).exchange_status == "shipped"


def test_closing_drops_the_expectation_and_releases_the_exchange_once(shelves, carrier):
    delivered(shelves)
    approve(shelves, approval(kind="exchange", exchange_sku="sku-80b"))
    assert figures(shelves, "sku-80b") == (4, 1, 0)
    close(shelves)
    close(shelves, event_id="evt-c2")  # announced again
    assert figures(shelves, "sku-80b") == (4, 0, 0)
    row = expectation(shelves)
    assert (row.status, row.exchange_status) == ("closed", "released")
    approve(shelves, approval(kind="exchange", exchange_sku="sku-80b"), "evt-late")
    assert figures(shelves, "sku-80b") == (4, 0, 0)  # a late approval reserves nothing
    with pytest.raises(FailedPrecondition):
        returns.book_return(shelves, "m-1", returns.Booking("as-1", True, "sf", "SF1234567890"))
    # closed before it was approved (events out of order): the approval changes nothing
    close(shelves, "as-3", "expired")
    approve(shelves, approval("as-3", kind="exchange", exchange_sku="sku-80b"))
    assert expectation(shelves, "as-3").status == "closed"
    assert figures(shelves, "sku-80b") == (4, 0, 0)


def test_an_exchange_nobody_has_in_stock_is_announced_unavailable(shelves, carrier):
    delivered(shelves)
    approve(shelves, approval(kind="exchange", exchange_sku="sku-80b", quantity=2))
    approve(shelves, approval("as-2", kind="exchange", exchange_sku="sku-80b", quantity=2))
    approve(shelves, approval("as-3", kind="exchange", exchange_sku="sku-80b", quantity=2))
    # SH-EAST 1 + GZ-SOUTH 4 = 5: the third asks for units that are held for the first two
    assert [expectation(shelves, r).exchange_status for r in ("as-1", "as-2", "as-3")] == [
        "reserved", "reserved", "unavailable"]
    [(_, event)] = published(shelves, "exchange.unavailable")
    assert (event["requestId"], event["lines"][0]["skuId"]) == ("as-3", "sku-80b")


def test_a_late_booking_and_a_carrier_outage_change_nothing(shelves, carrier, monkeypatch):
    delivered(shelves)
    approve(shelves, approval("as-late", return_by=datetime.now(timezone.utc) - timedelta(hours=1)))
    with pytest.raises(FailedPrecondition) as late:
        returns.book_return(shelves, "m-1", returns.Booking("as-late", True, "sf", "SF1234567890"))
    assert [(v.field, v.rule) for v in late.value.violations] == [("request_id", "return_by")]
    approve(shelves, approval())
    monkeypatch.setenv("MALL_LOGISTICS_CARRIER_SF_URL", "http://127.0.0.1:9/std/service")
    with pytest.raises(FailedPrecondition) as down:
        returns.book_return(shelves, "m-1", returns.Booking("as-1", own_waybill=False))
    assert [(v.field, v.rule) for v in down.value.violations] == [("carrier", "available")]
    assert expectation(shelves).status == "expected" and published(shelves, "return.booked") == []


def test_an_exchange_whose_hold_lapsed_is_reserved_again_when_the_return_arrives(shelves, carrier):
    delivered(shelves)
    approve(shelves, approval(kind="exchange", exchange_sku="sku-80b"))
    with shelves.transaction() as session:  # the hold ran out (say the parcel took weeks)
        session.get(Reservation, returns.exchange_key("as-1")).expires_at = \
            datetime.now(timezone.utc) - timedelta(seconds=1)
    from services.logistics import reservations
    assert reservations.expire_due(shelves) == 1
    assert figures(shelves, "sku-80b") == (4, 0, 0)
    _, _, shipment_id = inspect(shelves)
    assert shipment_id and figures(shelves, "sku-80b") == (3, 0, 0)  # held again and committed
    assert published(shelves, "exchange.unavailable") == []
