"""The logistics worker as a real process: catalog's product events register the SKUs that
stock can then be received for; announcements reach RabbitMQ through the outbox relay."""

from mall.events.v1 import catalog_events_pb2 as catalog
from sqlalchemy import select

from services.logistics import stock
from services.logistics.models import Sku
from services.logistics.skus import register_product
from services.logistics.warehouses import create_warehouse

from .conftest import SHANGHAI, product


def catalog_product(version: int, status: str = "published", sku_ids=("sku-a", "sku-b")):
    return catalog.CatalogProduct(
        product_id="p-1", title="蕾丝三角裤", status=status, version=version,
        skus=[catalog.CatalogSku(sku_id=s, code=s.upper(), size="M", colour="黑色",
                                 price_fen=5900, active=True) for s in sku_ids])


def registered(runtime):
    with runtime.transaction() as session:
        return {s.sku_id: (s.active, s.catalog_version) for s in session.scalars(select(Sku))}


def test_product_events_register_skus_in_any_order(runtime, worker_process, publish_event,
                                                   wait_until):
    worker_process("logistics")
    publish_event("catalog", "product.published",
                  catalog.ProductPublished(product=catalog_product(1)))
    wait_until(lambda: registered(runtime) == {"sku-a": (True, 1), "sku-b": (True, 1)},
               timeout=20, message="two SKUs registered")
    publish_event("catalog", "product.unpublished",
                  catalog.ProductUnpublished(product=catalog_product(3, "unpublished")))
    publish_event("catalog", "product.updated",  # older than the unpublish: ignored
                  catalog.ProductUpdated(product=catalog_product(2, sku_ids=("sku-a", "sku-c"))))
    wait_until(lambda: registered(runtime).get("sku-c") == (True, 2), timeout=20,
               message="the late update's new SKU")
    assert registered(runtime) == {"sku-a": (False, 3), "sku-b": (False, 3), "sku-c": (True, 2)}
    with runtime.transaction() as session:  # goods of a known SKU can now be received
        create_warehouse(session, SHANGHAI)
        stock.receive_stock(runtime, session, "SH-EAST", "sku-a", 2,
                            caller=stock.Caller("staff", "r"))


def test_availability_announcements_reach_the_broker(runtime, relay_for, listen_for):
    with runtime.transaction() as session:
        create_warehouse(session, SHANGHAI)
        register_product(session, product())
    announcements = listen_for("logistics", "inventory.availability_changed")
    relay_for("logistics")
    with runtime.transaction() as session:
        stock.receive_stock(runtime, session, "SH-EAST", "sku-75b", 3,
                            caller=stock.Caller("staff", "r"))
    properties, envelope = announcements.next(timeout=20)[1:3]
    assert envelope["type"] == "inventory.availability_changed"
    assert envelope["source"] == "logistics" and properties.message_id == envelope["id"]
    assert envelope["data"] == {"skus": [{"skuId": "sku-75b", "sellable": "3", "level": "LOW"}]}


def paid_event(order_id, lines, *, discreet=False, priority=False, province="广东省"):
    from mall.common.v1 import common_pb2
    from mall.events.v1 import order_events_pb2 as orders

    return orders.OrderPaid(
        order_id=order_id, order_no="NO-" + order_id, member_id="m-1", paid_fen=25900,
        discreet_packaging=discreet, priority_shipping=priority,
        shipping_address=common_pb2.Address(recipient="李四", phone="13900000000",
                                            province=province, city="深圳市", detail="科技园 1 号"),
        lines=[orders.OrderEventLine(sku_id=s, quantity=q, title="无钢圈聚拢文胸",
                                     sku_label="75B 黑色") for s, q in lines])


