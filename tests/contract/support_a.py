"""What the contract tests of member, promotion, order and catalog share: calling as someone,
reading a refusal, reading what a service announced, handing a service an event the way its worker
receives it, and the data each service is seeded with through its own API."""
from __future__ import annotations

import csv
import io
import json
import types
import uuid
import zlib
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from mall.catalog.v1 import catalog_pb2
from mall.common.v1 import common_pb2
from mall.events.v1 import catalog_events_pb2
from mall.events.v1 import logistics_events_pb2 as shipping
from mall.events.v1 import payment_events_pb2 as payments
from mall.logistics.v1 import logistics_pb2, logistics_pb2_grpc
from mall.member.v1 import loyalty_pb2, loyalty_pb2_grpc, member_pb2, member_pb2_grpc
from mall.order.v1 import order_import_pb2, order_import_pb2_grpc, order_pb2, order_pb2_grpc
from mall.promotion.v1 import promotion_pb2, promotion_pb2_grpc
from PIL import Image
from sqlalchemy import text

from servicekit import grpc_client, grpc_server, roles, sealing, service
from servicekit.errors import violations_from_trailers
from servicekit.events import make_envelope
from servicekit.testing import outbox_events, publish_event, wait_until, worker_subscriptions

# --- callers and refusals -----------------------------------------------------------------------


def as_user(user_id: str, *user_roles: str) -> list[tuple[str, str]]:
    """The metadata the gateway sends for a signed-in caller."""
    metadata = [("x-mall-user-id", user_id)]
    if user_roles:
        metadata.append(("x-mall-roles", ",".join(user_roles)))
    return metadata


def keyed(metadata, key: str) -> list[tuple[str, str]]:
    """`metadata` with an idempotency key."""
    return [*metadata, ("idempotency-key", key)]


OPERATOR = as_user("staff-operator", roles.OPERATOR)
WAREHOUSE = as_user("staff-warehouse", roles.WAREHOUSE)


def refusal(call, *args, **kwargs) -> grpc.RpcError:
    """The error `call` ends with (the test fails if it succeeds)."""
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def code_of(call, *args, **kwargs) -> grpc.StatusCode:
    return refusal(call, *args, **kwargs).code()


def violations(err: grpc.RpcError) -> set[tuple[str, str]]:
    """(field, rule) of every field violation in the error's trailers."""
    return {(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())}


def violated_fields(err: grpc.RpcError) -> set[str]:
    return {field for field, _ in violations(err)}


# --- events -------------------------------------------------------------------------------------


def announced(runtime, event_type: str, message_type) -> list:
    """What `runtime`'s service wrote to its outbox for `event_type`, oldest first, each envelope
    checked as every consumer reads it and its data parsed strictly into `message_type` (a field
    the proto does not declare fails)."""
    found = []
    for envelope in outbox_events(runtime, event_type):
        assert set(envelope) - {"sealed"} == {"id", "type", "source", "occurred_at", "data"}
        assert (envelope["type"], envelope["source"]) == (event_type, runtime.name)
        assert datetime.fromisoformat(envelope["occurred_at"]).utcoffset() == timedelta(0)
        # as the producer itself reads it: personal fields opened (it holds the events key)
        _, data = sealing.open_for(runtime.name, envelope, message_type.DESCRIPTOR)
        found.append(json_format.ParseDict(data, message_type()))
    return found


def handled(runtime, event_id: str) -> list[str]:
    """The handlers of `runtime`'s service that recorded `event_id` in their inbox."""
    with runtime.engine.connect() as conn:
        return list(conn.execute(text("SELECT handler FROM inbox WHERE event_id = :id"),
                                 {"id": event_id}).scalars())


def handlers_of(name: str, source: str, event_type: str) -> list[str]:
    """The methods of `name`'s worker subscribed to `source`'s `event_type`."""
    worker_cls = service.module(name, "worker").Worker
    return [attr for attr in dir(worker_cls)
            for entry in getattr(getattr(worker_cls, attr), "nameko_entrypoints", ())
            if (getattr(entry, "source_service", None),
                getattr(entry, "event_type", None)) == (source, event_type)]


