"""A shopper's right to her data, through the gateway on the real suite: she pays an order, it is
delivered, she exports her data (a section per service, her address in order's and logistics'),
then deletes her account; once the suite settles, order, logistics, support and analytics hold
neither her name nor her phone nor her street (asked through each service's own export, as an
admin, and in the clear columns of their databases), and member refuses her token."""
from __future__ import annotations

import random
import uuid

import pytest
from google.protobuf import json_format
from mall.analytics.v1 import analytics_pb2_grpc
from mall.common.v1 import common_pb2
from mall.logistics.v1 import logistics_pb2_grpc
from mall.order.v1 import order_pb2_grpc
from mall.support.v1 import support_pb2_grpc
from sqlalchemy import create_engine, inspect, text

from servicekit import grpc_client

from .shop import ok, pay_with_wechat, stocked_sku, unique_word, wait_until_delivered

pytestmark = pytest.mark.e2e

ADMIN = [("x-mall-user-id", "e2e-admin"), ("x-mall-roles", "admin")]
SECTIONS = {"member", "order", "logistics", "payment", "promotion", "support", "analytics",
            "exported_at"}
HOLDERS = ("order", "logistics", "support", "analytics")


def her_address(word: str) -> dict:
    return {"recipient": f"抹去{word[-4:]}", "phone": f"139{random.randrange(10**8):08d}",
            "province": "浙江省", "city": "杭州市", "district": "西湖区",
            "detail": f"忘记路 {word} 号"}


def exports(mall, member_id: str) -> dict:
    """What each holder's ExportMemberData says about her, asked as an admin (she can no more)."""
    stubs = {"order": order_pb2_grpc.OrderServiceStub,
             "logistics": logistics_pb2_grpc.LogisticsServiceStub,
             "support": support_pb2_grpc.NotificationServiceStub,
             "analytics": analytics_pb2_grpc.AnalyticsServiceStub}
    request = common_pb2.ExportMemberDataRequest(member_id=member_id)
    return {name: stub(grpc_client.channel(name, target=mall.targets[name]))
            .ExportMemberData(request, metadata=ADMIN, timeout=10) for name, stub in stubs.items()}


def settled(found: dict) -> bool:
    (order,) = found["order"].orders
    return (not order.shipping_address.recipient and not found["support"].notifications
            and all(s.recipient_erased for s in found["logistics"].shipments)
            and found["analytics"].fact_count == 0)


def clear_hits(mall, service: str, needles: tuple[str, ...]) -> list[str]:
    """Tables of `service`'s database with a needle in clear. The outbox is left out: the events
    already published are pruned and their personal fields sealed by the kit (issue 14's seal)."""
    engine = create_engine(mall.suite.env[f"MALL_{service.upper()}_DATABASE_URL"])
    hits = []
    try:
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                if table == "outbox":
                    continue
                for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                    flat = " ".join(str(value) for value in row)
                    hits += [f"{service}.{table}: {n}" for n in needles if n in flat]
    finally:
        engine.dispose()
    return hits


def test_a_shopper_exports_her_data_then_erasure_reaches_every_service(mall, admin_token):
    word = unique_word()
    address = her_address(word)
    needles = (address["recipient"], address["phone"], address["detail"])
    with mall.client(admin_token) as admin, mall.client() as anonymous:
        sku_id = stocked_sku(mall, admin, word, 2)
        login = ok(anonymous.post("/v1/auth/wechat-login", json={"code": f"{word}~1"}))
    member_id, token = login["member_id"], login["tokens"]["access_token"]

    with mall.client(token) as shopper:
        # With her consent to analytics the facts of her order name her, so her export counts
        # them. Analytics hears it (milliseconds) long before the order is paid (seconds).
        ok(shopper.post("/v1/me/consents", json={"purpose": "analytics", "granted": True,
                                                 "source": "miniprogram:settings"}), 201)
        order = ok(shopper.post("/v1/orders", json={
            "lines": [{"sku_id": sku_id, "quantity": 1}], "shipping_address": address},
            headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
        pay_with_wechat(mall, shopper, order)
        wait_until_delivered(mall, shopper, order["order_id"])
        ok(shopper.post("/v1/cart/items", json={"sku_id": sku_id, "quantity": 1}))
        mall.wait_until(lambda: ok(shopper.get("/v1/me/notifications"))["notifications"],
                        what="a notice in her inbox")

        exported = ok(shopper.get("/v1/me/export"))
        assert set(exported) == SECTIONS
        (exported_order,) = exported["order"]["orders"]
        assert exported_order["shipping_address"]["recipient"] == address["recipient"]
        assert exported["order"]["cart"]["lines"][0]["sku_id"] == sku_id
        (parcel,) = exported["logistics"]["shipments"]
        assert (parcel["recipient"]["phone"], parcel["recipient"]["detail"]) == (
            address["phone"], address["detail"])
        assert [p["order_id"] for p in exported["payment"]["payments"]] == [order["order_id"]]
        assert exported["support"]["notifications"]
        assert exported["analytics"]["fact_count"] >= 1

        ok(shopper.delete("/v1/me", params={"confirm": "true"}))
        assert shopper.get("/v1/me/profile").status_code == 401  # member refuses her token
        assert shopper.get("/v1/me/export").status_code == 401

    found = mall.wait_until(lambda: (lambda f: f if settled(f) else None)(exports(mall, member_id)),
                            timeout=60, what="order, logistics, support and analytics erasing her")
    (kept,) = found["order"].orders
    assert (kept.order_id, kept.status, kept.paid_fen) == (
        order["order_id"], "delivered", order["payable_fen"])  # the accounts keep the order
    assert (kept.shipping_address.province, kept.shipping_address.city) == ("浙江省", "杭州市")
    assert not found["order"].cart.lines
    for name in HOLDERS:
        answer = json_format.MessageToJson(found[name], ensure_ascii=False)
        assert not [n for n in needles if n in answer], name
        assert clear_hits(mall, name, needles) == []
        assert mall.dead_letters(name) == []
