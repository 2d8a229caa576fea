"""The catalog for staff (admin, operator): categories, products and their lifecycle, SKUs and
media uploads. Catalog checks the business rules; the gateway checks shapes and roles."""
from __future__ import annotations

from typing import Annotated, AsyncIterator, Literal

import grpc
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from mall.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from mall.common.v1 import common_pb2
from pydantic import BaseModel, BeforeValidator, Field

from .. import auth
from ..convert import from_json, to_json
from ..problems import Problem, from_rpc_error

router = APIRouter(prefix="/v1/admin", tags=["admin-catalog"],
                   dependencies=[Depends(auth.staff(auth.ADMIN, auth.OPERATOR))])


def _upper(value):
    return value.upper() if isinstance(value, str) else value


# Enum values by their proto names, any case ("style" or "STYLE").
CategoryKind = Annotated[Literal["STYLE", "FUNCTION", "BRAND"], BeforeValidator(_upper)]
SizeSystem = Annotated[Literal["BRA", "LETTER"], BeforeValidator(_upper)]
ProductStatus = Annotated[Literal["DRAFT", "PUBLISHED", "UNPUBLISHED"], BeforeValidator(_upper)]
MediaKind = Annotated[Literal["IMAGE", "VIDEO"], BeforeValidator(_upper)]
ImageAngle = Annotated[Literal["FRONT", "BACK", "SIDE", "DETAIL", "ON_MODEL"],
                       BeforeValidator(_upper)]
Fen = Annotated[int, Field(gt=0, lt=2**63, description="fen (1/100 yuan), an integer")]


class CategoryInput(BaseModel):
    kind: CategoryKind
    name: str = Field(min_length=1, max_length=64)
    parent_id: str = ""
    sort_order: int = 0
    active: bool = True


class CategoryChanges(BaseModel):
    """Replaces every field; the kind cannot change."""
    kind: CategoryKind
    name: str = Field(min_length=1, max_length=64)
    parent_id: str = ""
    sort_order: int = 0
    active: bool = True


