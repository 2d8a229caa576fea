"""A paid order becomes a shipment that the carrier stand-in delivers, visible to the shopper:
staff stock a warehouse through the gateway, order's checkout saga (here: the test, over gRPC)
reserves the stock, an order.paid lands on the suite's broker (there is no order service to
place orders yet), logistics commits the stock and books the parcel with the carrier stand-in,
which walks it to the door and pushes each step, signed, to the gateway's webhook."""
from __future__ import annotations

import json
import uuid

import pika
import pytest
from mall.common.v1 import common_pb2
from mall.events.v1 import order_events_pb2 as orders
from mall.logistics.v1 import logistics_pb2, logistics_pb2_grpc

from servicekit import grpc_client
from servicekit.events import exchange_name, make_envelope

from .shop import ok, stocked_product, unique_word

pytestmark = pytest.mark.e2e

ADDRESS = common_pb2.Address(recipient="周女士", phone="13700000000", province="浙江省",
                             city="杭州市", district="西湖区", detail="文三路 1 号")


def publish_on_the_suites_broker(mall, event_type: str, message) -> None:
    envelope = make_envelope("order", event_type, message, sealer=mall.event_sealer())
    connection = pika.BlockingConnection(pika.URLParameters(mall.suite.env["MALL_AMQP_URL"]))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(exchange_name("order"), exchange_type="topic", durable=True)
        channel.basic_publish(exchange_name("order"), event_type,
                              json.dumps(envelope, ensure_ascii=False).encode(),
                              pika.BasicProperties(content_type="application/json",
                                                   delivery_mode=2, message_id=envelope["id"]),
                              mandatory=True)
    finally:
        connection.close()


def test_a_paid_discreet_order_is_delivered_and_the_shopper_sees_its_timeline(mall, admin_token):
    word = unique_word()
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        product, code = stocked_product(mall, admin, f"蕾丝无痕文胸 {word}", 3)
        sku_id = product["skus"][0]["id"]

        login = ok(anonymous.post("/v1/auth/wechat-login", json={"code": f"{word}~1"}))
        member_id, token = login["member_id"], login["tokens"]["access_token"]

        order_id = f"e2e-{uuid.uuid4().hex[:12]}"
        logistics = logistics_pb2_grpc.LogisticsServiceStub(
            grpc_client.channel("logistics", target=mall.targets["logistics"]))
        held = logistics.Reserve(logistics_pb2.ReserveRequest(
            order_id=order_id, lines=[logistics_pb2.ReserveLine(sku_id=sku_id, quantity=2)],
            shipping_address=ADDRESS), timeout=10)
        assert held.status == logistics_pb2.HELD
        assert [(a.warehouse_code, a.quantity) for a in held.allocations] == [(code, 2)]

        # Order never heard of this order: it parks the parcel's tracking events it cannot place.
        mall.expect_dead_letters_about(order_id)
        publish_on_the_suites_broker(mall, "order.paid", orders.OrderPaid(
            order_id=order_id, order_no="NO" + order_id, member_id=member_id, paid_fen=39800,
            shipping_address=ADDRESS, discreet_packaging=True, member_tier_rank=2,
            priority_shipping=True,
            lines=[orders.OrderEventLine(sku_id=sku_id, quantity=2, title=product["title"],
                                         sku_label="75B 黑色")]))

    with mall.client(token) as shopper:
        def my_parcels():
            return ok(shopper.get("/v1/shipments", params={"order_id": order_id}))["shipments"]
        (parcel,) = mall.wait_until(my_parcels, timeout=60, what="the order's shipment")
        assert (parcel["carrier"], parcel["sender_name"]) == ("sf", "品牌仓储")  # priority: the fastest
        assert parcel["items"] == [{"sku_id": sku_id, "title": "日用品", "sku_label": "",
                                    "quantity": 2}]

        def delivered():
            detail = ok(shopper.get(f"/v1/shipments/{parcel['id']}"))
            return detail if detail["state"] == "SHIPMENT_DELIVERED" else None
        detail = mall.wait_until(delivered, timeout=90, what="the stand-in delivering the parcel")
        assert [step["state"] for step in detail["timeline"]] == [
            "SHIPMENT_CREATED", "SHIPMENT_PICKED_UP", "SHIPMENT_IN_TRANSIT",
            "SHIPMENT_OUT_FOR_DELIVERY", "SHIPMENT_DELIVERED"]
        assert detail["waybill_no"].startswith("SF")
        assert word not in json.dumps(detail, ensure_ascii=False)  # the product's name is masked

    with mall.client(admin_token) as admin:
        stock = ok(admin.get("/v1/admin/logistics/stock", params={"sku_id": sku_id}))
        (row,) = stock["skus"][0]["warehouses"]
        assert (row["on_hand"], row["reserved"]) == (1, 0)  # committed: two left the shelf
    assert mall.dead_letters("logistics") == []