def deliver(name: str, source: str, event_type: str, message) -> dict:
    """Hands `name`'s worker handlers of `event_type` the envelope as RabbitMQ gives it to them
    (the JSON body, through the kit's inbox), in this process: a quick way to seed a service
    through its own handlers, for handlers that need nothing but the runtime (the real worker
    process: worker_takes). Fails unless every handler recorded it; returns the envelope."""
    worker_cls = service.module(name, "worker").Worker
    envelope = make_envelope(source, event_type, message)
    body = json.loads(json.dumps(envelope))
    runtime = service.runtime(name)
    worker = types.SimpleNamespace(name=name, runtime=runtime,
                                   worker_ctx=types.SimpleNamespace(context_data={}))
    methods = handlers_of(name, source, event_type)
    assert methods, f"{name}'s worker does not subscribe to {source} {event_type}"
    for method in methods:
        getattr(worker_cls, method)(worker, body)
    assert sorted(handled(runtime, envelope["id"])) == sorted(f"{name}.{m}" for m in methods), \
        f"{name} did not handle {event_type} (parked as a dead letter?)"
    return envelope


def worker_takes(worker_process, name: str, events: list[tuple[str, str, object]]) -> None:
    """Starts `name`'s real worker process, publishes each (source, event type, message) as its
    producer's relay would, and waits until every handler subscribed to it has recorded it in the
    inbox (a handler that fails parks the message instead, and this times out)."""
    subscribed = {(s.source, s.event_type) for s in worker_subscriptions(name)}
    assert {(source, event_type) for source, event_type, _ in events} <= subscribed
    worker_process(name)
    runtime = service.runtime(name)
    expected = {}
    for source, event_type, message in events:
        envelope = publish_event(source, event_type, message)
        expected[envelope["id"]] = sorted(f"{name}.{m}" for m in handlers_of(name, source, event_type))
    wait_until(lambda: all(sorted(handled(runtime, event_id)) == methods
                           for event_id, methods in expected.items()),
               timeout=60, message=f"{name}'s worker to handle {[e[1] for e in events]}")


# --- member: the WeChat stand-in and shoppers ---------------------------------------------------


@pytest.fixture(scope="session")
def wechat():
    """The WeChat stand-in, member's settings pointed at it, for the whole session."""
    from standins.wechat import serving_member

    with serving_member("wxcontracttest001", "contract-test-secret") as running:
        yield running


def sign_in(auth_stub, word: str = "shopper") -> tuple[str, list[tuple[str, str]]]:
    """A new shopper through WechatLogin: (member id, metadata to call as them)."""
    login = auth_stub.WechatLogin(member_pb2.WechatLoginRequest(code=f"{word}{uuid.uuid4().hex[:10]}"))
    return login.member_id, as_user(login.member_id)


# --- catalog: a bra product as staff create it --------------------------------------------------

CATALOG_STAFF = as_user("staff-1", roles.OPERATOR)
UPLOAD_CHUNK = 1024 * 1024


def png(size=(1200, 1600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 140)).save(out, "PNG")
    return out.getvalue()


def upload(admin, product_id, data: bytes, kind=catalog_pb2.IMAGE, angle=catalog_pb2.FRONT,
           poster=b""):
    """UploadMedia streamed in 1 MiB chunks: the header, the data, then the poster (videos)."""
    def stream():
        yield catalog_pb2.UploadMediaRequest(header=catalog_pb2.UploadMediaHeader(
            product_id=product_id, kind=kind, angle=angle, filename="a.png"))
        for i in range(0, len(data), UPLOAD_CHUNK):
            yield catalog_pb2.UploadMediaRequest(data=data[i:i + UPLOAD_CHUNK])
        for i in range(0, len(poster), UPLOAD_CHUNK):
            yield catalog_pb2.UploadMediaRequest(poster=poster[i:i + UPLOAD_CHUNK])
    return admin.UploadMedia(stream(), metadata=CATALOG_STAFF)


def category(admin, kind, name, parent_id="") -> str:
    return admin.CreateCategory(catalog_pb2.CreateCategoryRequest(category=catalog_pb2.CategoryInput(
        kind=kind, name=name, parent_id=parent_id)), metadata=CATALOG_STAFF).id


