"""What logistics promises its consumers (catalog's availability, order, support, analytics): the
inventory.* and shipment.* events it publishes, envelope and proto
(protos/mall/events/v1/logistics_events.proto); and what it promises catalog and order: its worker
accepts their product and order events as they publish them."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import logistics_events_pb2 as ev
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from mall.logistics.v1 import logistics_pb2 as pb
from mall.logistics.v1 import logistics_pb2_grpc as pb_grpc

from servicekit.testing import outbox_events
from tests.contract.support_b import (
    assert_relayed,
    deliver,
    fengqiao_route_push,
    logistics_world,
    published,
    refused,
    register_skus,
    staff,
)

CLERK = staff("warehouse")
EAST = pb.Warehouse(code="SH-EAST", name="华东仓", province="上海市", city="上海市",
                    latitude=31.1497, longitude=121.1246, priority=100)
SOUTH = pb.Warehouse(code="GZ-SOUTH", name="华南仓", province="广东省", city="广州市",
                     latitude=23.3874, longitude=113.2989, priority=50)
SHENZHEN = common_pb2.Address(recipient="李四", phone="13900000000", province="广东省",
                              city="深圳市", district="南山区", detail="科技园 1 号")


@pytest.fixture(scope="module")
def world():
    with logistics_world() as running:
        yield running


@pytest.fixture
def logistics(runtime_for, world):
    return runtime_for("logistics")


@pytest.fixture
def stub(logistics, grpc_stub_for):
    stub = grpc_stub_for("logistics", pb_grpc.LogisticsServiceStub)
    for warehouse in (EAST, SOUTH):
        stub.CreateWarehouse(pb.CreateWarehouseRequest(warehouse=warehouse), metadata=CLERK)
    return stub


def stocked(logistics, stub, quantities=(("GZ-SOUTH", 3), ("SH-EAST", 5))):
    """sku-75b (of p-bra) in both warehouses."""
    register_skus(logistics, "p-bra", ["sku-75b"])
    for code, quantity in quantities:
        stub.ReceiveStock(pb.ReceiveStockRequest(warehouse_code=code, sku_id="sku-75b",
                                                 quantity=quantity), metadata=CLERK)


def on_hand(stub, sku_id="sku-75b") -> dict[str, tuple[int, int]]:
    [sku] = stub.GetStock(pb.GetStockRequest(sku_ids=[sku_id]), metadata=CLERK).skus
    return {w.warehouse_code: (w.on_hand, w.reserved) for w in sku.warehouses}


def reserve(stub, order_id, quantity):
    return stub.Reserve(pb.ReserveRequest(order_id=order_id, shipping_address=SHENZHEN, hold_seconds=600,
                                          lines=[pb.ReserveLine(sku_id="sku-75b", quantity=quantity)]))


def paid(order_id, quantity=2, discreet=True) -> order_events.OrderPaid:
    return order_events.OrderPaid(
        order_id=order_id, order_no=f"N-{order_id}", member_id="m-1", paid_fen=19900 * quantity,
        shipping_address=SHENZHEN, discreet_packaging=discreet,
        lines=[order_events.OrderEventLine(sku_id="sku-75b", quantity=quantity, title="云朵无钢圈文胸",
                                           sku_label="75B 黑色", sku_code="SKU-75B")])


def imported(order_id, quantity, province="广东省", deduct=True) -> order_events.OrderImported:
    return order_events.OrderImported(
        order_id=order_id, order_no=f"NO-{order_id}", channel="import:tmall", partner="tmall",
        batch_id="b-1", status="completed", deduct_stock=deduct, province=province,
        lines=[order_events.OrderEventLine(sku_id="sku-75b", quantity=quantity)])


# --- what logistics publishes -------------------------------------------------------------------

def test_availability_changed_on_each_change_of_what_can_be_sold(logistics, stub):
    stocked(logistics, stub)
    reserve(stub, "o-1", 3)
    stub.Release(pb.ReleaseRequest(order_id="o-1", reason="member"))
    reserve(stub, "o-2", 8)
    before_commit = len(outbox_events(logistics, "inventory.availability_changed"))
    stub.Commit(pb.CommitRequest(order_id="o-2"))  # on hand and reserved fall together: nothing to say
    changes = published(logistics, "inventory.availability_changed", ev.AvailabilityChanged)
    assert len(changes) == before_commit
    assert [[(s.sku_id, s.sellable, s.level) for s in c.skus] for c in changes] == [
        [("sku-75b", 3, ev.LOW)], [("sku-75b", 8, ev.LOW)],   # two receipts (LOW: at most 5 + 5)
        [("sku-75b", 5, ev.LOW)], [("sku-75b", 8, ev.LOW)],   # held, released
        [("sku-75b", 0, ev.OUT)]]                             # held to the last unit


def test_shipment_events_follow_the_parcel_and_mask_discreet_goods(logistics, stub, world):
    stocked(logistics, stub)
    reserve(stub, "o-1", 2)
    deliver(logistics, "order", "order.paid", paid("o-1"))
    [shipment] = stub.BookWaybills(pb.BookWaybillsRequest(order_ids=["o-1"]), metadata=CLERK).shipments
    accepted = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert stub.HandleCarrierNotification(pb.CarrierNotification(
        carrier=shipment.carrier, body=fengqiao_route_push(shipment.carrier, shipment.waybill_no, "80",
                                                           accepted))).http_status == 200

    [created] = published(logistics, "shipment.created", ev.ShipmentChanged)
    [delivered] = published(logistics, "shipment.delivered", ev.ShipmentChanged)
    for event in (created, delivered):
        assert (event.shipment_id, event.order_id, event.order_no, event.member_id) == (
            shipment.id, "o-1", "N-o-1", "m-1")
        assert (event.warehouse_code, event.carrier, event.waybill_no) == (
            "GZ-SOUTH", shipment.carrier, shipment.waybill_no)
        assert event.discreet and event.shipment_count == 1 and event.occurred_at
        assert [(i.sku_id, i.title, i.quantity) for i in event.items] == [("sku-75b", "日用品", 2)]
        assert "云朵" not in str(event)  # the product's name never leaves the warehouse
    assert (created.state, delivered.state) == (ev.SHIPMENT_CREATED, ev.SHIPMENT_DELIVERED)
    assert delivered.description == "快件已签收"


def test_a_paid_order_whose_stock_is_gone_is_announced_short(logistics, stub):
    stocked(logistics, stub)
    # o-1's hold never reached logistics (a hold released by order.cancelled is another story:
    # that order.paid came late for a cancelled order, which ships nothing)
    reserve(stub, "o-2", 8)  # someone else took every unit meanwhile
    deliver(logistics, "order", "order.paid", paid("o-1", 2))
    [short] = published(logistics, "inventory.paid_order_short", ev.PaidOrderShort)
    assert (short.order_id, short.order_no, short.member_id, short.reservation_status) == (
        "o-1", "N-o-1", "m-1", "missing")
    assert [(x.sku_id, x.requested, x.missing) for x in short.lines] == [("sku-75b", 2, 2)]
    assert stub.ListShipments(pb.ListShipmentsRequest(order_id="o-1"), metadata=CLERK).shipments == []


def test_a_points_mall_gift_ships_as_member_announces_it_or_is_unavailable(logistics, stub):
    from mall.events.v1 import member_events_pb2 as member_events

    stocked(logistics, stub)

    def gift(redemption_id, quantity):
        return member_events.PointsGiftRedeemed(
            redemption_id=redemption_id, member_id="m-1", item_id="i-1", title="真丝眼罩",
            sku_id="sku-75b", quantity=quantity, shipping_address=SHENZHEN,
            redeemed_at="2026-12-04T02:00:00Z")
    deliver(logistics, "member", "points.gift_redeemed", gift("r-1", 1))
    deliver(logistics, "member", "points.gift_redeemed", gift("r-2", 99))
    [planned] = published(logistics, "gift.shipment_planned", ev.GiftShipmentPlanned)
    [unavailable] = published(logistics, "gift.unavailable", ev.GiftUnavailable)
    assert (planned.redemption_id, planned.member_id, len(planned.shipment_ids)) == ("r-1", "m-1", 1)
    assert (unavailable.redemption_id, unavailable.member_id, unavailable.sku_id,
            unavailable.requested, unavailable.reason) == ("r-2", "m-1", "sku-75b", 99, "out_of_stock")
    [shipment] = stub.ListShipments(pb.ListShipmentsRequest(member_id="m-1"),
                                    metadata=CLERK).shipments
    assert (shipment.id, shipment.order_id, shipment.redemption_id) == (
        planned.shipment_ids[0], "", "r-1")
    assert on_hand(stub)["GZ-SOUTH"] == (2, 0)  # the nearest warehouse to Shenzhen


def test_the_relay_puts_availability_on_rabbitmq_as_catalog_reads_it(logistics, stub, relay_for,
                                                                     listen_for):
    changed = listen_for("logistics", "inventory.availability_changed")
    stocked(logistics, stub, quantities=(("SH-EAST", 12),))
    relay_for("logistics")
    envelope = assert_relayed(changed.next(), "logistics", "inventory.availability_changed")
    assert envelope["data"] == {"skus": [{"skuId": "sku-75b", "sellable": "12", "level": "IN_STOCK"}]}


# --- what logistics' worker accepts -------------------------------------------------------------

def test_product_events_tell_logistics_which_skus_it_may_stock(logistics, stub):
    receive = pb.ReceiveStockRequest(warehouse_code="SH-EAST", sku_id="sku-new", quantity=1)
    assert refused(stub.ReceiveStock, receive, metadata=CLERK).code().name == "NOT_FOUND"
    register_skus(logistics, "p-bra", ["sku-75b"], version=1, event_type="product.published")
    register_skus(logistics, "p-bra", ["sku-75b", "sku-new"], version=2, event_type="product.updated")
    assert stub.ReceiveStock(receive, metadata=CLERK).stock.on_hand == 1
    register_skus(logistics, "p-bra", ["sku-75b", "sku-new"], version=3, event_type="product.unpublished",
                  status="unpublished")
    register_skus(logistics, "p-bra", ["sku-75b"], version=1)  # a late, stale event changes nothing
    # an unpublished product's goods are still in the warehouse, and still counted
    assert stub.ReceiveStock(receive, metadata=CLERK).stock.on_hand == 2


def test_order_paid_ships_once_however_often_it_is_delivered(logistics, stub):
    stocked(logistics, stub)
    reserve(stub, "o-1", 2)
    first = deliver(logistics, "order", "order.paid", paid("o-1"))
    deliver(logistics, "order", "order.paid", paid("o-1"), event_id=first["id"])  # redelivered
    deliver(logistics, "order", "order.paid", paid("o-1"))  # announced twice
    assert stub.GetReservation(pb.GetReservationRequest(order_id="o-1")).status == pb.COMMITTED
    assert on_hand(stub)["GZ-SOUTH"] == (1, 0)
    assert len(stub.ListShipments(pb.ListShipmentsRequest(order_id="o-1"), metadata=CLERK).shipments) == 1


def test_order_cancelled_gives_the_held_stock_back(logistics, stub):
    stocked(logistics, stub)
    reserve(stub, "o-1", 2)
    deliver(logistics, "order", "order.cancelled", order_events.OrderCancelled(
        order_id="o-1", member_id="m-1", reason="timeout"))
    released = stub.GetReservation(pb.GetReservationRequest(order_id="o-1"))
    assert (released.status, released.reason) == (pb.RELEASED, "timeout")
    assert on_hand(stub)["GZ-SOUTH"] == (3, 0)
    # an order cancelled before it reserved anything is nothing to release, and no error
    deliver(logistics, "order", "order.cancelled", order_events.OrderCancelled(
        order_id="o-never", member_id="m-1", reason="member"))


def test_a_paid_order_cancelled_or_refunded_in_full_stops_its_unbooked_parcel(logistics, stub):
    stocked(logistics, stub)
    for order_id, event_type, message in (
            ("o-1", "order.cancelled", order_events.OrderCancelled(
                order_id="o-1", member_id="m-1", reason="缺货", was_paid=True)),
            ("o-2", "order.refunded", order_events.OrderRefunded(
                order_id="o-2", member_id="m-1", refund_id="r-1", refunded_fen=100,
                paid_fen=100, full=True))):
        reserve(stub, order_id, 1)
        deliver(logistics, "order", "order.paid", paid(order_id, 1))
        deliver(logistics, "order", event_type, message)
        (parcel,) = stub.ListShipments(pb.ListShipmentsRequest(order_id=order_id),
                                       metadata=CLERK).shipments
        assert parcel.state == ev.SHIPMENT_CANCELLED  # never booked: stopped at once
    assert on_hand(stub)["GZ-SOUTH"] == (3, 0)  # both committed units back on the shelf


def test_imported_orders_take_their_goods_from_the_nearest_warehouse_once(logistics, stub):
    stocked(logistics, stub)
    single = deliver(logistics, "order", "order.imported", imported("io-1", 2))
    deliver(logistics, "order", "order.imported", imported("io-1", 2), event_id=single["id"])
    deliver(logistics, "order", "order.imported", imported("io-1", 2))  # the same order again
    deliver(logistics, "order", "order.imported_batch", order_events.OrdersImported(
        batch_id="b-2", partner="tmall", orders=[
            imported("io-2", 1, province="上海市"),
            imported("io-3", 1, deduct=False),      # the partner's own stock: not ours to take
            imported("io-4", 99)]))                 # short: takes nothing
    assert on_hand(stub) == {"GZ-SOUTH": (1, 0), "SH-EAST": (4, 0)}


def test_member_deleted_keeps_a_parcel_on_its_way_addressed_until_it_arrives(logistics, stub):
    stocked(logistics, stub)
    reserve(stub, "o-1", 2)
    deliver(logistics, "order", "order.paid", paid("o-1"))
    deleted = member_events.MemberDeleted(member_id="m-1", deleted_at="2026-12-04T21:00:00Z")
    first = deliver(logistics, "member", "member.deleted", deleted)
    deliver(logistics, "member", "member.deleted", deleted, event_id=first["id"])
    exported = stub.ExportMemberData(common_pb2.ExportMemberDataRequest(member_id="m-1"),
                                     metadata=staff("admin"))
    [parcel] = exported.shipments
    # not delivered yet: the carrier still needs whom to hand it to (erased on delivery)
    assert (parcel.recipient.recipient, parcel.recipient_erased) == ("李四", False)


def test_a_presale_deposit_holds_the_stock_and_its_release_date_holds_the_booking(logistics, stub):
    """order.deposit_paid keeps the order's stock held until its balance window closed;
    order.paid's ships_from keeps its parcel unbooked until the release date."""
    from services.logistics import reservations, shipments
    from services.logistics.models import Shipment

    stocked(logistics, stub)
    reserve(stub, "o-pre", 1)
    closes = datetime.now(ZoneInfo("UTC")) + timedelta(days=10)
    deliver(logistics, "order", "order.deposit_paid", order_events.OrderDepositPaid(
        order_id="o-pre", member_id="m-1", hold_until=closes.isoformat().replace("+00:00", "Z")))
    assert reservations.expire_due(logistics, now=closes - timedelta(seconds=1)) == 0
    release = datetime.now(ZoneInfo("UTC")) + timedelta(days=12)
    paid_later = paid("o-pre", 1)
    paid_later.ships_from = release.isoformat().replace("+00:00", "Z")
    deliver(logistics, "order", "order.paid", paid_later)
    with logistics.transaction() as session:
        shipment = session.query(Shipment).filter_by(order_id="o-pre").one()
        assert shipment.ship_after is not None and shipment.waybill_no is None
    assert shipments.book_pending(logistics, order_ids=["o-pre"]) == 0


