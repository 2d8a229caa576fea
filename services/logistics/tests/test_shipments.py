"""Shipments from paid orders: one per warehouse of the allocation, the carrier chosen by the
rules, waybills booked with the carrier (the stand-in, over HTTP), discreet packaging masked
everywhere outside the warehouse."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from services.logistics import carriers, fulfilment, reservations, shipments
from services.logistics.models import Reservation, Shipment
from services.logistics.reservations import Line
from services.logistics.stock import Caller

from .conftest import paid_order, published

SAGA = Caller("order-saga", "r")


def hold(runtime, order_id, lines, province="广东省", **kw):
    with runtime.transaction() as session:
        reservations.reserve(runtime, session, order_id, [Line(*x) for x in lines], province,
                             caller=SAGA, **kw)


def pay(runtime, order, event_id="evt-1"):
    with runtime.transaction() as session:
        return [(s.id, s.warehouse.code, s.carrier) for s in
                fulfilment.order_paid(runtime, session, order, event_id)]


def parcels(runtime):
    with runtime.transaction() as session:
        return {s.warehouse.code: (s.carrier, s.waybill_no, s.state, s.sender_name, s.discreet)
                for s in session.scalars(select(Shipment))}


def test_carrier_rules(monkeypatch):
    assert carriers.choose([], "广东省", False) == "zto"
    assert carriers.choose([], "广东省", True) == "sf"         # priority shipping: the fastest
    assert carriers.choose(["zto"], "广东", True) == "zto"     # SF does not collect there
    assert carriers.choose(["zto", "sf"], "广东", True) == "sf"
    assert carriers.choose([], "西藏自治区", False) == "sf"     # ZTO does not serve Tibet
    assert carriers.choose(["zto"], "西藏", False) == "sf"      # nobody here does: whoever does
    monkeypatch.setenv("MALL_LOGISTICS_CARRIER_RULES", '{"fastest": ["zto", "sf"]}')
    assert carriers.choose([], "上海市", True) == "zto"


def test_a_paid_order_ships_once_from_each_warehouse_of_its_allocation(shelves, carrier):
    hold(shelves, "o-1", [("sku-75b", 7)])
    planned = pay(shelves, paid_order("o-1", [("sku-75b", 7)], priority=True))
    assert sorted((code, c) for _, code, c in planned) == [("GZ-SOUTH", "sf"), ("SH-EAST", "sf")]
    assert pay(shelves, paid_order("o-1", [("sku-75b", 7)], priority=True), "evt-2") == planned
    with shelves.transaction() as session:
        assert session.get(Reservation, "o-1").status == "committed"
    assert {code: waybill for code, (_, waybill, *_) in parcels(shelves).items()} == {
        "GZ-SOUTH": None, "SH-EAST": None}  # booked by the timer, not in the handler
    assert shipments.book_pending(shelves) == 2 and shipments.book_pending(shelves) == 0
    booked = parcels(shelves)
    assert all(w.startswith("SF") and state == "created" for _, w, state, _, _ in booked.values())
    assert booked["GZ-SOUTH"][3] == shipments.brand_sender()
    events = published(shelves)
    assert [t for t, _ in events] == ["shipment.created", "shipment.created"]
    data = events[0][1]
    assert (data["orderId"], data["memberId"], data["state"], data["shipmentCount"]) == (
        "o-1", "m-1", "SHIPMENT_CREATED", 2)
    assert data["items"][0]["title"] == "无钢圈聚拢文胸" and data["waybillNo"].startswith("SF")


def test_discreet_packaging_masks_the_goods_and_the_sender(shelves, carrier):
    hold(shelves, "o-1", [("sku-80b", 1)])
    pay(shelves, paid_order("o-1", [("sku-80b", 1)], province="上海市", discreet=True))
    shipments.book_pending(shelves)
    (carrier_code, waybill, _, sender, discreet), = parcels(shelves).values()
    assert (sender, discreet) == ("品牌仓储", True)
    parcel = carrier.standin.parcels[waybill]
    assert (parcel.sender, parcel.cargo) == ("品牌仓储", ["日用品"])  # as printed on the waybill
    (_, data), = published(shelves)
    assert data["discreet"] and data["items"] == [
        {"skuId": "sku-80b", "title": "日用品", "skuLabel": "", "quantity": "1"}]
    with shelves.transaction() as session:  # the recipient is sealed at rest
        sealed = session.scalar(select(Shipment.recipient_sealed))
    assert "李四" not in sealed and "13900000000" not in sealed


def test_a_lapsed_hold_is_reserved_again_and_a_vanished_stock_is_reported(shelves, carrier):
    hold(shelves, "o-1", [("sku-75b", 2)], hold_seconds=60)
    reservations.expire_due(shelves, now=datetime.now(timezone.utc) + timedelta(seconds=61))
    assert len(pay(shelves, paid_order("o-1", [("sku-75b", 2)]))) == 1
    with shelves.transaction() as session:
        assert session.get(Reservation, "o-1").status == "committed"
    assert pay(shelves, paid_order("o-2", [("sku-75b", 40)], member_id="m-2")) == []
    (kind, data), = published(shelves, "inventory.paid_order_short")
    assert data == {"orderId": "o-2", "orderNo": "NO-o-2", "memberId": "m-2",
                    "reservationStatus": "missing",
                    "lines": [{"skuId": "sku-75b", "requested": "40", "missing": "34"}]}


def test_a_carrier_that_does_not_answer_leaves_the_waybill_for_the_next_round(
        shelves, carrier, monkeypatch):
    hold(shelves, "o-1", [("sku-75b", 1)])
    pay(shelves, paid_order("o-1", [("sku-75b", 1)]))
    monkeypatch.setenv("MALL_LOGISTICS_CARRIER_ZTO_URL", "http://127.0.0.1:9/std/service")
    assert shipments.book_pending(shelves) == 0
    with shelves.transaction() as session:
        shipment = session.scalar(select(Shipment))
        assert shipment.waybill_no is None and "EXP_RECE_CREATE_ORDER" in shipment.booking_error
    monkeypatch.setenv("MALL_LOGISTICS_CARRIER_ZTO_URL", carrier.url)
    assert shipments.book_pending(shelves) == 1
    assert published(shelves)[0][0] == "shipment.created"


def test_staff_book_chosen_orders_waybills_at_once(shelves, carrier, grpc_stub_for):
    import grpc
    import pytest
    from mall.logistics.v1 import logistics_pb2 as pb
    from mall.logistics.v1 import logistics_pb2_grpc as pb_grpc

    stub = grpc_stub_for("logistics", pb_grpc.LogisticsServiceStub)
    clerk = (("x-mall-user-id", "staff-li"), ("x-mall-roles", "warehouse"))
    hold(shelves, "o-1", [("sku-75b", 1)])
    hold(shelves, "o-2", [("sku-80b", 1)])
    pay(shelves, paid_order("o-1", [("sku-75b", 1)]))
    pay(shelves, paid_order("o-2", [("sku-80b", 1)]), "evt-2")
    reply = stub.BookWaybills(pb.BookWaybillsRequest(order_ids=["o-1", "o-1"]), metadata=clerk)
    assert reply.booked_now == 1 and [s.order_id for s in reply.shipments] == ["o-1"]
    assert reply.shipments[0].waybill_no
    again = stub.BookWaybills(pb.BookWaybillsRequest(order_ids=["o-1"]), metadata=clerk)
    assert again.booked_now == 0 and again.shipments[0].waybill_no == reply.shipments[0].waybill_no
    with shelves.transaction() as session:  # o-2 was not asked for: it waits for the timer
        assert session.scalar(select(Shipment).where(Shipment.order_id == "o-2")).waybill_no is None
    for bad in ([], [""]):
        with pytest.raises(grpc.RpcError) as err:
            stub.BookWaybills(pb.BookWaybillsRequest(order_ids=bad), metadata=clerk)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        stub.BookWaybills(pb.BookWaybillsRequest(order_ids=["o-2"]),
                          metadata=(("x-mall-user-id", "m-1"),))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_payment_heard_after_its_cancellation_ships_nothing(shelves, carrier):
    """order.paid and order.cancelled (staff cancelling a paid order) come on two queues: heard
    cancellation first, the stock goes back and the late payment neither reserves nor ships."""
    hold(shelves, "o-1", [("sku-75b", 2)])
    with shelves.transaction() as session:
        fulfilment.order_cancelled(shelves, session, "o-1", "staff", "evt-cancel")
    assert pay(shelves, paid_order("o-1", [("sku-75b", 2)])) == []
    assert parcels(shelves) == {}
    with shelves.transaction() as session:
        assert session.get(Reservation, "o-1").status == "released"
    assert published(shelves, "inventory.paid_order_short") == []


def test_a_gold_members_order_is_picked_before_an_earlier_standard_one(shelves, carrier):
    """Priority shipping (a tier benefit order.paid carries): her parcel is first in the booking
    queue whatever was paid before it, and goes with the warehouse's fastest carrier."""
    hold(shelves, "o-standard", [("sku-75b", 1)])
    hold(shelves, "o-gold", [("sku-75b", 1)])
    (standard,) = pay(shelves, paid_order("o-standard", [("sku-75b", 1)]), "evt-s")
    with shelves.transaction() as session:  # paid well before the gold member's order
        session.get(Shipment, standard[0]).created_at -= timedelta(minutes=10)
    (gold,) = pay(shelves, paid_order("o-gold", [("sku-75b", 1)], priority=True), "evt-g")
    assert (standard[2], gold[2]) == ("zto", "sf")  # the fastest carrier for her
    assert shipments.book_pending(shelves, limit=1) == 1
    with shelves.transaction() as session:
        booked = {s.order_id: bool(s.waybill_no) for s in session.scalars(select(Shipment))}
        assert booked == {"o-gold": True, "o-standard": False}
        assert session.get(Shipment, gold[0]).priority is True
    assert shipments.book_pending(shelves, limit=1) == 1  # then the standard one
    with shelves.transaction() as session:
        assert all(s.waybill_no for s in session.scalars(select(Shipment)))