def bra(facets, title="云朵无钢圈蕾丝文胸", price=19900, prefix="YD") -> catalog_pb2.CreateProductRequest:
    """A bra in 75B and 80B, black and nude, in the `facets` categories."""
    return catalog_pb2.CreateProductRequest(
        product=catalog_pb2.ProductInput(
            title=title, subtitle="软支撑 不压胸",
            description=catalog_pb2.ProductDescription(
                material="锦纶 蕾丝", composition="锦纶82% 氨纶18%", care="30℃以下手洗",
                origin="中国广东"),
            category_id=facets["wireless_bras"], function_ids=[facets["wireless"]],
            brand_id=facets["brand"], size_system=catalog_pb2.BRA,
            size_chart=catalog_pb2.SizeChart(columns=["下胸围(cm)"], rows=[
                catalog_pb2.SizeChartRow(size="75B", values=["73-77"]),
                catalog_pb2.SizeChartRow(size="80B", values=["78-82"])])),
        skus=[catalog_pb2.SkuInput(
            code=f"{prefix}-{band}B-{code}", band=band, cup="B", colour=colour, price_fen=price,
            barcode=f"69{zlib.crc32(f'{prefix}{band}{code}'.encode()):011d}")
            for band in (75, 80) for colour, code in (("黑色", "BK"), ("肤色", "NU"))])


def bra_product(product_id: str = "p-1") -> catalog_events_pb2.CatalogProduct:
    """A product as catalog's product.* events carry it: two bra SKUs at ¥199 and ¥209."""
    return catalog_events_pb2.CatalogProduct(
        product_id=product_id, title="无钢圈聚拢文胸", status="published", version=1,
        category_id="c-bra", category_ids=["c-bra"], min_price_fen=19900, max_price_fen=20900,
        skus=[catalog_events_pb2.CatalogSku(
                  sku_id="sku-75b-black", code="BRA-75B-BLK", size="75B", band=75, cup="B",
                  colour="黑色", price_fen=19900, active=True),
              catalog_events_pb2.CatalogSku(
                  sku_id="sku-80c-nude", code="BRA-80C-NUDE", size="80C", band=80, cup="C",
                  colour="肤色", price_fen=20900, active=True)])


def publish_product(*services: str) -> None:
    """Tells `services`, through their handlers of catalog's product.published, of bra_product()."""
    message = catalog_events_pb2.ProductPublished(product=bra_product())
    for name in services:
        deliver(name, "catalog", "product.published", message)


# --- promotion: coupon templates and a flash sale as staff create them --------------------------

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def promotion(grpc_stub_for):
    return grpc_stub_for("promotion", promotion_pb2_grpc.PromotionServiceStub)


@pytest.fixture
def members(runtime_for, grpc_target_for, monkeypatch):
    """members(id, ...) makes those ids live members of member's real server, the one promotion
    asks (MembersExist) before a staff issue of coupons."""
    from services.member.testing import add_member_ids

    member = runtime_for("member")
    monkeypatch.setenv("MALL_MEMBER_GRPC_TARGET", grpc_target_for("member"))
    return lambda *ids, deleted=False: add_member_ids(member, ids, deleted=deleted)


def stamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def template_spec(**overrides) -> promotion_pb2.CouponTemplateSpec:
    """¥30 off from ¥199, two per member, claimable, valid for thirty days."""
    spec = promotion_pb2.CouponTemplateSpec(
        name="满199减30", kind=promotion_pb2.FIXED_AMOUNT, amount_fen=3000, threshold_fen=19900,
        per_member_limit=2, total_quantity=100, scope=promotion_pb2.ALL, claimable=True,
        window=promotion_pb2.ValidityWindow(valid_from=stamp(NOW - timedelta(hours=1)),
                                            valid_until=stamp(NOW + timedelta(days=30))))
    for key, value in overrides.items():
        setattr(spec, key, value)
    return spec


def flash_sale(promotion, quota=2) -> promotion_pb2.Campaign:
    """A running flash sale: sku-75b at ¥99, `quota` units, one per member."""
    return promotion.CreateCampaign(promotion_pb2.CreateCampaignRequest(
        spec=promotion_pb2.CampaignSpec(
            name="周五秒杀", kind=promotion_pb2.FLASH_SALE,
            starts_at=stamp(NOW - timedelta(hours=1)), ends_at=stamp(NOW + timedelta(days=1)),
            per_member_limit=1, flash_items=[promotion_pb2.FlashSaleItem(
                sku_id="sku-75b", sale_price_fen=9900, quota=quota)])), metadata=OPERATOR)