# --- after-sales: support's aftersale.* in, return.* and exchange.* out -------------------------

def aftersale_approved(request_id, kind="exchange", quantity=1, exchange_sku="sku-75b"):
    from mall.events.v1 import support_events_pb2 as support_events

    return support_events.AfterSaleApproved(
        request_id=request_id, order_id="o-1", member_id="m-1", kind=kind,
        lines=[support_events.AfterSaleLine(line_id="l-1", sku_id="sku-75b", product_id="p-bra",
                                            quantity=quantity, exchange_sku_id=exchange_sku,
                                            size="75B")],
        return_expected=True, free_return_shipping=False, approved_by="auto",
        approved_at="2026-12-05T01:00:00Z",
        return_by=(datetime.now(ZoneInfo("UTC")) + timedelta(days=7)).isoformat())


def aftersale_closed(request_id, outcome="withdrawn"):
    from mall.events.v1 import support_events_pb2 as support_events

    return support_events.AfterSaleClosed(
        request_id=request_id, order_id="o-1", member_id="m-1", kind="exchange",
        outcome=outcome, reason="撤回", closed_at="2026-12-05T02:00:00Z")


def test_an_approved_exchange_is_reserved_and_released_when_closed(logistics, stub):
    stocked(logistics, stub)
    reserve(stub, "o-1", 2)
    deliver(logistics, "order", "order.paid", paid("o-1"))  # GZ-SOUTH: 1 left on hand
    first = deliver(logistics, "support", "aftersale.approved", aftersale_approved("as-1"))
    deliver(logistics, "support", "aftersale.approved", aftersale_approved("as-1"),
            event_id=first["id"])  # redelivered
    deliver(logistics, "support", "aftersale.approved", aftersale_approved("as-1"))  # said twice
    held = stub.GetReservation(pb.GetReservationRequest(order_id="exchange:as-1"))
    assert (held.status, [(a.warehouse_code, a.quantity) for a in held.allocations]) == (
        pb.HELD, [("GZ-SOUTH", 1)])
    [expected] = stub.ListReturns(pb.ListReturnsRequest(), metadata=CLERK).returns
    assert (expected.request_id, expected.status, expected.warehouse_code,
            expected.exchange_status) == ("as-1", "expected", "GZ-SOUTH", "reserved")
    deliver(logistics, "support", "aftersale.closed", aftersale_closed("as-1"))
    deliver(logistics, "support", "aftersale.closed", aftersale_closed("as-1"))
    assert stub.GetReservation(pb.GetReservationRequest(order_id="exchange:as-1")).status == pb.RELEASED
    assert on_hand(stub)["GZ-SOUTH"] == (1, 0)
    assert stub.ListReturns(pb.ListReturnsRequest(), metadata=CLERK).returns == []
    # closed before its approval was heard: the approval reserves nothing
    deliver(logistics, "support", "aftersale.closed", aftersale_closed("as-2", "refused"))
    deliver(logistics, "support", "aftersale.approved", aftersale_approved("as-2"))
    assert on_hand(stub)["GZ-SOUTH"] == (1, 0)
    # nobody has 99: exchange.unavailable, as support reads it
    deliver(logistics, "support", "aftersale.approved", aftersale_approved("as-3", quantity=99))
    [unavailable] = published(logistics, "exchange.unavailable", ev.ExchangeUnavailable)
    assert (unavailable.request_id, unavailable.order_id, unavailable.member_id,
            [(x.line_id, x.sku_id, x.quantity) for x in unavailable.lines]) == (
        "as-3", "o-1", "m-1", [("l-1", "sku-75b", 99)])