class SkuInput(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    band: int = Field(0, ge=0, description="bras only, e.g. 75")
    cup: str = Field("", max_length=4, description="bras only, e.g. B")
    size: str = Field("", max_length=16, description="letter sizes only, e.g. M")
    colour: str = Field(min_length=1, max_length=32)
    price_fen: Fen
    barcode: str = Field("", max_length=32)
    active: bool = True


class SizeChartRow(BaseModel):
    size: str
    values: list[str]


class SizeChart(BaseModel):
    columns: list[str] = []
    rows: list[SizeChartRow] = []


class Description(BaseModel):
    material: str = ""
    composition: str = ""
    care: str = ""
    origin: str = ""
    body: str = Field("", max_length=20000)


class ProductInput(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    subtitle: str = Field("", max_length=200)
    description: Description = Description()
    category_id: str = Field(min_length=1, description="a STYLE category")
    function_ids: list[str] = []
    brand_id: str = ""
    size_system: SizeSystem
    size_chart: SizeChart = SizeChart()


class NewProduct(ProductInput):
    skus: list[SkuInput] = Field([], max_length=500, description="may be empty for a draft")


class NewSkus(BaseModel):
    skus: list[SkuInput] = Field(min_length=1, max_length=500)


def _stub(request: Request) -> catalog_pb2_grpc.CatalogAdminServiceStub:
    return request.app.state.clients.stub("catalog", catalog_pb2_grpc.CatalogAdminServiceStub)


async def _call(request: Request, method: str, message) -> dict:
    return to_json(await request.app.state.clients.call(getattr(_stub(request), method), message))


# ------------------------------------------------------------------ categories

@router.get("/categories", summary="Every category, inactive ones too")
async def list_categories(request: Request, kind: CategoryKind | None = None) -> dict:
    return await _call(request, "ListCategories", catalog_pb2.ListCategoriesRequest(
        kind=catalog_pb2.CategoryKind.Value(kind) if kind else 0))


@router.post("/categories", status_code=201, summary="Create a category")
async def create_category(body: CategoryInput, request: Request) -> dict:
    return await _call(request, "CreateCategory", catalog_pb2.CreateCategoryRequest(
        category=from_json(body.model_dump(), catalog_pb2.CategoryInput)))


@router.put("/categories/{category_id}", summary="Replace a category's fields")
async def update_category(category_id: str, body: CategoryChanges, request: Request) -> dict:
    return await _call(request, "UpdateCategory", catalog_pb2.UpdateCategoryRequest(
        category_id=category_id, category=from_json(body.model_dump(), catalog_pb2.CategoryInput)))


# ------------------------------------------------------------------ products

@router.get("/products", summary="Products of any status, newest created first")
async def list_products(request: Request, status: ProductStatus | None = None,
                        q: str = Query("", max_length=100), category_id: str = "",
                        page_size: int = Query(20, ge=1, le=100),
                        page_token: str = Query("", max_length=2048)) -> dict:
    return await _call(request, "ListProducts", catalog_pb2.AdminListProductsRequest(
        status=catalog_pb2.ProductStatus.Value(status) if status else 0, query=q,
        category_id=category_id,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)))


@router.post("/products", status_code=201, summary="Create a product (as a draft)")
async def create_product(body: NewProduct, request: Request) -> dict:
    fields = body.model_dump()
    skus = fields.pop("skus")
    return await _call(request, "CreateProduct", catalog_pb2.CreateProductRequest(
        product=from_json(fields, catalog_pb2.ProductInput),
        skus=[from_json(s, catalog_pb2.SkuInput) for s in skus]))


@router.get("/products/{product_id}", summary="A product of any status, inactive SKUs too")
async def get_product(product_id: str, request: Request) -> dict:
    return await _call(request, "GetProduct", catalog_pb2.ProductIdRequest(product_id=product_id))


@router.put("/products/{product_id}", summary="Replace a product's fields (not its SKUs or media)")
async def update_product(product_id: str, body: ProductInput, request: Request) -> dict:
    return await _call(request, "UpdateProduct", catalog_pb2.UpdateProductRequest(
        product_id=product_id, product=from_json(body.model_dump(), catalog_pb2.ProductInput)))


@router.post("/products/{product_id}/publish",
             summary="Show a product to shoppers (needs an active SKU and an image)")
async def publish_product(product_id: str, request: Request) -> dict:
    return await _call(request, "PublishProduct",
                       catalog_pb2.ProductIdRequest(product_id=product_id))


@router.post("/products/{product_id}/unpublish", summary="Hide a product from shoppers")
async def unpublish_product(product_id: str, request: Request) -> dict:
    return await _call(request, "UnpublishProduct",
                       catalog_pb2.ProductIdRequest(product_id=product_id))


# ------------------------------------------------------------------ SKUs

@router.post("/products/{product_id}/skus", status_code=201, summary="Add SKUs to a product")
async def add_skus(product_id: str, body: NewSkus, request: Request) -> dict:
    return await _call(request, "AddSkus", catalog_pb2.AddSkusRequest(
        product_id=product_id, skus=[from_json(s.model_dump(), catalog_pb2.SkuInput)
                                     for s in body.skus]))


@router.put("/skus/{sku_id}", summary="Replace a SKU's fields")
async def update_sku(sku_id: str, body: SkuInput, request: Request) -> dict:
    return await _call(request, "UpdateSku", catalog_pb2.UpdateSkuRequest(
        sku_id=sku_id, sku=from_json(body.model_dump(), catalog_pb2.SkuInput)))


# ------------------------------------------------------------------ media

CHUNK = 1024 * 1024  # the contract's largest chunk
MAX_UPLOAD_BYTES = 110 * 1024 * 1024  # a 100 MiB video and its poster, with multipart overhead
UPLOAD_TIMEOUT = 300.0


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
             responses={413: {"description": "The upload is larger than 110 MiB"}})
async def upload_media(
        product_id: str, request: Request,
        kind: Annotated[MediaKind, Form()],
        file: Annotated[UploadFile, File(description="JPEG, PNG, WebP or GIF up to 10 MiB; "
                                                     "MP4 or WebM up to 100 MiB")],
        angle: Annotated[ImageAngle | None, Form(description="images: required")] = None,
        position: Annotated[int, Form(ge=0, description="0: after the existing media")] = 0,
        poster: Annotated[UploadFile | None, File(description="videos: required")] = None,
) -> dict:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
        raise Problem(413, "too-large", "uploads are at most 110 MiB")
    header = catalog_pb2.UploadMediaHeader(
        product_id=product_id, kind=catalog_pb2.MediaKind.Value(kind),
        angle=catalog_pb2.ImageAngle.Value(angle) if angle else 0,
        filename=file.filename or "", position=position)
    clients = request.app.state.clients
    try:
        uploads = clients.stub("catalog", catalog_pb2_grpc.CatalogAdminServiceStub)
        media = await clients.call(uploads.UploadMedia, _upload_messages(header, file, poster),
                                   timeout=UPLOAD_TIMEOUT)
    except grpc.aio.AioRpcError as err:
        problem = from_rpc_error(err)
        # Catalog names the stream's parts; the client sent form fields.
        for error in problem.errors:
            error["field"] = _FORM_FIELD.get(error["field"].split(".")[0], "") or \
                error["field"].removeprefix("header.")
        raise problem from None
    return to_json(media)


_FORM_FIELD = {"data": "file", "poster": "poster"}


@router.delete("/media/{media_id}", status_code=204, summary="Delete a product's image or video")
async def delete_media(media_id: str, request: Request) -> None:
    await _call(request, "DeleteMedia", catalog_pb2.DeleteMediaRequest(media_id=media_id))
