"""deploy/local/seed_catalog.py against the real catalog server: a full demo shop, then nothing."""
from mall.catalog.v1 import catalog_pb2 as pb
from mall.catalog.v1 import catalog_pb2_grpc as pb_grpc

from deploy.local import seed_catalog
from services.catalog.models import Media, Product, Sku

from .helpers import count, outbox


def test_seed_builds_a_shop_once(rt, grpc_stub_for):
    channel = grpc_stub_for("catalog", lambda ch: ch)
    skus = seed_catalog.seed(channel)
    assert count(rt, Product) == len(seed_catalog.CATALOG) == 40
    assert len(skus) == count(rt, Sku) and len({s["code"] for s in skus}) == len(skus)
    assert count(rt, Media) == 40 * len(seed_catalog.ANGLES)
    assert {s["size"] for s in skus} >= {"75B", "80C", "S", "XL"}
    assert len(outbox(rt, "product.published")) == 40

    shopper = pb_grpc.CatalogServiceStub(channel)
    found = shopper.ListProducts(pb.ListProductsRequest(query="无钢圈文胸"))
    assert "云朵无钢圈蕾丝文胸" in [p.title for p in found.products]
    assert all("蕾丝" in p.title or "蕾丝" in shopper.GetProduct(
        pb.GetProductRequest(product_id=p.id)).description.material
        for p in shopper.ListProducts(pb.ListProductsRequest(query="蕾丝")).products)

    events_before = len(outbox(rt))
    again = seed_catalog.seed(channel)
    assert sorted(s["sku_id"] for s in again) == sorted(s["sku_id"] for s in skus)
    assert len(outbox(rt)) == events_before and count(rt, Media) == 160  # nothing written
