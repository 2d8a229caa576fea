"""A campaign naming SKUs or products catalog does not have is refused before anything is
written (`spec.sku_ids[i]` / `spec.product_ids[i]`, rule `unknown`), against a real catalog
server; catalog unreachable is UNAVAILABLE, nothing written either."""
from datetime import timedelta

import grpc
import pytest
from mall.catalog.v1 import catalog_pb2 as cpb
from mall.catalog.v1 import catalog_pb2_grpc
from sqlalchemy import func, select

from services.promotion.models import Campaign

from .grpc_helpers import OPERATOR, pb, rpc_error, stamp, violations
from .helpers import NOW

STAFF = (("x-mall-user-id", "staff-1"), ("x-mall-roles", "operator"))


@pytest.fixture
def catalog_product(grpc_stub_for):
    admin = grpc_stub_for("catalog", catalog_pb2_grpc.CatalogAdminServiceStub)
    style = admin.CreateCategory(cpb.CreateCategoryRequest(category=cpb.CategoryInput(
        kind=cpb.STYLE, name="文胸")), metadata=STAFF).id
    return admin.CreateProduct(cpb.CreateProductRequest(
        product=cpb.ProductInput(title="云朵文胸", category_id=style, size_system=cpb.LETTER),
        skus=[cpb.SkuInput(code="REF-M", size="M", colour="黑色", price_fen=19900)]),
        metadata=STAFF)


@pytest.fixture
def checked_stub(monkeypatch, grpc_target_for, grpc_stub_for):
    monkeypatch.setenv("MALL_PROMOTION_CHECK_CATALOG", "1")
    monkeypatch.setenv("MALL_CATALOG_GRPC_TARGET", grpc_target_for("catalog"))
    from mall.promotion.v1 import promotion_pb2_grpc
    return grpc_stub_for("promotion", promotion_pb2_grpc.PromotionServiceStub)


def campaigns_stored(runtime) -> int:
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(Campaign))


def window():
    return dict(starts_at=stamp(NOW - timedelta(hours=1)), ends_at=stamp(NOW + timedelta(days=3)))


def test_unknown_skus_and_products_are_refused_and_nothing_is_written(checked_stub, runtime,
                                                                      catalog_product):
    sku_id = catalog_product.skus[0].id
    err = rpc_error(checked_stub.CreateCampaign, pb.CreateCampaignRequest(spec=pb.CampaignSpec(
        name="秒杀", kind=pb.FLASH_SALE, per_member_limit=1, **window(), flash_items=[
            pb.FlashSaleItem(sku_id=sku_id, sale_price_fen=9900, quota=5),
            pb.FlashSaleItem(sku_id="sku-nowhere", sale_price_fen=9900, quota=5)])),
        metadata=OPERATOR)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == [("spec.sku_ids[1]", "unknown")]
    err = rpc_error(checked_stub.CreateCampaign, pb.CreateCampaignRequest(spec=pb.CampaignSpec(
        name="单品特价", kind=pb.SALE, **window(), sale=pb.SaleRule(
            scope=pb.SALE_PRODUCTS, product_ids=["p-nowhere", catalog_product.id],
            price_percent=80))), metadata=OPERATOR)
    assert violations(err) == [("spec.product_ids[0]", "unknown")]
    assert campaigns_stored(runtime) == 0
    made = checked_stub.CreateCampaign(pb.CreateCampaignRequest(spec=pb.CampaignSpec(
        name="秒杀", kind=pb.FLASH_SALE, per_member_limit=1, **window(), flash_items=[
            pb.FlashSaleItem(sku_id=sku_id, sale_price_fen=9900, quota=5)])), metadata=OPERATOR)
    assert made.id and campaigns_stored(runtime) == 1


def test_catalog_unreachable_is_unavailable_and_nothing_is_written(monkeypatch, grpc_stub_for,
                                                                   runtime):
    monkeypatch.setenv("MALL_PROMOTION_CHECK_CATALOG", "1")
    monkeypatch.setenv("MALL_CATALOG_GRPC_TARGET", "127.0.0.1:9")
    from mall.promotion.v1 import promotion_pb2_grpc
    stub = grpc_stub_for("promotion", promotion_pb2_grpc.PromotionServiceStub)
    err = rpc_error(stub.CreateCampaign, pb.CreateCampaignRequest(spec=pb.CampaignSpec(
        name="秒杀", kind=pb.FLASH_SALE, per_member_limit=1, **window(), flash_items=[
            pb.FlashSaleItem(sku_id="sku-1", sale_price_fen=9900, quota=5)])), metadata=OPERATOR)
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert campaigns_stored(runtime) == 0