def test_paid_orders_ship_and_cancelled_orders_give_their_stock_back(
        shelves, carrier, worker_process, publish_event, wait_until):
    from datetime import datetime, timezone

    from mall.events.v1 import order_events_pb2 as orders

    from services.logistics import reservations
    from services.logistics.carriers import CARRIERS
    from services.logistics.models import Reservation, Shipment

    saga = stock.Caller("order-saga", "r")
    with shelves.transaction() as session:
        reservations.reserve(shelves, session, "o-paid", [reservations.Line("sku-75b", 7)],
                             "广东省", caller=saga)
        reservations.reserve(shelves, session, "o-gone", [reservations.Line("sku-80b", 2)],
                             "广东省", caller=saga)
        reservations.reserve(shelves, session, "o-lapsed", [reservations.Line("sku-80b", 1)],
                             "上海市", caller=saga)
        session.get(Reservation, "o-lapsed").expires_at = datetime.now(timezone.utc)
    worker_process("logistics", {"MALL_LOGISTICS_BOOKING_INTERVAL_SECONDS": "0.2",
                                 "MALL_LOGISTICS_RESERVATION_EXPIRY_INTERVAL_SECONDS": "0.2", **{
        f"MALL_LOGISTICS_CARRIER_{c.upper()}_URL": carrier.url for c in CARRIERS}})
    event = publish_event("order", "order.paid", paid_event("o-paid", [("sku-75b", 7)],
                                                            priority=True))
    publish_event("order", "order.paid", paid_event("o-paid", [("sku-75b", 7)], priority=True),
                  event_id=event["id"])  # redelivered: changes nothing
    publish_event("order", "order.cancelled", orders.OrderCancelled(order_id="o-gone",
                                                                    reason="timeout"))

    def shipped():
        with shelves.transaction() as session:
            rows = list(session.scalars(select(Shipment)))
            return sorted((s.warehouse.code, s.carrier, bool(s.waybill_no)) for s in rows)
    def booked():  # one read: rows created but not yet booked must not pass
        rows = shipped()
        return rows if rows and all(waybill for *_, waybill in rows) else None
    assert wait_until(booked, timeout=30, message="two booked shipments") == [
        ("GZ-SOUTH", "sf", True), ("SH-EAST", "sf", True)]

    def status(order_id):
        with shelves.transaction() as session:
            return session.get(Reservation, order_id).status
    wait_until(lambda: status("o-gone") == "released", timeout=20, message="released")
    wait_until(lambda: status("o-lapsed") == "expired", timeout=20, message="expired by the timer")
    assert status("o-paid") == "committed"
    with shelves.transaction() as session:
        stock_rows = {(s.warehouse.code, s.sku_id): (s.on_hand, s.reserved)
                      for s in session.scalars(select(stock.Stock))}
    assert stock_rows[("GZ-SOUTH", "sku-75b")] == (0, 0)
    assert stock_rows[("SH-EAST", "sku-75b")] == (1, 0)
    assert stock_rows[("GZ-SOUTH", "sku-80b")] == (4, 0)
    assert stock_rows[("SH-EAST", "sku-80b")] == (1, 0)


def test_aftersale_events_keep_a_return_and_an_exchange_hold_through_rabbitmq(
        shelves, worker_process, publish_event, wait_until):
    """support's aftersale.approved (an exchange) holds the new size; redelivered or said again
    it holds nothing more; aftersale.closed drops the return and gives the size back."""
    from datetime import datetime, timedelta, timezone

    from mall.events.v1 import support_events_pb2 as support

    from services.logistics.models import Reservation, ReturnExpectation

    def state():
        with shelves.transaction() as session:
            row = session.get(ReturnExpectation, "as-1")
            held = session.get(Reservation, "exchange:as-1")
            return (row.status if row else None, held.status if held else None)

    worker_process("logistics")
    approved = support.AfterSaleApproved(
        request_id="as-1", order_id="o-1", member_id="m-1", kind="exchange",
        lines=[support.AfterSaleLine(line_id="l-1", sku_id="sku-75b", quantity=1,
                                     exchange_sku_id="sku-80b")],
        return_expected=True,
        return_by=(datetime.now(timezone.utc) + timedelta(days=7)).isoformat())
    first = publish_event("support", "aftersale.approved", approved)
    publish_event("support", "aftersale.approved", approved, event_id=first["id"])
    publish_event("support", "aftersale.approved", approved)
    wait_until(lambda: state() == ("expected", "held"), timeout=20, message="the exchange held")
    publish_event("support", "aftersale.closed", support.AfterSaleClosed(
        request_id="as-1", order_id="o-1", member_id="m-1", kind="exchange", outcome="expired"))
    wait_until(lambda: state() == ("closed", "released"), timeout=20, message="released")
    with shelves.transaction() as session:
        reserved = sum(s.reserved for s in session.scalars(select(stock.Stock)))
    assert reserved == 0
