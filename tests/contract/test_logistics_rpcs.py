"""What logistics promises its callers (the admin console and the shopper through the gateway,
order's checkout saga, the carrier's pushes): every RPC of LogisticsService through its real gRPC
server, with its roles, status codes and field violations. The SKUs it may stock and the paid
orders it ships come in as the catalog and order events its worker consumes."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import logistics_events_pb2 as levents
from mall.events.v1 import order_events_pb2 as order_events
from mall.logistics.v1 import logistics_pb2 as pb
from mall.logistics.v1 import logistics_pb2_grpc as pb_grpc

from tests.contract.support_b import (
    OTHER_SHOPPER,
    SHOPPER,
    assert_refused_to_strangers,
    deliver,
    fengqiao_route_push,
    logistics_world,
    refused,
    register_skus,
    staff,
    violations,
)

CLERK = staff("warehouse", "staff-li")
EAST = pb.Warehouse(code="SH-EAST", name="华东仓", province="上海市", city="上海市", district="青浦区",
                    latitude=31.1497, longitude=121.1246, priority=100, carriers=["sf", "zto"])
SOUTH = pb.Warehouse(code="GZ-SOUTH", name="华南仓", province="广东省", city="广州市",
                     district="白云区", latitude=23.3874, longitude=113.2989, priority=50)
SHENZHEN = common_pb2.Address(recipient="李四", phone="13900000000", province="广东省",
                              city="深圳市", district="南山区", detail="科技园 1 号")


@pytest.fixture(scope="module")
def world():
    with logistics_world() as running:
        yield running


@pytest.fixture
def logistics(runtime_for, world):
    runtime = runtime_for("logistics")
    register_skus(runtime, "p-bra", ["sku-75b", "sku-80b"])
    return runtime


@pytest.fixture
def stub(logistics, grpc_stub_for):
    return grpc_stub_for("logistics", pb_grpc.LogisticsServiceStub)


@pytest.fixture
def shelves(stub):
    """SH-EAST: 5 × sku-75b, 1 × sku-80b; GZ-SOUTH: 3 × sku-75b, 4 × sku-80b."""
    for warehouse in (EAST, SOUTH):
        stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=warehouse), metadata=CLERK)
    for code, sku, quantity in (("SH-EAST", "sku-75b", 5), ("SH-EAST", "sku-80b", 1),
                                ("GZ-SOUTH", "sku-75b", 3), ("GZ-SOUTH", "sku-80b", 4)):
        stub.ReceiveStock(pb.ReceiveStockRequest(warehouse_code=code, sku_id=sku, quantity=quantity),
                          metadata=CLERK)
    return stub


def reserve(order_id, lines, address=SHENZHEN, hold_seconds=600) -> pb.ReserveRequest:
    return pb.ReserveRequest(order_id=order_id, shipping_address=address, hold_seconds=hold_seconds,
                             lines=[pb.ReserveLine(sku_id=s, quantity=q) for s, q in lines])


def test_warehouses_are_created_and_listed_by_priority(stub):
    east = stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=EAST), metadata=CLERK)
    assert (east.code, east.active, list(east.carriers)) == ("SH-EAST", True, ["sf", "zto"])  # unset: active
    stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=SOUTH), metadata=staff("admin"))
    spare = stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=pb.Warehouse(
        code="BJ-SPARE", name="备用仓", province="北京市", city="北京市", active=False, priority=900)),
        metadata=CLERK)
    assert spare.HasField("active") and not spare.active
    listed = stub.ListWarehouses(pb.ListWarehousesRequest(), metadata=CLERK).warehouses
    assert [w.code for w in listed] == ["SH-EAST", "GZ-SOUTH"]
    everything = stub.ListWarehouses(pb.ListWarehousesRequest(include_inactive=True), metadata=CLERK)
    assert [w.code for w in everything.warehouses] == ["BJ-SPARE", "SH-EAST", "GZ-SOUTH"]

    err = refused(stub.CreateWarehouse, pb.CreateWarehouseRequest(warehouse=EAST), metadata=CLERK)
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    err = refused(stub.CreateWarehouse, pb.CreateWarehouseRequest(warehouse=pb.Warehouse(
        code="hz 1", name="杭州仓", city="杭州市", latitude=91, priority=2000, carriers=["ems"])),
        metadata=CLERK)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in violations(err)} == {
        "warehouse.code", "warehouse.province", "warehouse.latitude", "warehouse.priority",
        "warehouse.carriers[0]"}
    assert_refused_to_strangers(stub.CreateWarehouse, pb.CreateWarehouseRequest(warehouse=EAST),
                                allowed_roles=("warehouse",))
    assert_refused_to_strangers(stub.ListWarehouses, pb.ListWarehousesRequest(),
                                allowed_roles=("warehouse",))


def test_stock_is_received_adjusted_moved_and_read_back(shelves):
    stub = shelves
    keyed = (*CLERK, ("idempotency-key", "pda-scan-0001"))
    receipt = pb.ReceiveStockRequest(warehouse_code="GZ-SOUTH", sku_id="sku-80b", quantity=6,
                                     reason="DN-7")
    first = stub.ReceiveStock(receipt, metadata=keyed)
    again = stub.ReceiveStock(receipt, metadata=keyed)  # a retried scan
    assert (first.stock.on_hand, first.replayed) == (10, False)
    assert (again.replayed, again.entry.id, again.stock.on_hand) == (True, first.entry.id, 10)
    assert (first.entry.kind, first.entry.actor_user_id, first.entry.reason) == (pb.RECEIPT, "staff-li", "DN-7")

    damaged = stub.AdjustStock(pb.AdjustStockRequest(
        warehouse_code="GZ-SOUTH", sku_id="sku-80b", kind=pb.DAMAGE, delta=-2, reason="破损"),
        metadata=CLERK)
    assert (damaged.stock.on_hand, damaged.entry.quantity, damaged.entry.on_hand_after) == (8, -2, 8)
    err = refused(stub.AdjustStock, pb.AdjustStockRequest(
        warehouse_code="SH-EAST", sku_id="sku-80b", kind=pb.COUNT_CORRECTION, delta=-2, reason="盘点"),
        metadata=CLERK)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and violations(err) == {("delta", "not_below_zero")}

    moved = stub.TransferStock(pb.TransferStockRequest(
        from_warehouse_code="GZ-SOUTH", to_warehouse_code="SH-EAST", sku_id="sku-80b", quantity=3,
        reason="调拨"), metadata=CLERK)
    assert (moved.from_stock.on_hand, moved.to_stock.on_hand) == (5, 4)
    assert sorted(e.quantity for e in moved.entries) == [-3, 3]
    err = refused(stub.TransferStock, pb.TransferStockRequest(
        from_warehouse_code="SH-EAST", to_warehouse_code="GZ-SOUTH", sku_id="sku-80b", quantity=50),
        metadata=CLERK)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION

    policy = stub.SetStockPolicy(pb.SetStockPolicyRequest(
        warehouse_code="SH-EAST", sku_id="sku-80b", safety_stock=1, low_stock_threshold=5), metadata=CLERK)
    assert (policy.on_hand, policy.safety_stock, policy.sellable, policy.level) == (4, 1, 3, levents.LOW)

    got = stub.GetStock(pb.GetStockRequest(sku_ids=["sku-80b", "sku-75b"]), metadata=CLERK).skus
    assert [(s.sku_id, sorted((w.warehouse_code, w.on_hand, w.sellable) for w in s.warehouses))
            for s in got] == [("sku-80b", [("GZ-SOUTH", 5, 5), ("SH-EAST", 4, 3)]),
                              ("sku-75b", [("GZ-SOUTH", 3, 3), ("SH-EAST", 5, 5)])]
    # the public figures: any caller, summed over active warehouses
    available = stub.GetAvailability(pb.GetAvailabilityRequest(sku_ids=["sku-75b", "sku-80b"]),
                                     metadata=SHOPPER).skus
    assert [(a.sku_id, a.sellable) for a in available] == [("sku-75b", 8), ("sku-80b", 8)]
    assert stub.GetAvailability(pb.GetAvailabilityRequest(sku_ids=["sku-75b"])).skus[0].sellable == 8

    ledger = stub.ListLedger(pb.ListLedgerRequest(sku_id="sku-80b", warehouse_code="SH-EAST"),
                             metadata=CLERK).entries
    assert [(e.kind, e.quantity) for e in ledger] == [(pb.TRANSFER, 3), (pb.RECEIPT, 1)]  # newest first
    assert len(stub.ListLedger(pb.ListLedgerRequest(sku_id="sku-80b", limit=2), metadata=CLERK).entries) == 2
    low = stub.ListLowStock(pb.ListLowStockRequest(warehouse_code="SH-EAST"), metadata=CLERK).stock
    # at or below the threshold (5 by default), lowest sellable first
    assert [(s.sku_id, s.sellable, s.level) for s in low] == [("sku-80b", 3, levents.LOW),
                                                              ("sku-75b", 5, levents.LOW)]
    assert ("SH-EAST", "sku-80b") in {(s.warehouse_code, s.sku_id) for s in stub.ListLowStock(
        pb.ListLowStockRequest(), metadata=CLERK).stock}


def test_stock_rpcs_name_bad_input_and_unknown_things(shelves):
    stub = shelves
    err = refused(stub.ReceiveStock, pb.ReceiveStockRequest(
        warehouse_code="SH-EAST", sku_id="sku-75b", quantity=0), metadata=CLERK)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and violations(err) == {("quantity", "whole_units")}
    err = refused(stub.ReceiveStock, pb.ReceiveStockRequest(
        warehouse_code="SH-EAST", sku_id="sku-nope", quantity=1), metadata=CLERK)
    assert err.code() == grpc.StatusCode.NOT_FOUND and violations(err) == {("sku_id", "exists")}
    err = refused(stub.ReceiveStock, pb.ReceiveStockRequest(
        warehouse_code="XX-NONE", sku_id="sku-75b", quantity=1), metadata=CLERK)
    assert err.code() == grpc.StatusCode.NOT_FOUND and {f for f, _ in violations(err)} == {"warehouse_code"}
    err = refused(stub.AdjustStock, pb.AdjustStockRequest(
        warehouse_code="SH-EAST", sku_id="sku-75b", kind=pb.DAMAGE, delta=3), metadata=CLERK)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in violations(err)} == {"delta", "reason"}
    err = refused(stub.SetStockPolicy, pb.SetStockPolicyRequest(
        warehouse_code="SH-EAST", sku_id="sku-75b", safety_stock=-1), metadata=CLERK)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and {f for f, _ in violations(err)} == {"safety_stock"}
    for call, request in ((stub.GetStock, pb.GetStockRequest()),
                          (stub.GetAvailability, pb.GetAvailabilityRequest()),
                          (stub.ListLedger, pb.ListLedgerRequest(limit=501))):
        err = refused(call, request, metadata=CLERK)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and violations(err), request

    for call, request in (
            (stub.ReceiveStock, pb.ReceiveStockRequest(warehouse_code="SH-EAST", sku_id="sku-75b",
                                                       quantity=1)),
            (stub.AdjustStock, pb.AdjustStockRequest(warehouse_code="SH-EAST", sku_id="sku-75b",
                                                     kind=pb.DAMAGE, delta=-1, reason="破损")),
            (stub.TransferStock, pb.TransferStockRequest(from_warehouse_code="SH-EAST",
                                                         to_warehouse_code="GZ-SOUTH",
                                                         sku_id="sku-75b", quantity=1)),
            (stub.SetStockPolicy, pb.SetStockPolicyRequest(warehouse_code="SH-EAST", sku_id="sku-75b")),
            (stub.GetStock, pb.GetStockRequest(sku_ids=["sku-75b"])),
            (stub.ListLedger, pb.ListLedgerRequest(sku_id="sku-75b")),
            (stub.ListLowStock, pb.ListLowStockRequest())):
        assert_refused_to_strangers(call, request, allowed_roles=("warehouse",))


def test_reservations_take_the_nearest_warehouse_and_are_idempotent_by_order(shelves):
    stub = shelves
    # internal calls of order's checkout saga: no role asked
    held = stub.Reserve(reserve("o-1", [("sku-75b", 2), ("sku-80b", 1)]))
    assert (held.order_id, held.status) == ("o-1", pb.HELD) and held.expires_at
    assert sorted((a.warehouse_code, a.sku_id, a.quantity) for a in held.allocations) == [
        ("GZ-SOUTH", "sku-75b", 2), ("GZ-SOUTH", "sku-80b", 1)]  # Shenzhen: Guangzhou is nearest
    again = stub.Reserve(reserve("o-1", [("sku-80b", 1), ("sku-75b", 2)]))  # a retry, lines in any order
    assert again.allocations == held.allocations
    err = refused(stub.Reserve, reserve("o-1", [("sku-75b", 1)]))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert violations(err) == {("order_id", "reused")}

    farther = stub.Reserve(reserve("o-2", [("sku-75b", 4)]))  # 1 left in Guangzhou, 5 in Shanghai
    assert [(a.warehouse_code, a.quantity) for a in farther.allocations] == [("SH-EAST", 4)]  # one parcel
    err = refused(stub.Reserve, reserve("o-3", [("sku-75b", 50), ("sku-80b", 1)]))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert violations(err) == {("lines[0].quantity", "in_stock")}
    err = refused(stub.Reserve, pb.ReserveRequest(order_id="o-4", lines=[pb.ReserveLine(
        sku_id="sku-75b", quantity=0)], shipping_address=common_pb2.Address(province="火星"), hold_seconds=5))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {f for f, _ in violations(err)} == {"lines[0].quantity", "shipping_address.province", "hold_seconds"}

    released = stub.Release(pb.ReleaseRequest(order_id="o-2", reason="member"))
    assert (released.status, released.reason) == (pb.RELEASED, "member")
    assert stub.Release(pb.ReleaseRequest(order_id="o-2", reason="member")).status == pb.RELEASED
    err = refused(stub.Commit, pb.CommitRequest(order_id="o-2"))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert stub.Commit(pb.CommitRequest(order_id="o-1")).status == pb.COMMITTED
    assert stub.Commit(pb.CommitRequest(order_id="o-1")).status == pb.COMMITTED  # idempotent
    assert refused(stub.Release, pb.ReleaseRequest(order_id="o-1")).code() == grpc.StatusCode.FAILED_PRECONDITION
    fetched = stub.GetReservation(pb.GetReservationRequest(order_id="o-1"))
    assert fetched.status == pb.COMMITTED and sorted((x.sku_id, x.quantity) for x in fetched.lines) == [
        ("sku-75b", 2), ("sku-80b", 1)]
    assert refused(stub.GetReservation, pb.GetReservationRequest(order_id="o-none")).code() == \
        grpc.StatusCode.NOT_FOUND
    available = stub.GetAvailability(pb.GetAvailabilityRequest(sku_ids=["sku-75b"])).skus[0]
    assert available.sellable == 6  # 8, less the 2 committed; the released hold came back


def paid(order_id: str, member_id: str = "m-1", discreet: bool = True) -> order_events.OrderPaid:
    return order_events.OrderPaid(
        order_id=order_id, order_no=f"N-{order_id}", member_id=member_id, paid_fen=39800,
        shipping_address=SHENZHEN, discreet_packaging=discreet, member_tier_rank=0,
        lines=[order_events.OrderEventLine(sku_id="sku-75b", quantity=2, title="云朵无钢圈文胸",
                                           sku_label="75B 黑色", sku_code="SKU-75B", line_id="l-1")])


@pytest.fixture
def booked(shelves, logistics):
    """o-1 (m-1, discreet) reserved, paid and its waybill booked: one parcel from Guangzhou."""
    stub = shelves
    stub.Reserve(reserve("o-1", [("sku-75b", 2)]))
    deliver(logistics, "order", "order.paid", paid("o-1"))
    reply = stub.BookWaybills(pb.BookWaybillsRequest(order_ids=["o-1"]), metadata=CLERK)
    assert reply.booked_now == 1
    [shipment] = reply.shipments
    return stub, shipment


def test_shipments_are_booked_in_bulk_and_shown_to_staff_and_their_owner_only(booked):
    stub, shipment = booked
    assert (shipment.order_id, shipment.order_no, shipment.member_id) == ("o-1", "N-o-1", "m-1")
    assert (shipment.warehouse_code, shipment.state) == ("GZ-SOUTH", levents.SHIPMENT_CREATED)
    assert shipment.waybill_no and shipment.carrier in ("sf", "zto") and shipment.carrier_name
    assert shipment.discreet and shipment.sender_name == "品牌仓储"
    assert [(i.title, i.quantity) for i in shipment.items] == [("日用品", 2)]  # masked: discreet
    again = stub.BookWaybills(pb.BookWaybillsRequest(order_ids=["o-1", "o-1"]), metadata=CLERK)
    assert again.booked_now == 0 and again.shipments[0].waybill_no == shipment.waybill_no
    err = refused(stub.BookWaybills, pb.BookWaybillsRequest(), metadata=CLERK)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and violations(err) == {("order_ids", "count")}
    assert_refused_to_strangers(stub.BookWaybills, pb.BookWaybillsRequest(order_ids=["o-1"]),
                                allowed_roles=("warehouse",))

    assert [s.id for s in stub.ListShipments(pb.ListShipmentsRequest(), metadata=CLERK).shipments] == [shipment.id]
    assert [s.id for s in stub.ListShipments(pb.ListShipmentsRequest(order_id="o-1"),
                                             metadata=SHOPPER).shipments] == [shipment.id]
    assert stub.ListShipments(pb.ListShipmentsRequest(), metadata=OTHER_SHOPPER).shipments == []
    assert stub.ListShipments(pb.ListShipmentsRequest(member_id="m-1"),  # a shopper sees only their own
                              metadata=OTHER_SHOPPER).shipments == []
    assert refused(stub.ListShipments, pb.ListShipmentsRequest()).code() == grpc.StatusCode.UNAUTHENTICATED

    mine = stub.GetShipment(pb.GetShipmentRequest(shipment_id=shipment.id), metadata=SHOPPER)
    assert mine.id == shipment.id and [s.state for s in mine.timeline] == [levents.SHIPMENT_CREATED]
    assert stub.GetShipment(pb.GetShipmentRequest(shipment_id=shipment.id), metadata=CLERK).id == shipment.id
    for metadata in (OTHER_SHOPPER, SHOPPER):
        shipment_id = shipment.id if metadata is OTHER_SHOPPER else "SHP-NONE"
        assert refused(stub.GetShipment, pb.GetShipmentRequest(shipment_id=shipment_id),
                       metadata=metadata).code() == grpc.StatusCode.NOT_FOUND


def test_a_shopper_exports_her_own_shipments_with_their_recipient(booked):
    stub, shipment = booked
    request = common_pb2.ExportMemberDataRequest(member_id="m-1")
    exported = stub.ExportMemberData(request, metadata=SHOPPER)
    [parcel] = exported.shipments
    assert parcel.shipment.id == shipment.id and not parcel.recipient_erased
    assert (parcel.recipient.recipient, parcel.recipient.phone, parcel.recipient.detail) == (
        "李四", "13900000000", "科技园 1 号")
    assert stub.ExportMemberData(request, metadata=staff("admin")) == exported
    for stranger in (OTHER_SHOPPER, CLERK):
        assert refused(stub.ExportMemberData, request,
                       metadata=stranger).code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_packing_list_names_the_goods_for_the_warehouse_only(booked):
    stub, shipment = booked
    packing = stub.GetPackingList(pb.GetPackingListRequest(shipment_id=shipment.id), metadata=CLERK)
    assert (packing.order_no, packing.warehouse_code, packing.waybill_no) == (
        "N-o-1", "GZ-SOUTH", shipment.waybill_no)
    assert packing.discreet and packing.plain_package and packing.sender_name == "品牌仓储"
    assert [(p.sku_id, p.title, p.quantity) for p in packing.picking] == [("sku-75b", "云朵无钢圈文胸", 2)]
    assert [p.title for p in packing.customer_copy] == ["日用品"]
    assert refused(stub.GetPackingList, pb.GetPackingListRequest(shipment_id="SHP-NONE"),
                   metadata=CLERK).code() == grpc.StatusCode.NOT_FOUND
    assert_refused_to_strangers(stub.GetPackingList, pb.GetPackingListRequest(shipment_id=shipment.id),
                                allowed_roles=("warehouse",))


def beijing(minutes_from_now: int) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(minutes=minutes_from_now)).strftime(
        "%Y-%m-%d %H:%M:%S")


def test_a_carrier_push_signed_as_sf_signs_it_moves_the_parcel_and_a_forgery_does_not(booked):
    stub, shipment = booked
    carrier = shipment.carrier
    forged = stub.HandleCarrierNotification(pb.CarrierNotification(
        carrier=carrier, headers={"content-type": "application/x-www-form-urlencoded"},
        body=fengqiao_route_push(carrier, shipment.waybill_no, "80", beijing(-1), checkword="guessed")))
    assert (forged.http_status, json.loads(forged.body)["return_code"]) == (400, "1000")
    stale = stub.HandleCarrierNotification(pb.CarrierNotification(
        carrier=carrier, body=fengqiao_route_push(carrier, shipment.waybill_no, "80", beijing(-1),
                                                  timestamp_ms=1_000_000_000_000)))
    assert stale.http_status == 400
    assert stub.GetShipment(pb.GetShipmentRequest(shipment_id=shipment.id),
                            metadata=CLERK).state == levents.SHIPMENT_CREATED

    genuine = stub.HandleCarrierNotification(pb.CarrierNotification(
        carrier=carrier, headers={"content-type": "application/x-www-form-urlencoded"},
        body=fengqiao_route_push(carrier, shipment.waybill_no, "80", beijing(1))))
    assert genuine.http_status == 200 and genuine.content_type.startswith("application/json")
    assert json.loads(genuine.body)["return_code"] == "0000"
    delivered = stub.GetShipment(pb.GetShipmentRequest(shipment_id=shipment.id), metadata=SHOPPER)
    assert delivered.state == levents.SHIPMENT_DELIVERED
    assert [s.state for s in delivered.timeline] == [levents.SHIPMENT_CREATED, levents.SHIPMENT_DELIVERED]
    assert delivered.timeline[-1].description == "快件已签收"
    unknown = stub.HandleCarrierNotification(pb.CarrierNotification(
        carrier=carrier, body=fengqiao_route_push(carrier, "SF000000000", "30", beijing(-1))))
    assert unknown.http_status == 200  # acknowledged, else the carrier pushes it forever


def test_the_ledger_of_a_sku_that_was_sold_can_be_listed(shelves):
    stub = shelves
    stub.Reserve(reserve("o-1", [("sku-75b", 1)]))
    stub.Commit(pb.CommitRequest(order_id="o-1"))
    entries = stub.ListLedger(pb.ListLedgerRequest(sku_id="sku-75b", warehouse_code="GZ-SOUTH"),
                              metadata=CLERK).entries
    assert [e.quantity for e in entries][0] == -1  # the commit took one off on-hand
    assert {e.kind for e in entries} >= {pb.RESERVATION, pb.COMMIT}


# --- after-sales returns ------------------------------------------------------------------------

def approved(request_id: str, kind: str = "return_refund"):
    from mall.events.v1 import support_events_pb2 as support_events

    return support_events.AfterSaleApproved(
        request_id=request_id, order_id="o-1", member_id="m-1", kind=kind,
        lines=[support_events.AfterSaleLine(line_id="l-1", sku_id="sku-75b", product_id="p-bra",
                                            quantity=2, exchange_sku_id="sku-80b" if kind == "exchange" else "")],
        return_expected=True, free_return_shipping=True, approved_by="staff-cs",
        return_by=(datetime.now(ZoneInfo("UTC")) + timedelta(days=7)).isoformat())


@pytest.fixture
def expected(booked, logistics):
    """o-1's two units of sku-75b are coming back (as-1, return and refund; as-2, exchange)."""
    stub, _ = booked
    deliver(logistics, "support", "aftersale.approved", approved("as-1"))
    deliver(logistics, "support", "aftersale.approved", approved("as-2", "exchange"))
    return stub


