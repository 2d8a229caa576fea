"""What catalog announces (product.* as every consumer reads it: order's cart, logistics'
SKU registry, analytics) and what its worker accepts (availability from logistics, review
summaries from support, sales from order). Catalog is driven through its gRPC API only."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from mall.catalog.v1 import catalog_pb2 as pb
from mall.catalog.v1 import catalog_pb2_grpc as pb_grpc
from mall.events.v1 import catalog_events_pb2 as ev
from mall.events.v1 import logistics_events_pb2 as logistics
from mall.events.v1 import order_events_pb2 as order
from mall.events.v1 import promotion_events_pb2 as promotion
from mall.events.v1 import support_events_pb2 as support
from mall.promotion.v1 import promotion_pb2 as promotion_pb
from support_a import CATALOG_STAFF as STAFF
from support_a import announced, bra, category, png, upload, worker_takes

from servicekit import service


def published_bra(grpc_stub_for) -> tuple[pb_grpc.CatalogAdminServiceStub, pb.Product]:
    admin = grpc_stub_for("catalog", pb_grpc.CatalogAdminServiceStub)
    facets = {"wireless_bras": category(admin, pb.STYLE, "文胸"),
              "wireless": category(admin, pb.FUNCTION, "无钢圈"),
              "brand": category(admin, pb.BRAND, "云裳")}
    product = admin.CreateProduct(bra(facets, prefix="EV"), metadata=STAFF)
    upload(admin, product.id, png((600, 800)))
    return admin, admin.PublishProduct(pb.ProductIdRequest(product_id=product.id), metadata=STAFF)


def test_product_events_carry_the_whole_product(grpc_stub_for):
    admin, product = published_bra(grpc_stub_for)
    edit = bra({"wireless_bras": product.category.id, "wireless": product.functions[0].id,
                "brand": product.brand.id}, title="云朵无钢圈文胸 二代").product
    admin.UpdateProduct(pb.UpdateProductRequest(product_id=product.id, product=edit),
                        metadata=STAFF)
    admin.UnpublishProduct(pb.ProductIdRequest(product_id=product.id), metadata=STAFF)

    rt = service.runtime("catalog")
    (published,) = announced(rt, "product.published", ev.ProductPublished)
    (updated,) = announced(rt, "product.updated", ev.ProductUpdated)
    (unpublished,) = announced(rt, "product.unpublished", ev.ProductUnpublished)
    carried = published.product
    assert (carried.product_id, carried.status, carried.title) == (product.id, "published",
                                                                    "云朵无钢圈蕾丝文胸")
    assert {s.sku_id for s in carried.skus} == {s.id for s in product.skus}
    assert {s.code for s in carried.skus} == {s.code for s in product.skus}
    assert carried.min_price_fen == 19900 and carried.cover_thumbnail_url
    assert carried.category_ids[0] == product.category.id and carried.brand_name == "云裳"
    assert updated.product.title == "云朵无钢圈文胸 二代"
    assert unpublished.product.status == "unpublished"
    assert published.product.version < updated.product.version < unpublished.product.version


def test_the_relay_puts_the_envelope_on_rabbitmq(grpc_stub_for, relay_for, listen_for):
    published = listen_for("catalog", "product.published")
    _, product = published_bra(grpc_stub_for)
    relay_for("catalog")
    method, properties, envelope, _ = published.next()
    assert method.exchange == "catalog.events" and method.routing_key == "product.published"
    assert properties.content_type == "application/json" and properties.delivery_mode == 2
    assert set(envelope) == {"id", "type", "source", "occurred_at", "data"}
    assert properties.message_id == envelope["id"]
    assert (envelope["type"], envelope["source"]) == ("product.published", "catalog")
    assert datetime.fromisoformat(envelope["occurred_at"]).utcoffset().total_seconds() == 0
    message = json_format.ParseDict(envelope["data"], ev.ProductPublished())
    assert message.product.product_id == product.id
    assert json.loads(json.dumps(envelope["data"]))["product"]["productId"] == product.id  # camelCase


def test_the_worker_takes_availability_reviews_and_sales(grpc_stub_for, worker_process):
    _, product = published_bra(grpc_stub_for)
    shopper = grpc_stub_for("catalog", pb_grpc.CatalogServiceStub)
    sku_ids = [s.id for s in product.skus]
    worker_takes(worker_process, "catalog", [
        ("logistics", "inventory.availability_changed", logistics.AvailabilityChanged(skus=[
            logistics.SkuAvailability(sku_id=sku_ids[0], sellable=3, level=logistics.LOW)])),
        ("support", "review.summary_changed", support.ReviewSummaryChanged(
            product_id=product.id, review_count=4, average_rating=4.5, runs_small=3,
            true_to_size=1, version=2, sizes=[support.ReviewSizeSummary(
                size="75B", review_count=4, average_rating=4.5, runs_small=3, true_to_size=1)])),
        ("support", "review.summary_changed", support.ReviewSummaryChanged(  # an older version
            product_id=product.id, review_count=1, average_rating=1.0, version=1)),
        ("order", "order.paid", order.OrderPaid(order_id="o-1", lines=[order.OrderEventLine(
            sku_id=sku_ids[0], product_id=product.id, quantity=2)])),
        ("promotion", "campaign.changed", promotion.CampaignChanged(
            campaign=promotion_pb.Campaign(id="c-1", status="active", version=1, spec=_store_wide()),
            change="created", changed_by="staff-1", version=1)),
    ])
    deadline = time.monotonic() + 5  # the api keeps the sales in force for up to 2 s
    while True:
        shown = shopper.GetProduct(pb.GetProductRequest(product_id=product.id))
        if shown.HasField("sale") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert shown.sale.on_now and shown.sale.price_percent == 80
    assert shown.sale.sale_min_price_fen == (product.min_price_fen * 80 + 50) // 100
    by_sku = {s.id: s.availability.level for s in shown.skus}
    assert by_sku[sku_ids[0]] == pb.LOW
    assert (shown.review_count, shown.rating) == (4, 4.5)
    assert (shown.fit.runs_small, shown.fit.true_to_size, shown.fit.sizes[0].size) == (3, 1, "75B")
    assert shown.sales_count == 2


def test_early_access_travels_in_product_events_and_invitations_are_announced(grpc_stub_for):
    from datetime import timedelta, timezone

    from servicekit.times import rfc3339

    admin, product = published_bra(grpc_stub_for)
    now = datetime.now(timezone.utc)
    opens, public = rfc3339(now - timedelta(hours=1)), rfc3339(now + timedelta(days=1))
    admin.SetEarlyAccess(pb.SetEarlyAccessRequest(
        product_id=product.id, min_tier_rank=2, tier_name="金卡", opens_at=opens,
        public_at=public), metadata=STAFF)
    admin.InviteToTrial(pb.InviteToTrialRequest(product_id=product.id, member_ids=["m-1"]),
                        metadata=STAFF)
    rt = service.runtime("catalog")
    updated = announced(rt, "product.updated", ev.ProductUpdated)[-1].product
    assert (updated.early_access.min_tier_rank, updated.early_access.tier_name,
            updated.early_access.opens_at, updated.early_access.public_at) == (2, "金卡", opens, public)
    (invited,) = announced(rt, "product.trial_invited", ev.TrialInvited)
    assert (invited.product_id, list(invited.member_ids), invited.source) == (
        product.id, ["m-1"], "staff")


def _store_wide() -> promotion_pb.CampaignSpec:
    now = datetime.now(timezone.utc)
    starts, ends = Timestamp(), Timestamp()
    starts.FromDatetime(now - timedelta(hours=1))
    ends.FromDatetime(now + timedelta(days=1))
    return promotion_pb.CampaignSpec(name="全场8折", kind=promotion_pb.SALE, starts_at=starts,
                                     ends_at=ends, sale=promotion_pb.SaleRule(
                                         scope=promotion_pb.SALE_ALL, price_percent=80))