# --- order: a shop to check out in, seeded through each service's API ---------------------------

SHENZHEN = {"recipient": "林小姐", "phone": "+86 138-0013-8000", "province": "广东省",
            "city": "深圳市", "district": "南山区", "detail": "科技园路 1 号"}
WAREHOUSES = [  # code, name, province, city, latitude, longitude, priority
    ("SH-EAST", "华东仓", "上海市", "上海市", 31.1497, 121.1246, 100),
    ("GZ-SOUTH", "华南仓", "广东省", "广州市", 23.3874, 113.2989, 50),
]


@pytest.fixture
def shop(wechat, grpc_stub_for, grpc_target_for, runtime_for, monkeypatch):
    """A shopper with 1,000 points and a ¥30-off-¥199 coupon; the bra of bra_product() stocked
    in two warehouses (sku-75b-black: 3 in Guangzhou, 2 in Shanghai; sku-80c-nude: 1 in
    Shanghai); stubs on an order server that calls this session's member, promotion and
    logistics."""
    member_id, me = sign_in(grpc_stub_for("member", member_pb2_grpc.AuthServiceStub))
    grpc_stub_for("member", loyalty_pb2_grpc.LoyaltyAdminServiceStub).AdjustPoints(
        loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=1000, reason="seed"),
        metadata=OPERATOR)

    offers = grpc_stub_for("promotion", promotion_pb2_grpc.PromotionServiceStub)
    # promotion asks member whether the ids it issues to are members (per call: set it first)
    monkeypatch.setenv("MALL_MEMBER_GRPC_TARGET", grpc_target_for("member"))
    template = offers.CreateCouponTemplate(promotion_pb2.CreateCouponTemplateRequest(
        spec=template_spec(claimable=False)), metadata=OPERATOR)
    (coupon,) = offers.IssueCoupons(promotion_pb2.IssueCouponsRequest(
        template_id=template.id, member_ids=[member_id]), metadata=OPERATOR).coupons

    stock = grpc_stub_for("logistics", logistics_pb2_grpc.LogisticsServiceStub)
    for code, name, province, city, latitude, longitude, priority in WAREHOUSES:
        stock.CreateWarehouse(logistics_pb2.CreateWarehouseRequest(warehouse=logistics_pb2.Warehouse(
            code=code, name=name, province=province, city=city, latitude=latitude,
            longitude=longitude, priority=priority)), metadata=WAREHOUSE)
    runtime_for("order")  # its database ready (and emptied) before the product reaches it
    publish_product("logistics", "order")
    for code, sku, quantity in (("GZ-SOUTH", "sku-75b-black", 3), ("SH-EAST", "sku-75b-black", 2),
                                ("SH-EAST", "sku-80c-nude", 1)):
        stock.ReceiveStock(logistics_pb2.ReceiveStockRequest(
            warehouse_code=code, sku_id=sku, quantity=quantity), metadata=WAREHOUSE)

    # order's own server, built once the others' addresses are set: its checkout makes its
    # channels to them as it starts (the kit's shared server may predate these addresses).
    for name in ("member", "promotion", "logistics"):
        monkeypatch.setenv(f"MALL_{name.upper()}_GRPC_TARGET", grpc_target_for(name))
    server = grpc_server.build_server("order", port=0, host="127.0.0.1", with_relay=False)
    channel = grpc_client.channel("order", target=f"127.0.0.1:{server.port}")
    yield types.SimpleNamespace(
        member_id=member_id, me=me, coupon_id=coupon.id, offers=offers, stock=stock,
        loyalty=grpc_stub_for("member", loyalty_pb2_grpc.LoyaltyServiceStub),
        orders=order_pb2_grpc.OrderServiceStub(channel),
        cart=order_pb2_grpc.CartServiceStub(channel),
        desk=order_pb2_grpc.OrderDeskServiceStub(channel))
    channel.close()
    server.stop()


