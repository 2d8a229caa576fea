"""What the catalog promises its callers (the gateway, order): its RPCs through a real gRPC server
with the kit's interceptors, status codes and field violations included."""
from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
from mall.catalog.v1 import catalog_pb2 as pb
from mall.catalog.v1 import catalog_pb2_grpc as pb_grpc
from mall.common.v1 import common_pb2
from PIL import Image
from support_a import CATALOG_STAFF as STAFF
from support_a import bra, category, png, upload, violations


@pytest.fixture
def shopper(grpc_stub_for):
    return grpc_stub_for("catalog", pb_grpc.CatalogServiceStub)


@pytest.fixture
def admin(grpc_stub_for):
    return grpc_stub_for("catalog", pb_grpc.CatalogAdminServiceStub)


@pytest.fixture
def facets(admin):
    bras = category(admin, pb.STYLE, "文胸")
    return {"bras": bras, "wireless_bras": category(admin, pb.STYLE, "无钢圈文胸", bras),
            "wireless": category(admin, pb.FUNCTION, "无钢圈"), "brand": category(admin, pb.BRAND, "云裳")}


def test_staff_rpcs_need_a_staff_role(admin, shopper):
    with pytest.raises(grpc.RpcError) as err:
        admin.CreateCategory(pb.CreateCategoryRequest(category=pb.CategoryInput(
            kind=pb.STYLE, name="文胸")))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as err:
        admin.CreateCategory(pb.CreateCategoryRequest(category=pb.CategoryInput(
            kind=pb.STYLE, name="文胸")), metadata=[("x-mall-user-id", "m-1"),
                                                  ("x-mall-roles", "customer")])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert shopper.ListCategories(pb.ListCategoriesRequest()).categories == []