def test_a_return_booked_and_inspected_announces_itself_and_ships_the_exchange(logistics, stub):
    stocked(logistics, stub)
    reserve(stub, "o-1", 2)
    deliver(logistics, "order", "order.paid", paid("o-1"))
    deliver(logistics, "support", "aftersale.approved", aftersale_approved("as-1"))
    stub.BookReturn(pb.BookReturnRequest(request_id="as-1"), metadata=(("x-mall-user-id", "m-1"),))
    inspected = stub.InspectReturn(pb.InspectReturnRequest(
        request_id="as-1", lines=[pb.InspectedLine(line_id="l-1", quantity=1)], seal_intact=True,
        condition="as_new", accepted=True), metadata=CLERK)
    [booked] = published(logistics, "return.booked", ev.ReturnBooked)
    assert (booked.request_id, booked.order_id, booked.member_id, booked.carrier,
            booked.warehouse_code, booked.own_waybill) == ("as-1", "o-1", "m-1", "sf", "GZ-SOUTH", False)
    assert booked.waybill_no and booked.booked_at
    [checked] = published(logistics, "return.inspected", ev.ReturnInspected)
    assert (checked.request_id, checked.accepted, checked.seal_intact, checked.condition,
            checked.restocked_to, checked.inspected_by) == (
        "as-1", True, True, "as_new", "sellable", "staff-1")
    assert [(x.line_id, x.sku_id, x.quantity) for x in checked.lines] == [("l-1", "sku-75b", 1)]
    [shipped] = published(logistics, "exchange.shipped", ev.ExchangeShipped)
    assert (shipped.request_id, shipped.order_id, shipped.shipment_id) == (
        "as-1", "o-1", inspected.exchange_shipment_id)
    assert shipped.waybill_no and [(x.sku_id, x.quantity) for x in shipped.lines] == [("sku-75b", 1)]
    [replacement] = [e for e in published(logistics, "shipment.created", ev.ShipmentChanged)
                     if e.aftersale_request_id == "as-1"]
    # like a gift's parcel it moves no order (order reads an empty order id as "not mine")
    assert (replacement.shipment_id, replacement.order_id, replacement.waybill_no) == (
        shipped.shipment_id, "", shipped.waybill_no)
    # one back on the shelf, one gone out again: GZ-SOUTH as after the sale
    assert on_hand(stub)["GZ-SOUTH"] == (1, 0)
