"""The shop as shoppers see it: categories, product listings and search, product detail.
No sign-in needed; only published products and active categories are visible."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from mall.catalog.v1 import catalog_pb2
from mall.common.v1 import common_pb2
from mall.member.v1 import loyalty_pb2

from servicekit.times import parse_rfc3339

from .. import auth
from ..auth import Principal
from ..convert import answer
from ..proto_models import model_of
from ..schemas import INT64_MAX, MAX_ID, Id, Label
from ..services import Catalog, Loyalty

router = APIRouter(prefix="/v1", tags=["catalog"])

SortName = Literal["newest", "price_asc", "price_desc", "sales", "rating", "relevance"]
KindName = Literal["style", "function", "brand"]
Listing = model_of(catalog_pb2.ListProductsResponse)  # /v1/products and /v1/search


@router.get("/categories", summary="Active categories, flat, parents before children",
            response_model=model_of(catalog_pb2.ListCategoriesResponse))
async def list_categories(catalog: Catalog, kind: KindName | None = None) -> Response:
    return answer(await catalog.ListCategories(catalog_pb2.ListCategoriesRequest(
        kind=kind.upper() if kind else None)))


async def _list(request: Request, catalog: Catalog, *, query: str, category: str, function: list[str],
                brand: list[str], min_price_fen: int | None, max_price_fen: int | None,
                size: list[str], colour: list[str], sort: SortName | None, page_size: int,
                page_token: str) -> Response:
    req = catalog_pb2.ListProductsRequest(
        category_id=category, function_ids=function, brand_ids=brand, sizes=size,
        colours=colour, query=query,
        sort=sort.upper() if sort else None,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))
    if min_price_fen is not None:
        req.min_price_fen = min_price_fen
    if max_price_fen is not None:
        req.max_price_fen = max_price_fen
    cache = request.app.state.listing_cache
    raw = (request.scope["route"].path, request.url.path, request.scope["query_string"])
    return await cache.respond(req, lambda: catalog.ListProducts(req), raw)


_FILTERS = dict(
    category=Query("", max_length=MAX_ID, description="a category id: it and its descendants"),
    function=Query([], description="function facet ids; every one must apply (repeatable)"),
    brand=Query([], description="brand ids; any of them (repeatable)"),
    min_price_fen=Query(None, ge=0, le=INT64_MAX, description="lowest price, inclusive, in fen"),
    max_price_fen=Query(None, ge=0, le=INT64_MAX, description="highest price, inclusive, in fen"),
    size=Query([], description='sizes in stock, e.g. "75B" or "M" (repeatable)'),
    colour=Query([], description="colours (repeatable)"),
    page_size=Query(20, ge=1, le=100),
    page_token=Query("", max_length=2048, description="next_page_token of the previous page"),
)


@router.get("/products", summary="Published products, filtered and sorted, a page at a time",
            response_model=Listing)
async def list_products(
        request: Request, catalog: Catalog, category: str = _FILTERS["category"],
        function: list[Id] = _FILTERS["function"], brand: list[Id] = _FILTERS["brand"],
        min_price_fen: int | None = _FILTERS["min_price_fen"],
        max_price_fen: int | None = _FILTERS["max_price_fen"],
        size: list[Id] = _FILTERS["size"], colour: list[Label] = _FILTERS["colour"],
        sort: SortName | None = None, page_size: int = _FILTERS["page_size"],
        page_token: str = _FILTERS["page_token"]) -> Response:
    return await _list(request, catalog, query="", category=category, function=function, brand=brand,
                       min_price_fen=min_price_fen, max_price_fen=max_price_fen, size=size,
                       colour=colour, sort=sort, page_size=page_size, page_token=page_token)


@router.get("/search", summary="Keyword search (Chinese or not) over published products",
            response_model=Listing)
async def search_products(
        request: Request, catalog: Catalog, q: str = Query(min_length=1, max_length=100),
        category: str = _FILTERS["category"],
        function: list[Id] = _FILTERS["function"], brand: list[Id] = _FILTERS["brand"],
        min_price_fen: int | None = _FILTERS["min_price_fen"],
        max_price_fen: int | None = _FILTERS["max_price_fen"],
        size: list[Id] = _FILTERS["size"], colour: list[Label] = _FILTERS["colour"],
        sort: SortName | None = None, page_size: int = _FILTERS["page_size"],
        page_token: str = _FILTERS["page_token"]) -> Response:
    return await _list(request, catalog, query=q, category=category, function=function, brand=brand,
                       min_price_fen=min_price_fen, max_price_fen=max_price_fen, size=size,
                       colour=colour, sort=sort, page_size=page_size, page_token=page_token)


@router.get("/products/{product_id}", summary="A published product with its SKUs and media",
            description="A product on early access (VIP 优先购) carries `early_access` until its "
            "public opening; `open_to_you` says whether the caller may buy it now (a guest: no; a "
            "shopper: when invited to its trial, or of the tier rank it names once it opened to "
            "that tier). Send the shopper's bearer token to be told.",
            response_model=model_of(catalog_pb2.Product))
async def get_product(product_id: Id, catalog: Catalog, loyalty: Loyalty,
                      shopper: Principal | None = Depends(auth.optional_customer)) -> Response:
    product = await catalog.GetProduct(catalog_pb2.GetProductRequest(product_id=product_id))
    if product.HasField("early_access"):
        product.early_access.open_to_you = await _open_to(product.early_access, shopper, loyalty)
    return answer(product)


async def _open_to(rule: catalog_pb2.EarlyAccess, shopper: Principal | None, loyalty) -> bool:
    """Whether the early-access rule lets this shopper buy now: the gateway resolves her tier
    (member's GetPricingProfile, one call, only for a product still on early access)."""
    now = datetime.now(timezone.utc)
    if now >= parse_rfc3339(rule.public_at) or rule.invited:
        return True
    if shopper is None or not rule.opens_at or now < parse_rfc3339(rule.opens_at):
        return False
    profile = await loyalty.GetPricingProfile(
        loyalty_pb2.GetPricingProfileRequest(member_id=shopper.user_id))
    return profile.tier_rank >= rule.min_tier_rank