def checkout(*lines, coupons=(), points=0, **extra) -> order_pb2.CheckoutRequest:
    """A CheckoutRequest for (sku id, quantity) lines, shipped to Shenzhen."""
    return order_pb2.CheckoutRequest(
        lines=[order_pb2.CheckoutLine(sku_id=s, quantity=q) for s, q in lines],
        shipping_address=common_pb2.Address(**SHENZHEN), coupon_ids=list(coupons),
        points_to_use=points, **extra)


def paid(order: order_pb2.OrderView) -> None:
    """Order's handler of payment.succeeded, for the whole payable."""
    deliver("order", "payment", "payment.succeeded", payments.PaymentSucceeded(
        payment_intent_id=f"pi-{order.order_id}", order_id=order.order_id,
        member_id=order.member_id, amount_fen=order.payable_fen, currency="CNY",
        method="wechat_jsapi", provider_transaction_id="wx-1"))


def delivered(order: order_pb2.OrderView) -> None:
    """Order's handlers of shipment.picked_up and shipment.delivered, for one shipment."""
    for event_type, state in (("shipment.picked_up", shipping.SHIPMENT_PICKED_UP),
                              ("shipment.delivered", shipping.SHIPMENT_DELIVERED)):
        deliver("order", "logistics", event_type, shipping.ShipmentChanged(
            shipment_id=f"sh-{order.order_id}", order_id=order.order_id, order_no=order.order_no,
            member_id=order.member_id, carrier="sf", waybill_no="SF1", state=state,
            shipment_count=1))


# --- order's import process (a separately deployed part of order's api) -------------------------

IMPORT_STAFF = OPERATOR


@pytest.fixture
def importer(runtime_for, monkeypatch, tmp_path):
    """start(member_target) -> an OrderImport stub on a fresh import server that matches
    customers at `member_target`, with the bra of bra_product() in order's catalog copy."""
    runtime_for("order")
    publish_product("order")
    monkeypatch.setenv("MALL_ORDER_IMPORT_SPOOL_DIR", str(tmp_path))
    servers = []

    def start(member_target: str) -> order_import_pb2_grpc.OrderImportStub:
        monkeypatch.setenv("MALL_MEMBER_GRPC_TARGET", member_target)
        servers.append(grpc_server.build_server("order", port=0, host="127.0.0.1",
                                                with_relay=False, part="import"))
        return order_import_pb2_grpc.OrderImportStub(
            grpc_client.channel("order", target=f"127.0.0.1:{servers[-1].port}"))

    yield start
    for server in servers:
        server.stop()


def import_header(importer_stub) -> list[str]:
    """The header row of the import template, as GetImportTemplate gives it."""
    data = b"".join(c.data for c in importer_stub.GetImportTemplate(
        order_import_pb2.GetImportTemplateRequest(format="csv"), metadata=IMPORT_STAFF))
    return next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def import_row(header: list[str], external_id: str, **values: str) -> list[str]:
    """One row for `header` (columns named by their English word: sku_code, phone ...)."""
    row = {"external_order_id": external_id, "order_time": "2026-11-22 10:30:00",
           "status": "已付款", "recipient": "张三", "phone": "13800138000", "province": "广东省",
           "city": "深圳市", "district": "南山区", "detail": "科技园路 1 号",
           "sku_code": "BRA-75B-BLK", "quantity": "1", "unit_price": "199.00", **values}
    return [row.get(column.split()[-1], "") for column in header]


def imported(importer_stub, header, rows, **meta) -> order_import_pb2.ImportJob:
    """Imports `rows` for partner acme through ImportRows and waits until the job is finished."""
    meta = {"partner": "acme", "filename": "orders.csv", "error_policy": "import_valid", **meta}
    job = importer_stub.ImportRows(order_import_pb2.ImportRowsRequest(
        meta=order_import_pb2.UploadMeta(**meta), header=order_import_pb2.Cells(cells=header),
        rows=[order_import_pb2.Cells(cells=r) for r in rows]), metadata=IMPORT_STAFF)

    def finished():
        now = importer_stub.GetImportJob(order_import_pb2.GetImportJobRequest(job_id=job.job_id),
                                         metadata=IMPORT_STAFF)
        return now if now.finished else None

    return wait_until(finished, timeout=30, message=f"import job {job.job_id} to finish")
