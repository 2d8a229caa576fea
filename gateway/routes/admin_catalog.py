"""The catalog for staff (admin, operator): categories, products and their lifecycle, SKUs and
media uploads. Catalog checks the business rules; the gateway checks shapes and roles."""
from __future__ import annotations

from typing import Annotated, AsyncIterator, Literal

import grpc
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from mall.catalog.v1 import catalog_pb2
from mall.common.v1 import common_pb2
from pydantic import BaseModel, Field

from servicekit import roles
from servicekit.ids import ascii_int

from .. import auth
from ..convert import answer, from_json
from ..problems import Problem, from_rpc_error
from ..proto_models import model_of
from ..schemas import (
    BY_NAME,
    INT32_MAX,
    MAX_ID,
    BraBand,
    Id,
    Int32,
    Label,
    PositiveFen,
    Prose,
    Timestamp,
    Word,
)
from ..services import MEDIA_UPLOAD_DEADLINE, CatalogAdmin

router = APIRouter(prefix="/v1/admin", tags=["admin-catalog"],
                   dependencies=[Depends(auth.staff(*roles.MERCHANDISERS))])


# Enum values by their proto names, any case ("style" or "STYLE").
CategoryKind = Annotated[Literal["STYLE", "FUNCTION", "BRAND"], BY_NAME]
SizeSystem = Annotated[Literal["BRA", "LETTER"], BY_NAME]
ProductStatus = Annotated[Literal["DRAFT", "PUBLISHED", "UNPUBLISHED"], BY_NAME]
MediaKind = Annotated[Literal["IMAGE", "VIDEO"], BY_NAME]
ImageAngle = Annotated[Literal["FRONT", "BACK", "SIDE", "DETAIL", "ON_MODEL"],
                       BY_NAME]


class CategoryInput(BaseModel):
    kind: CategoryKind
    name: str = Field(min_length=1, max_length=64)
    parent_id: Id = ""
    sort_order: Int32 = 0
    active: bool = True


class CategoryChanges(BaseModel):
    """Replaces every field; the kind cannot change."""
    kind: CategoryKind
    name: str = Field(min_length=1, max_length=64)
    parent_id: Id = ""
    sort_order: Int32 = 0
    active: bool = True