def test_the_shopper_books_her_return_with_the_carrier_once_and_nobody_else_can(expected, world):
    stub = expected
    request = pb.BookReturnRequest(request_id="as-1", pickup_at="2026-12-06T09:00:00+08:00")
    assert refused(stub.BookReturn, request).code() == grpc.StatusCode.UNAUTHENTICATED
    err = refused(stub.BookReturn, request, metadata=OTHER_SHOPPER)
    assert (err.code(), violations(err)) == (grpc.StatusCode.NOT_FOUND, {("request_id", "exists")})
    first = stub.BookReturn(request, metadata=SHOPPER)
    again = stub.BookReturn(request, metadata=SHOPPER)
    assert (first.status, first.carrier, first.own_waybill, first.warehouse_code) == (
        "booked", "sf", False, "GZ-SOUTH")
    assert first.waybill_no and again.waybill_no == first.waybill_no
    carrier, _ = world
    assert carrier.standin.parcels[first.waybill_no].sender == "李四"  # collected at her door
    bad = refused(stub.BookReturn, pb.BookReturnRequest(
        request_id="as-2", own_waybill=True, carrier="pigeon", waybill_no="no!"), metadata=SHOPPER)
    assert (bad.code(), violations(bad)) == (grpc.StatusCode.INVALID_ARGUMENT, {
        ("carrier", "known"), ("waybill_no", "format")})
    own = stub.BookReturn(pb.BookReturnRequest(request_id="as-2", own_waybill=True, carrier="zto",
                                               waybill_no="ZT7788990011"), metadata=SHOPPER)
    assert (own.carrier, own.waybill_no, own.own_waybill) == ("zto", "ZT7788990011", True)


