"""Shopper listing and search (and the staff listing): filters, keyword search over the inverted
index, keyset pagination with signed tokens. A page is one query: the product rows carry what a
card shows (prices, colours, sizes, in_stock, cover), kept up to date when SKUs, media or
availability change; the brand's name is joined. Filters by facet add one look-up to check them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from mall.catalog.v1 import catalog_pb2 as pb
from sqlalchemy import and_, exists, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from servicekit import paging
from servicekit.errors import InvalidArgument, Violations
from servicekit.times import parse_rfc3339, rfc3339, utcnow

from . import early_access, search, sizes
from .codes import SORTS, STATUS_NUMBERS, STATUSES
from .models import Category, Product, ProductFunction, SearchTerm, Sku, SkuAvailability

MAX_FILTER_VALUES = 50
MAX_QUERY = 100
BRAND = aliased(Category, name="brand")  # built once: aliasing per call costs more than the query
# Plain columns, not entities: a listing never writes, and tuples skip the identity map.
CARD_COLUMNS = (Product.id, Product.title, Product.subtitle, Product.category_id, Product.brand_id,
                Product.min_price_fen, Product.max_price_fen, Product.cover_url,
                Product.cover_thumbnail_url, Product.colours, Product.sizes, Product.in_stock,
                Product.sales_count, Product.rating_milli,
                Product.review_count, Product.status, Product.published_at, Product.created_at,
                Product.early_min_rank, Product.early_tier_name, Product.early_opens_at,
                Product.early_public_at, BRAND.name.label("brand_name"))


@dataclass
class Filters:
    category_id: str = ""
    function_ids: list[str] = field(default_factory=list)
    brand_ids: list[str] = field(default_factory=list)
    min_price_fen: int | None = None
    max_price_fen: int | None = None
    sizes: list[str] = field(default_factory=list)
    colours: list[str] = field(default_factory=list)
    query: str = ""
    sort: str = "newest"
    status: str | None = "published"  # None: every status (staff)
    page_size: int = 0
    page_token: str = ""

    @classmethod
    def for_shopper(cls, req: pb.ListProductsRequest) -> "Filters":
        if req.sort and req.sort not in SORTS:
            raise InvalidArgument.field("sort", "enum", "sort must be one of " + ", ".join(
                pb.ProductSort.Name(n) for n in SORTS))
        sort = SORTS.get(req.sort) or ("relevance" if req.query.strip() else "newest")
        return cls(category_id=req.category_id, function_ids=list(req.function_ids),
                   brand_ids=list(req.brand_ids),
                   min_price_fen=req.min_price_fen if req.HasField("min_price_fen") else None,
                   max_price_fen=req.max_price_fen if req.HasField("max_price_fen") else None,
                   sizes=[s.strip().upper() for s in req.sizes],
                   colours=[c.strip() for c in req.colours], query=req.query.strip(), sort=sort,
                   page_size=req.page.page_size, page_token=req.page.page_token)

    @classmethod
    def for_staff(cls, req: pb.AdminListProductsRequest) -> "Filters":
        return cls(category_id=req.category_id, query=req.query.strip(), sort="created",
                   status=STATUSES.get(req.status), page_size=req.page.page_size,
                   page_token=req.page.page_token)

    def fingerprint(self) -> str:
        return paging.fingerprint(self.category_id, sorted(self.function_ids), sorted(self.brand_ids),
                                  self.min_price_fen, self.max_price_fen, sorted(self.sizes),
                                  sorted(self.colours), self.query, self.sort, self.status)


def _validate(session: Session, f: Filters) -> Category | None:
    v = Violations()
    for name in ("function_ids", "brand_ids", "sizes", "colours"):
        v.check(len(getattr(f, name)) <= MAX_FILTER_VALUES, name, "max_items",
                f"at most {MAX_FILTER_VALUES} values")
    v.check(len(f.query) <= MAX_QUERY, "query", "length",
            f"a search is at most {MAX_QUERY} characters; got {len(f.query)}")
    wanted = {f.category_id, *f.function_ids, *f.brand_ids} - {""}
    known = {c.id: c for c in session.scalars(
        select(Category).where(Category.id.in_(wanted)))} if wanted else {}
    category = None
    if f.category_id:
        category = known.get(f.category_id)
        v.check(category is not None, "category_id", "exists",
                f"no category has id {f.category_id!r}; use an id from ListCategories")
    for name, kind in (("function_ids", "function"), ("brand_ids", "brand")):
        for i, facet_id in enumerate(getattr(f, name)):
            facet = known.get(facet_id)
            if facet is None:
                v.add(f"{name}[{i}]", "exists", f"no {kind} facet has id {facet_id!r}")
            elif facet.kind != kind:
                v.add(f"{name}[{i}]", "kind", f"{facet.name!r} is a {facet.kind} category, "
                                              f"not a {kind} facet")
    for name in ("min_price_fen", "max_price_fen"):
        value = getattr(f, name)
        v.check(value is None or value >= 0, name, "non_negative",
                f"{name} is an amount in fen and cannot be negative")
    if f.min_price_fen is not None and f.max_price_fen is not None:
        v.check(f.min_price_fen <= f.max_price_fen, "max_price_fen", "range",
                "max_price_fen must be at least min_price_fen")
    for i, size in enumerate(f.sizes):
        v.check(sizes.is_valid_size(sizes.BRA, size) or sizes.is_valid_size(sizes.LETTER, size),
                f"sizes[{i}]", "size", f"{size!r} is not a size; use e.g. 75B or M")
    if f.sort == "relevance" and not f.query:
        v.add("sort", "needs_query", "RELEVANCE sorts a keyword search; give a query or another sort")
    v.raise_if_any()
    return category


def _sort_columns(f: Filters, score):
    """(columns, descending) of the keyset order; the id always breaks ties."""
    return {
        "newest": ([Product.published_at, Product.id], True),
        "created": ([Product.created_at, Product.id], True),
        "price_asc": ([Product.min_price_fen, Product.id], False),
        "price_desc": ([Product.min_price_fen, Product.id], True),
        "sales": ([Product.sales_count, Product.id], True),
        "rating": ([Product.rating_milli, Product.review_count, Product.id], True),
        "relevance": ([score, Product.id], True),
    }[f.sort]


def _key_value(value):
    return rfc3339(value) if isinstance(value, datetime) else value


def _restore(columns, key: list) -> list:
    if len(key) != len(columns):
        raise InvalidArgument.field("page_token", "signed", "page_token does not fit this sort")
    out = []
    for column, value in zip(columns, key, strict=True):
        if getattr(column, "key", "") in ("published_at", "created_at") and isinstance(value, str):
            value = parse_rfc3339(value)
        out.append(value)
    return out


def list_products(session: Session, f: Filters) -> pb.ListProductsResponse:
    size = paging.page_size(f.page_size, field="page_size")
    category = _validate(session, f)
    bound_to = f.fingerprint()
    key = paging.decode("catalog", f.page_token, bound_to, field="page_token")

    score = None
    query = select(*CARD_COLUMNS).outerjoin(BRAND, BRAND.id == Product.brand_id)
    if f.query:
        terms = search.query_terms(f.query)
        if not terms:  # only punctuation or stop words: nothing can match
            return pb.ListProductsResponse()
        matches = (select(SearchTerm.product_id, func.sum(SearchTerm.weight).label("score"))
                   .where(SearchTerm.term.in_(terms)).group_by(SearchTerm.product_id)
                   .having(func.count() == len(terms)).subquery())
        score = matches.c.score
        query = query.add_columns(score).join(matches, matches.c.product_id == Product.id)
    if f.status:
        query = query.where(Product.status == f.status)
    if category is not None:
        query = query.where(_in_category(category))
    for function_id in f.function_ids:
        query = query.where(exists().where(ProductFunction.product_id == Product.id,
                                           ProductFunction.category_id == function_id))
    if f.brand_ids:
        query = query.where(Product.brand_id.in_(f.brand_ids))
    if f.min_price_fen is not None:
        query = query.where(Product.min_price_fen >= f.min_price_fen)
    if f.max_price_fen is not None:
        query = query.where(Product.min_price_fen <= f.max_price_fen)
    if f.sizes or f.colours:
        query = query.where(_has_sku(f))

    columns, descending = _sort_columns(f, score)
    if key is not None:
        after = tuple_(*columns) < tuple_(*_restore(columns, key)) if descending \
            else tuple_(*columns) > tuple_(*_restore(columns, key))
        query = query.where(after)
    query = query.order_by(*[c.desc() if descending else c.asc() for c in columns]).limit(size + 1)
    rows = session.execute(query).all()

    page, more = rows[:size], len(rows) > size
    summaries = _summaries(page)
    next_token = ""
    if more:
        last = page[-1]
        key_values = [last.score if c is score else getattr(last, c.key) for c in columns]
        next_token = paging.encode("catalog", [_key_value(v) for v in key_values], bound_to)
    response = pb.ListProductsResponse(products=summaries)
    response.page.next_page_token = next_token
    return response


def _in_category(category: Category):
    """A style category covers its subtree; a function or brand facet is matched as such."""
    if category.kind == "function":
        return exists().where(ProductFunction.product_id == Product.id,
                              ProductFunction.category_id == category.id)
    if category.kind == "brand":
        return Product.brand_id == category.id
    subtree = select(Category.id).where(Category.path.like(f"{category.path}%"))
    return Product.category_id.in_(subtree)


def _has_sku(f: Filters):
    """Some active SKU of the product has one of the sizes, in stock, and one of the colours."""
    conditions = [Sku.product_id == Product.id, Sku.active.is_(True)]
    if f.colours:
        conditions.append(Sku.colour.in_(f.colours))
    if f.sizes:
        conditions.append(Sku.size.in_(f.sizes))
        in_stock = exists().where(SkuAvailability.sku_id == Sku.id, SkuAvailability.sellable > 0)
        conditions.append(in_stock)
    return exists().where(and_(*conditions))


def _summaries(page) -> list[pb.ProductSummary]:
    now = utcnow()
    return [pb.ProductSummary(
        id=p.id, title=p.title, subtitle=p.subtitle, category_id=p.category_id,
        brand_id=p.brand_id or "", brand_name=p.brand_name or "", min_price_fen=p.min_price_fen,
        max_price_fen=p.max_price_fen, cover_url=p.cover_url,
        cover_thumbnail_url=p.cover_thumbnail_url, colours=json.loads(p.colours),
        sizes=json.loads(p.sizes), in_stock=p.in_stock, sales_count=p.sales_count,
        rating=p.rating_milli / 1000, review_count=p.review_count,
        status=STATUS_NUMBERS[p.status], published_at=rfc3339(p.published_at),
        early_access=early_access.message(p.early_min_rank, p.early_tier_name, p.early_opens_at,
                                          p.early_public_at, now=now))
        for p in page]
