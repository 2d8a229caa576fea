"""points.gift_redeemed through the real broker and worker: the gift ships from the nearest
warehouse with stock, once whatever the redeliveries; no stock anywhere says gift.unavailable
once and ships nothing; the parcel's events carry the redemption, not an order."""
from mall.common.v1 import common_pb2
from mall.events.v1 import member_events_pb2 as member_events
from sqlalchemy import select

from services.logistics import gifts, stock
from services.logistics.carriers import CARRIERS
from services.logistics.models import Reservation, Shipment

from .conftest import published


def gift(redemption_id, sku_id="sku-80b", quantity=1, province="广东省"):
    return member_events.PointsGiftRedeemed(
        redemption_id=redemption_id, member_id="m-1", item_id="i-1", title="真丝眼罩",
        sku_id=sku_id, quantity=quantity, shipping_address=common_pb2.Address(
            recipient="李四", phone="13900000000", province=province, city="深圳市",
            district="南山区", detail="科技园 1 号"))


def test_a_gift_ships_once_from_the_nearest_warehouse_or_is_unavailable_once(
        shelves, carrier, worker_process, publish_event, wait_until):
    worker_process("logistics", {"MALL_LOGISTICS_BOOKING_INTERVAL_SECONDS": "0.2", **{
        f"MALL_LOGISTICS_CARRIER_{c.upper()}_URL": carrier.url for c in CARRIERS}})
    first = publish_event("member", "points.gift_redeemed", gift("r-ships"))
    publish_event("member", "points.gift_redeemed", gift("r-ships"), event_id=first["id"])
    publish_event("member", "points.gift_redeemed", gift("r-ships"))  # announced again
    publish_event("member", "points.gift_redeemed", gift("r-none", quantity=9))  # 5 in all
    publish_event("member", "points.gift_redeemed", gift("r-none", quantity=9))
    publish_event("member", "points.gift_redeemed", gift("r-unknown", sku_id="sku-nobody"))

    def handled():
        with shelves.transaction() as session:
            return len(session.execute(select(shelves.inbox_table).where(
                shelves.inbox_table.c.event_type == "points.gift_redeemed")).all())
    wait_until(lambda: handled() == 5, timeout=30, message="every distinct event handled")

    def booked():
        with shelves.transaction() as session:
            return [(s.order_id, s.redemption_id, s.warehouse.code, bool(s.waybill_no))
                    for s in session.scalars(select(Shipment))]
    assert wait_until(lambda: booked() if booked() and booked()[0][3] else None, timeout=30,
                      message="the gift's waybill booked") == [("", "r-ships", "GZ-SOUTH", True)]
    with shelves.transaction() as session:
        assert session.get(Reservation, gifts.reservation_key("r-ships")).status == "committed"
        left = {(s.warehouse.code, s.sku_id): s.on_hand for s in session.scalars(select(stock.Stock))}
    assert left[("GZ-SOUTH", "sku-80b")] == 3 and left[("SH-EAST", "sku-80b")] == 1
    planned = [d for t, d in published(shelves, "gift.") if t == "gift.shipment_planned"]
    assert [(d["redemptionId"], d["memberId"]) for d in planned] == [("r-ships", "m-1")]
    unavailable = [d for t, d in published(shelves, "gift.") if t == "gift.unavailable"]
    assert sorted((d["redemptionId"], d["reason"]) for d in unavailable) == [
        ("r-none", "out_of_stock"), ("r-unknown", "out_of_stock")]
    created = [d for t, d in published(shelves) if t == "shipment.created"]
    assert [(d.get("orderId", ""), d["redemptionId"], d["shipmentCount"]) for d in created] == [
        ("", "r-ships", 1)]