def test_warehouse_staff_list_returns_by_status_page_by_page(expected):
    stub = expected
    assert_refused_to_strangers(stub.ListReturns, pb.ListReturnsRequest(), allowed_roles={"warehouse"})
    first = stub.ListReturns(pb.ListReturnsRequest(page=common_pb2.PageRequest(page_size=1)),
                             metadata=CLERK)
    second = stub.ListReturns(pb.ListReturnsRequest(page=common_pb2.PageRequest(
        page_size=1, page_token=first.page.next_page_token)), metadata=CLERK)
    assert [r.request_id for r in (*first.returns, *second.returns)] == ["as-2", "as-1"]
    [exchange] = first.returns
    assert (exchange.kind, exchange.exchange_status, exchange.free_return_shipping) == (
        "exchange", "reserved", True)
    assert [(x.line_id, x.sku_id, x.quantity, x.exchange_sku_id) for x in exchange.lines] == [
        ("l-1", "sku-75b", 2, "sku-80b")]
    assert exchange.warehouse_address.startswith("广东省 广州市")
    assert stub.ListReturns(pb.ListReturnsRequest(status="inspected"), metadata=CLERK).returns == []
    bad = refused(stub.ListReturns, pb.ListReturnsRequest(status="lost"), metadata=CLERK)
    assert violations(bad) == {("status", "one_of")}