class SkuInput(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    band: BraBand = 0
    cup: str = Field("", max_length=4, description="bras only, e.g. B")
    size: str = Field("", max_length=16, description="letter sizes only, e.g. M")
    colour: str = Field(min_length=1, max_length=32)
    price_fen: PositiveFen
    barcode: str = Field("", max_length=32)
    active: bool = True


class SizeChartRow(BaseModel):
    size: Word
    values: list[Word] = Field(max_length=50)


class SizeChart(BaseModel):
    columns: list[Word] = Field([], max_length=50)
    rows: list[SizeChartRow] = []


class Description(BaseModel):
    material: Prose = ""
    composition: Prose = ""
    care: Prose = ""
    origin: Label = ""
    body: str = Field(default="", max_length=20000)


class ProductInput(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    subtitle: str = Field("", max_length=200)
    description: Description = Description()
    category_id: str = Field(min_length=1, max_length=MAX_ID, description="a STYLE category")
    function_ids: list[Id] = Field([], max_length=50)
    brand_id: Id = ""
    size_system: SizeSystem
    size_chart: SizeChart = SizeChart()


class NewProduct(ProductInput):
    skus: list[SkuInput] = Field([], max_length=500, description="may be empty for a draft")


class NewSkus(BaseModel):
    skus: list[SkuInput] = Field(min_length=1, max_length=500)


class EarlyAccessRule(BaseModel):
    """VIP 优先购: tier rank >= min_tier_rank from opens_at, everyone from public_at."""
    min_tier_rank: int = Field(ge=1, le=99, description="the tier's rank (member's ladder; 2 = 金卡)")
    tier_name: str = Field(min_length=1, max_length=20,
                           description="the tier's name as shoppers see it, e.g. 金卡")
    opens_at: Timestamp = Field(description="RFC 3339: from then for the tier and above")
    public_at: Timestamp = Field(description="RFC 3339, after opens_at: from then for everyone")


class TrialInvitations(BaseModel):
    member_ids: list[Id] = Field(min_length=1, max_length=1000)
    source: str = Field("staff", min_length=1, max_length=80,
                        description="staff, or marketing:<campaign> for precision marketing")


# ------------------------------------------------------------------ categories

@router.get("/categories", summary="Every category, inactive ones too",
            response_model=model_of(catalog_pb2.ListCategoriesResponse))
async def list_categories(catalog_admin: CatalogAdmin, kind: CategoryKind | None = None) -> Response:
    return answer(await catalog_admin.ListCategories(catalog_pb2.ListCategoriesRequest(
        kind=kind)))


@router.post("/categories", status_code=201, summary="Create a category",
             response_model=model_of(catalog_pb2.Category))
async def create_category(catalog_admin: CatalogAdmin, body: CategoryInput) -> Response:
    return answer(await catalog_admin.CreateCategory(catalog_pb2.CreateCategoryRequest(
        category=from_json(body.model_dump(), catalog_pb2.CategoryInput))), 201)


@router.put("/categories/{category_id}", summary="Replace a category's fields",
            response_model=model_of(catalog_pb2.Category))
async def update_category(catalog_admin: CatalogAdmin, category_id: Id, body: CategoryChanges) -> Response:
    return answer(await catalog_admin.UpdateCategory(catalog_pb2.UpdateCategoryRequest(
        category_id=category_id, category=from_json(body.model_dump(), catalog_pb2.CategoryInput))))


# ------------------------------------------------------------------ products

@router.get("/products", summary="Products of any status, newest created first",
            response_model=model_of(catalog_pb2.ListProductsResponse))
async def list_products(catalog_admin: CatalogAdmin, status: ProductStatus | None = None,
                        q: str = Query("", max_length=100), category_id: Id = "",
                        page_size: int = Query(20, ge=1, le=100),
                        page_token: str = Query("", max_length=2048)) -> Response:
    return answer(await catalog_admin.ListProducts(catalog_pb2.AdminListProductsRequest(
        status=status, query=q,
        category_id=category_id,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@router.post("/products", status_code=201, summary="Create a product (as a draft)",
             response_model=model_of(catalog_pb2.Product))
async def create_product(catalog_admin: CatalogAdmin, body: NewProduct) -> Response:
    fields = body.model_dump()
    skus = fields.pop("skus")
    return answer(await catalog_admin.CreateProduct(catalog_pb2.CreateProductRequest(
        product=from_json(fields, catalog_pb2.ProductInput),
        skus=[from_json(s, catalog_pb2.SkuInput) for s in skus])), 201)


@router.get("/products/{product_id}", summary="A product of any status, inactive SKUs too",
            response_model=model_of(catalog_pb2.Product))
async def get_product(catalog_admin: CatalogAdmin, product_id: Id) -> Response:
    return answer(await catalog_admin.GetProduct(catalog_pb2.ProductIdRequest(product_id=product_id)))


@router.put("/products/{product_id}", summary="Replace a product's fields (not its SKUs or media)",
            response_model=model_of(catalog_pb2.Product))
async def update_product(catalog_admin: CatalogAdmin, product_id: Id, body: ProductInput) -> Response:
    return answer(await catalog_admin.UpdateProduct(catalog_pb2.UpdateProductRequest(
        product_id=product_id, product=from_json(body.model_dump(), catalog_pb2.ProductInput))))


@router.post("/products/{product_id}/publish",
             summary="Show a product to shoppers (needs an active SKU and an image)",
             response_model=model_of(catalog_pb2.Product))
async def publish_product(catalog_admin: CatalogAdmin, product_id: Id) -> Response:
    return answer(await catalog_admin.PublishProduct(catalog_pb2.ProductIdRequest(product_id=product_id)))


@router.post("/products/{product_id}/unpublish", summary="Hide a product from shoppers",
             response_model=model_of(catalog_pb2.Product))
async def unpublish_product(catalog_admin: CatalogAdmin, product_id: Id) -> Response:
    return answer(await catalog_admin.UnpublishProduct(catalog_pb2.ProductIdRequest(product_id=product_id)))


# ------------------------------------------------------------------ early access (VIP 优先购)

@router.put("/products/{product_id}/early-access",
            summary="Open a product to a tier first and to everyone later",
            response_model=model_of(catalog_pb2.Product))
async def set_early_access(catalog_admin: CatalogAdmin, product_id: Id,
                           body: EarlyAccessRule) -> Response:
    return answer(await catalog_admin.SetEarlyAccess(catalog_pb2.SetEarlyAccessRequest(
        product_id=product_id, **body.model_dump())))


@router.delete("/products/{product_id}/early-access",
               summary="Remove a product's early-access rule (open to everyone)",
               response_model=model_of(catalog_pb2.Product))
async def clear_early_access(catalog_admin: CatalogAdmin, product_id: Id) -> Response:
    return answer(await catalog_admin.SetEarlyAccess(catalog_pb2.SetEarlyAccessRequest(
        product_id=product_id, clear=True)))


@router.post("/products/{product_id}/trial-invitations",
             summary="Invite members to a product's trial (they may buy it before the public opening)",
             response_model=model_of(catalog_pb2.InviteToTrialResponse))
async def invite_to_trial(catalog_admin: CatalogAdmin, product_id: Id,
                          body: TrialInvitations) -> Response:
    return answer(await catalog_admin.InviteToTrial(catalog_pb2.InviteToTrialRequest(
        product_id=product_id, member_ids=body.member_ids, source=body.source)))


# ------------------------------------------------------------------ SKUs

@router.post("/products/{product_id}/skus", status_code=201, summary="Add SKUs to a product",
             response_model=model_of(catalog_pb2.Product))
async def add_skus(catalog_admin: CatalogAdmin, product_id: Id, body: NewSkus) -> Response:
    return answer(await catalog_admin.AddSkus(catalog_pb2.AddSkusRequest(
        product_id=product_id, skus=[from_json(s.model_dump(), catalog_pb2.SkuInput)
                                     for s in body.skus])), 201)


@router.put("/skus/{sku_id}", summary="Replace a SKU's fields",
            response_model=model_of(catalog_pb2.Sku))
async def update_sku(catalog_admin: CatalogAdmin, sku_id: Id, body: SkuInput) -> Response:
    return answer(await catalog_admin.UpdateSku(catalog_pb2.UpdateSkuRequest(
        sku_id=sku_id, sku=from_json(body.model_dump(), catalog_pb2.SkuInput))))


# ------------------------------------------------------------------ media

CHUNK = 1024 * 1024  # the contract's largest chunk
MAX_UPLOAD_BYTES = 110 * 1024 * 1024  # a 100 MiB video and its poster, with multipart overhead


async def _upload_messages(header: catalog_pb2.UploadMediaHeader, file: UploadFile,
                           poster: UploadFile | None) -> AsyncIterator[catalog_pb2.UploadMediaRequest]:
    """The contract's stream: the header, then the file's bytes, then the poster's."""
    yield catalog_pb2.UploadMediaRequest(header=header)
    while chunk := await file.read(CHUNK):
        yield catalog_pb2.UploadMediaRequest(data=chunk)
    if poster is not None:
        while chunk := await poster.read(CHUNK):
            yield catalog_pb2.UploadMediaRequest(poster=chunk)


@router.post("/products/{product_id}/media", status_code=201,
             summary="Upload an image (with its angle) or a video (with a poster image)",
             responses={413: {"description": "The upload is larger than 110 MiB"}},
             response_model=model_of(catalog_pb2.Media))
async def upload_media(
        product_id: Id, request: Request, catalog_admin: CatalogAdmin,
        kind: Annotated[MediaKind, Form()],
        file: Annotated[UploadFile, File(description="JPEG, PNG, WebP or GIF up to 10 MiB; "
                                                     "MP4 or WebM up to 100 MiB")],
        angle: Annotated[ImageAngle | None, Form(description="images: required")] = None,
        position: Annotated[int, Form(ge=0, le=INT32_MAX, description="0: after the existing media")] = 0,
        poster: Annotated[UploadFile | None, File(description="videos: required")] = None,
) -> Response:
    length = request.headers.get("content-length", "")
    if (declared := ascii_int(length)) is not None and declared > MAX_UPLOAD_BYTES:
        raise Problem(413, "too-large", "uploads are at most 110 MiB")
    header = catalog_pb2.UploadMediaHeader(
        product_id=product_id, kind=kind,
        angle=angle,
        filename=file.filename or "", position=position)
    try:
        media = await catalog_admin.UploadMedia(_upload_messages(header, file, poster),
                                                timeout=MEDIA_UPLOAD_DEADLINE)
    except grpc.aio.AioRpcError as err:
        problem = from_rpc_error(err)
        # Catalog names the stream's parts; the client sent form fields.
        for error in problem.errors:
            error["field"] = _FORM_FIELD.get(error["field"].split(".")[0], "") or \
                error["field"].removeprefix("header.")
        raise problem from None
    return answer(media, 201)


_FORM_FIELD = {"data": "file", "poster": "poster"}


@router.delete("/media/{media_id}", status_code=204, summary="Delete a product's image or video")
async def delete_media(catalog_admin: CatalogAdmin, media_id: Id) -> None:
    await catalog_admin.DeleteMedia(catalog_pb2.DeleteMediaRequest(media_id=media_id))