def test_an_order_paid_without_the_flag_ships_by_preference(shelves, carrier):
    """An order.paid from before the flag (or a tier without the benefit) is a standard order,
    whatever its tier rank says: the rank no longer picks the carrier."""
    from mall.events.v1 import order_events_pb2 as orders

    event = orders.OrderPaid(order_id="o-old", member_tier_rank=3,
                             shipping_address={"province": "广东省", "city": "深圳市"},
                             lines=[orders.OrderEventLine(sku_id="sku-75b", quantity=1)])
    order = shipments.PaidOrder.from_event(event)
    assert order.priority is False
    hold(shelves, "o-old", [("sku-75b", 1)])
    assert [c for *_, c in pay(shelves, order)] == ["zto"]


def test_a_gift_with_purchase_ships_with_the_order_marked_on_the_packing_list(shelves, carrier):
    from services.logistics.api import packing_list_message
    from services.logistics.shipments import PaidLine, PaidOrder

    hold(shelves, "o-gift", [("sku-75b", 1), ("sku-80b", 1)])
    order = paid_order("o-gift", [("sku-75b", 1)])
    order = PaidOrder(order.order_id, order.order_no, order.member_id,
                      order.lines + (PaidLine("sku-80b", 1, "收纳袋", "", "BAG", gift=True),),
                      order.address, order.discreet)
    pay(shelves, order)
    with shelves.transaction() as session:
        for shipment in session.scalars(select(Shipment)):
            listed = packing_list_message(shipment)
            picking = {line.sku_id: line.gift for line in listed.picking}
            assert picking == {line.sku_id: line.gift for line in listed.customer_copy}
            assert picking.get("sku-80b", True) is True and picking.get("sku-75b", False) is False
        items = [i for s in session.scalars(select(Shipment)) for i in s.items]
    assert sorted((i["sku_id"], i.get("gift", False)) for i in items) == [
        ("sku-75b", False), ("sku-80b", True)]