def test_the_warehouse_inspects_a_return_into_quarantine_and_stock_shows_it(expected):
    stub = expected
    request = pb.InspectReturnRequest(
        request_id="as-1", lines=[pb.InspectedLine(line_id="l-1", quantity=2)], seal_intact=False,
        condition="used", accepted=True, note="吊牌已拆")
    assert_refused_to_strangers(stub.InspectReturn, request, allowed_roles={"warehouse"})
    bad = refused(stub.InspectReturn, pb.InspectReturnRequest(
        request_id="as-1", lines=[pb.InspectedLine(line_id="l-1", quantity=3)], condition="worn"),
        metadata=CLERK)
    assert (bad.code(), violations(bad)) == (grpc.StatusCode.INVALID_ARGUMENT, {
        ("lines[0].quantity", "at_most_expected"), ("condition", "one_of"), ("note", "required")})
    missing = refused(stub.InspectReturn, pb.InspectReturnRequest(
        request_id="as-9", lines=[pb.InspectedLine(line_id="l-1", quantity=1)], condition="used",
        accepted=True), metadata=CLERK)
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    done = stub.InspectReturn(request, metadata=CLERK)
    assert (done.status, done.inspection.restocked_to, done.inspection.inspected_by,
            [(x.line_id, x.received) for x in done.lines]) == (
        "inspected", "quarantine", "staff-li", [("l-1", 2)])
    [sku] = stub.GetStock(pb.GetStockRequest(sku_ids=["sku-75b"]), metadata=CLERK).skus
    south = {w.warehouse_code: w for w in sku.warehouses}["GZ-SOUTH"]
    assert (south.on_hand, south.quarantined, south.sellable) == (1, 2, 1)  # set aside: not for sale
    [entry] = [e for e in stub.ListLedger(pb.ListLedgerRequest(sku_id="sku-75b"),
                                          metadata=CLERK).entries if e.kind == pb.QUARANTINE]
    assert (entry.quantity, entry.quarantine_change, entry.quarantined_after) == (0, 2, 2)
    assert entry.reason.startswith("after-sale as-1")
    again = refused(stub.InspectReturn, pb.InspectReturnRequest(
        request_id="as-1", lines=[pb.InspectedLine(line_id="l-1", quantity=1)], condition="as_new",
        seal_intact=True, accepted=True), metadata=CLERK)
    assert (again.code(), violations(again)) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                 {("request_id", "not_inspected")})