def test_from_draft_to_the_shop_window(admin, shopper, facets):
    draft = admin.CreateProduct(bra(facets), metadata=STAFF)
    assert draft.status == pb.DRAFT and [s.size for s in draft.skus] == ["75B", "75B", "80B", "80B"]
    with pytest.raises(grpc.RpcError) as err:
        shopper.GetProduct(pb.GetProductRequest(product_id=draft.id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        admin.PublishProduct(pb.ProductIdRequest(product_id=draft.id), metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    image = upload(admin, draft.id, png((2400, 3200)))
    assert image.hd_url.startswith("/media/") and image.thumbnail_url.startswith("/media/")
    root = Path(os.environ["MALL_MEDIA_ROOT"])
    with Image.open(root / image.thumbnail_url.removeprefix("/media/")) as thumb:
        assert max(thumb.size) == 400
    admin.PublishProduct(pb.ProductIdRequest(product_id=draft.id), metadata=STAFF)

    page = shopper.ListProducts(pb.ListProductsRequest(category_id=facets["bras"]))
    (card,) = page.products
    assert (card.id, card.min_price_fen, card.brand_name) == (draft.id, 19900, "云裳")
    assert card.cover_thumbnail_url == image.thumbnail_url and list(card.colours) == ["黑色", "肤色"]
    assert not card.in_stock and page.page.next_page_token == ""

    detail = shopper.GetProduct(pb.GetProductRequest(product_id=draft.id))
    assert detail.category.name == "无钢圈文胸" and detail.functions[0].name == "无钢圈"
    assert [r.size for r in detail.size_chart.rows] == ["75B", "80B"]
    assert detail.description.care == "30℃以下手洗" and len(detail.media) == 1
    assert {s.availability.level for s in detail.skus} == {pb.AVAILABILITY_UNKNOWN}

    found = shopper.ListProducts(pb.ListProductsRequest(query="无钢圈文胸"))
    assert [p.id for p in found.products] == [draft.id]
    skus = shopper.GetSkus(pb.GetSkusRequest(sku_ids=[detail.skus[0].id, "missing"])).skus
    assert [v.sku.id for v in skus] == [detail.skus[0].id]
    assert skus[0].product_status == pb.PUBLISHED and skus[0].sku.price_fen == 19900
    known = shopper.GetProductIds(pb.GetProductIdsRequest(product_ids=["missing", draft.id]))
    assert list(known.product_ids) == [draft.id]

    admin.UnpublishProduct(pb.ProductIdRequest(product_id=draft.id), metadata=STAFF)
    assert shopper.ListProducts(pb.ListProductsRequest()).products == []


def test_bad_input_is_invalid_argument_naming_field_and_rule(admin, facets):
    request = bra(facets)
    request.product.category_id = "no-such-category"
    request.product.function_ids.append("no-such-facet")
    request.skus[0].price_fen = -1
    with pytest.raises(grpc.RpcError) as err:
        admin.CreateProduct(request, metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err.value) >= {("product.category_id", "exists"),
                                     ("product.function_ids[1]", "exists"),
                                     ("skus[0].price_fen", "positive")}
    assert admin.ListProducts(pb.AdminListProductsRequest(), metadata=STAFF).products == []


def test_a_duplicate_sku_code_is_already_exists(admin, facets):
    first = admin.CreateProduct(bra(facets, prefix="DUP"), metadata=STAFF)
    with pytest.raises(grpc.RpcError) as err:
        admin.AddSkus(pb.AddSkusRequest(product_id=first.id, skus=[pb.SkuInput(
            code="DUP-85C-RD", band=85, cup="C", colour="红色", price_fen=100),
            pb.SkuInput(code=first.skus[0].code, band=85, cup="D", colour="红色", price_fen=100)]),
            metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert violations(err.value) == {("skus[1].code", "unique")}
    again = admin.GetProduct(pb.ProductIdRequest(product_id=first.id), metadata=STAFF)
    assert len(again.skus) == 4  # neither SKU of the refused request was added


def uploads_counted(kind: str, outcome: str) -> float:
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value("mall_catalog_uploads_total",
                                     {"kind": kind, "outcome": outcome}) or 0.0


def test_uploads_that_are_not_images_or_too_large_are_refused(admin, facets):
    refused_before = uploads_counted("image", "refused")
    product = admin.CreateProduct(bra(facets), metadata=STAFF)
    with pytest.raises(grpc.RpcError) as err:
        upload(admin, product.id, b"%PDF-1.7 not an image")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err.value) == {("data", "image")}
    with pytest.raises(grpc.RpcError) as err:
        upload(admin, product.id, png() + bytes(10 * 1024 * 1024))
    assert violations(err.value) == {("data", "max_size")}
    with pytest.raises(grpc.RpcError) as err:
        upload(admin, product.id, b"\x00\x00\x00\x18ftypmp42" + bytes(100), kind=pb.VIDEO,
               angle=pb.IMAGE_ANGLE_UNSPECIFIED)
    assert violations(err.value) == {("poster", "required")}
    with pytest.raises(grpc.RpcError) as err:
        admin.UploadMedia(iter([pb.UploadMediaRequest(data=b"x")]), metadata=STAFF)
    assert violations(err.value) == {("header", "first")}
    assert admin.GetProduct(pb.ProductIdRequest(product_id=product.id), metadata=STAFF).media == []
    assert uploads_counted("image", "refused") == refused_before + 2  # counted on /metrics

    video = upload(admin, product.id, b"\x00\x00\x00\x18ftypmp42" + bytes(100), kind=pb.VIDEO,
                   angle=pb.IMAGE_ANGLE_UNSPECIFIED, poster=png())
    assert video.kind == pb.VIDEO and video.content_type == "video/mp4" and video.poster_url


def test_pages_are_signed_and_a_tampered_token_is_refused(admin, shopper, facets):
    for i in range(3):
        product = admin.CreateProduct(bra(facets, title=f"蕾丝文胸{i}", prefix=f"P{i}",
                                          price=10000 + i), metadata=STAFF)
        upload(admin, product.id, png((400, 400)))
        admin.PublishProduct(pb.ProductIdRequest(product_id=product.id), metadata=STAFF)
    first = shopper.ListProducts(pb.ListProductsRequest(
        sort=pb.PRICE_ASC, page=common_pb2.PageRequest(page_size=2)))
    second = shopper.ListProducts(pb.ListProductsRequest(
        sort=pb.PRICE_ASC, page=common_pb2.PageRequest(page_size=2,
                                                       page_token=first.page.next_page_token)))
    assert [p.min_price_fen for p in [*first.products, *second.products]] == [10000, 10001, 10002]
    token = first.page.next_page_token
    tampered = token[:5] + ("x" if token[5] != "x" else "y") + token[6:]
    with pytest.raises(grpc.RpcError) as err:
        shopper.ListProducts(pb.ListProductsRequest(
            sort=pb.PRICE_ASC, page=common_pb2.PageRequest(page_size=2, page_token=tampered)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err.value) == {("page_token", "signed")}


def test_category_admin_errors(admin, facets):
    with pytest.raises(grpc.RpcError) as err:
        category(admin, pb.STYLE, "文胸")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as err:
        category(admin, pb.FUNCTION, "聚拢", parent_id=facets["bras"])
    assert violations(err.value) == {("category.parent_id", "same_kind")}
    hidden = admin.UpdateCategory(pb.UpdateCategoryRequest(
        category_id=facets["wireless_bras"], category=pb.CategoryInput(
            name="无钢圈文胸", parent_id=facets["bras"], active=False)), metadata=STAFF)
    assert not hidden.active


def test_concurrent_creates_of_the_same_sku_code_make_one_product(admin, facets):
    from concurrent.futures import ThreadPoolExecutor

    def create(_):
        try:
            return admin.CreateProduct(bra(facets, prefix="RACE"), metadata=STAFF).id
        except grpc.RpcError as err:
            return err.code()

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(create, range(4)))
    assert sorted(map(str, outcomes)).count(str(grpc.StatusCode.ALREADY_EXISTS)) == 3
    assert len(admin.ListProducts(pb.AdminListProductsRequest(), metadata=STAFF).products) == 1


def test_staff_edit_a_product_its_skus_and_its_media(admin, shopper, facets):
    product = admin.CreateProduct(bra(facets, prefix="ED"), metadata=STAFF)
    edit = bra(facets, title="云朵无钢圈文胸 二代").product
    renamed = admin.UpdateProduct(pb.UpdateProductRequest(product_id=product.id, product=edit),
                                  metadata=STAFF)
    assert renamed.title == "云朵无钢圈文胸 二代" and len(renamed.skus) == 4
    edit.size_system = pb.LETTER
    edit.ClearField("size_chart")
    with pytest.raises(grpc.RpcError) as err:
        admin.UpdateProduct(pb.UpdateProductRequest(product_id=product.id, product=edit),
                            metadata=STAFF)
    assert violations(err.value) == {("product.size_system", "immutable")}
    with pytest.raises(grpc.RpcError) as err:
        admin.UpdateProduct(pb.UpdateProductRequest(product_id="no-such", product=edit),
                            metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    sku = product.skus[0]
    repriced = admin.UpdateSku(pb.UpdateSkuRequest(sku_id=sku.id, sku=pb.SkuInput(
        code=sku.code, band=sku.band, cup=sku.cup, colour=sku.colour, price_fen=17900,
        active=False)), metadata=STAFF)
    assert (repriced.price_fen, repriced.active) == (17900, False)
    with pytest.raises(grpc.RpcError) as err:
        admin.UpdateSku(pb.UpdateSkuRequest(sku_id=sku.id, sku=pb.SkuInput(
            code=product.skus[1].code, band=sku.band, cup=sku.cup, colour=sku.colour,
            price_fen=100)), metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as err:
        admin.UpdateSku(pb.UpdateSkuRequest(sku_id="no-such", sku=pb.SkuInput(price_fen=1)),
                        metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    first = upload(admin, product.id, png((400, 400)))
    second = upload(admin, product.id, png((400, 400)))
    admin.PublishProduct(pb.ProductIdRequest(product_id=product.id), metadata=STAFF)
    admin.DeleteMedia(pb.DeleteMediaRequest(media_id=first.id), metadata=STAFF)
    shown = shopper.GetProduct(pb.GetProductRequest(product_id=product.id))
    assert [m.id for m in shown.media] == [second.id]
    with pytest.raises(grpc.RpcError) as err:  # a published product keeps an image
        admin.DeleteMedia(pb.DeleteMediaRequest(media_id=second.id), metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as err:
        admin.DeleteMedia(pb.DeleteMediaRequest(media_id=first.id), metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_staff_see_inactive_categories_shoppers_do_not(admin, shopper, facets):
    admin.UpdateCategory(pb.UpdateCategoryRequest(
        category_id=facets["brand"], category=pb.CategoryInput(name="云裳", active=False)),
        metadata=STAFF)
    staff_view = admin.ListCategories(pb.ListCategoriesRequest(), metadata=STAFF).categories
    shopper_view = shopper.ListCategories(pb.ListCategoriesRequest()).categories
    assert facets["brand"] in {c.id for c in staff_view}
    assert facets["brand"] not in {c.id for c in shopper_view}
    assert {c.id for c in shopper_view} == {c.id for c in staff_view} - {facets["brand"]}
    with pytest.raises(grpc.RpcError) as err:
        admin.ListCategories(pb.ListCategoriesRequest(), metadata=[("x-mall-user-id", "m-1")])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


STAFFS = [  # every CatalogAdminService RPC but UploadMedia (a stream: test_uploads_...)
    ("CreateCategory", pb.CreateCategoryRequest()),
    ("UpdateCategory", pb.UpdateCategoryRequest(category_id="c-1")),
    ("ListCategories", pb.ListCategoriesRequest()),
    ("CreateProduct", pb.CreateProductRequest()),
    ("UpdateProduct", pb.UpdateProductRequest(product_id="p-1")),
    ("GetProduct", pb.ProductIdRequest(product_id="p-1")),
    ("ListProducts", pb.AdminListProductsRequest()),
    ("PublishProduct", pb.ProductIdRequest(product_id="p-1")),
    ("UnpublishProduct", pb.ProductIdRequest(product_id="p-1")),
    ("AddSkus", pb.AddSkusRequest(product_id="p-1")),
    ("UpdateSku", pb.UpdateSkuRequest(sku_id="s-1")),
    ("DeleteMedia", pb.DeleteMediaRequest(media_id="m-1")),
]


@pytest.mark.parametrize("rpc, request_", STAFFS, ids=[r for r, _ in STAFFS])
def test_every_staff_rpc_refuses_a_shopper(admin, rpc, request_):
    with pytest.raises(grpc.RpcError) as err:
        getattr(admin, rpc)(request_, metadata=[("x-mall-user-id", "m-1")])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_early_access_and_trial_invitations(admin, shopper, facets):
    """VIP 优先购: staff set the rule (tier rank from T0, everyone from T1) and invite members;
    shoppers see it on the card and the detail until T1, an invited one is told so."""
    from datetime import datetime, timedelta, timezone

    from servicekit.times import rfc3339

    product = admin.CreateProduct(bra(facets), metadata=STAFF)
    upload(admin, product.id, png((800, 1000)))
    admin.PublishProduct(pb.ProductIdRequest(product_id=product.id), metadata=STAFF)
    now = datetime.now(timezone.utc)
    opens, public = rfc3339(now - timedelta(hours=1)), rfc3339(now + timedelta(days=1))
    set_rule = pb.SetEarlyAccessRequest(product_id=product.id, min_tier_rank=2, tier_name="金卡",
                                        opens_at=opens, public_at=public)
    for metadata, code in (((), grpc.StatusCode.UNAUTHENTICATED),
                           ([("x-mall-user-id", "m-1")], grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(grpc.RpcError) as err:
            admin.SetEarlyAccess(set_rule, metadata=metadata)
        assert err.value.code() == code
    with pytest.raises(grpc.RpcError) as err:
        admin.SetEarlyAccess(pb.SetEarlyAccessRequest(product_id=product.id, min_tier_rank=100,
                                                      opens_at=public, public_at=opens),
                             metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err.value) >= {("min_tier_rank", "range"), ("tier_name", "length"),
                                     ("public_at", "after_opens_at")}
    with pytest.raises(grpc.RpcError) as err:  # no rule yet: nothing to be invited to
        admin.InviteToTrial(pb.InviteToTrialRequest(product_id=product.id, member_ids=["m-1"]),
                            metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    detail = admin.SetEarlyAccess(set_rule, metadata=STAFF)
    assert (detail.early_access.tier_name, detail.early_access.public_at) == ("金卡", public)
    (card,) = shopper.ListProducts(pb.ListProductsRequest()).products
    assert card.early_access.label.startswith("金卡及以上会员优先购")
    invited = admin.InviteToTrial(pb.InviteToTrialRequest(
        product_id=product.id, member_ids=["m-1", "m-2"], source="marketing:vip"), metadata=STAFF)
    assert (invited.invited, invited.total) == (2, 2)
    with pytest.raises(grpc.RpcError) as err:
        admin.InviteToTrial(pb.InviteToTrialRequest(product_id=product.id, member_ids=["a b"]),
                            metadata=STAFF)
    assert violations(err.value) == {("member_ids[0]", "format")}
    mine = shopper.GetProduct(pb.GetProductRequest(product_id=product.id),
                              metadata=[("x-mall-user-id", "m-1")])
    assert mine.early_access.invited
    assert not shopper.GetProduct(pb.GetProductRequest(product_id=product.id)).early_access.invited
    cleared = admin.SetEarlyAccess(pb.SetEarlyAccessRequest(product_id=product.id, clear=True),
                                   metadata=STAFF)
    assert not cleared.HasField("early_access")
