"""Sale prices shoppers see in listings and on the detail page, from the read model of
promotion's sales (`sale_campaigns`, kept by the worker from campaign.changed).

Computed at read time from the stored schedule (`servicekit.schedules`, the same arithmetic
promotion prices with): whether a sale is on now and until when, or when its next session
starts. The active sales (and what they need: their SKUs' products and prices, the category
tree) are kept in memory per api process for `MALL_CATALOG_SALES_TTL_SECONDS` (default 2), so a
listing page asks the database nothing more, except the page's function facets when some sale
is scoped by category. A tier's early price and quotas are promotion's to say at the cart."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from mall.catalog.v1 import catalog_pb2 as pb
from mall.promotion.v1 import promotion_pb2 as promotion_pb
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.config import env
from servicekit.schedules import Schedule, parse_clock
from servicekit.times import as_utc, rfc3339

from .models import Category, ProductFunction, SaleCampaign, Sku

SCOPES = {promotion_pb.SALE_SCOPE_UNSPECIFIED: "all", promotion_pb.SALE_ALL: "all",
          promotion_pb.SALE_CATEGORIES: "categories", promotion_pb.SALE_PRODUCTS: "products",
          promotion_pb.SALE_SKUS: "skus"}
KINDS = {promotion_pb.SALE: "sale", promotion_pb.FLASH_SALE: "flash_sale"}


def percent_of(fen: int, percent: int) -> int:
    """A price percentage, rounded half up to the fen (promotion's rule for one unit)."""
    return (fen * percent + 50) // 100


# ---- the stored terms, from the campaign message ----

def terms_of(campaign: promotion_pb.Campaign) -> dict:
    """What the read model keeps of a sale or flash sale (JSON in sale_campaigns.terms)."""
    spec = campaign.spec
    days = sorted(set(spec.session.weekdays) | ({spec.session.weekday} if spec.session.weekday else set()))
    schedule = {"weekdays": days, "start_minute": parse_clock(spec.session.start) if days else 0,
                "end_minute": parse_clock(spec.session.end) if days else 0}
    if spec.kind == promotion_pb.FLASH_SALE:
        items = {i.sku_id: [i.sale_price_fen, i.price_percent] for i in spec.flash_items}
        return {**schedule, "scope": "skus", "ids": [], "percent": 0, "items": items,
                "exclude_category_ids": [], "exclude_product_ids": [], "exclude_sku_ids": []}
    rule = spec.sale
    scope = SCOPES.get(rule.scope, "all")
    ids = {"categories": rule.category_ids, "products": rule.product_ids,
           "skus": rule.sku_ids}.get(scope, [])
    return {**schedule, "scope": scope, "ids": list(ids), "percent": rule.price_percent,
            "items": {i.sku_id: [i.sale_price_fen, i.price_percent] for i in rule.items},
            "exclude_category_ids": list(rule.exclude_category_ids),
            "exclude_product_ids": list(rule.exclude_product_ids),
            "exclude_sku_ids": list(rule.exclude_sku_ids)}


# ---- the sales in force, in memory ----

@dataclass(frozen=True)
class SaleView:
    campaign_id: str
    name: str
    schedule: Schedule
    scope: str
    ids: frozenset[str]
    percent: int
    items: dict[str, tuple[int, int]]          # sku -> (price, percent)
    exclude_categories: frozenset[str]
    exclude_products: frozenset[str]
    exclude_skus: frozenset[str]

    @classmethod
    def of(cls, row: SaleCampaign) -> "SaleView":
        t = json.loads(row.terms)
        return cls(row.campaign_id, row.name,
                   Schedule(as_utc(row.starts_at), as_utc(row.ends_at), tuple(t["weekdays"]),
                            t["start_minute"], t["end_minute"]),
                   t["scope"], frozenset(t["ids"]), t["percent"],
                   {sku: (p[0], p[1]) for sku, p in t["items"].items()},
                   frozenset(t["exclude_category_ids"]), frozenset(t["exclude_product_ids"]),
                   frozenset(t["exclude_sku_ids"]))

    @property
    def uses_categories(self) -> bool:
        return self.percent > 0 and (self.scope == "categories" or bool(self.exclude_categories))

    def unit_price(self, sku_id: str, product_id: str, categories: set[str], list_fen: int) -> int | None:
        """The sale price of one unit of this SKU, or None when the sale does not cover it."""
        if sku_id in self.items:
            price, percent = self.items[sku_id]
            return price if price else percent_of(list_fen, percent)
        if not self.percent or sku_id in self.exclude_skus or product_id in self.exclude_products \
                or categories & self.exclude_categories:
            return None
        covered = {"all": True, "products": product_id in self.ids, "skus": sku_id in self.ids,
                   "categories": bool(categories & self.ids)}[self.scope]
        return percent_of(list_fen, self.percent) if covered else None

    def covers_product(self, product_id: str, categories: set[str]) -> bool:
        """Whether the percent applies to every SKU of the product (not excluded one by one)."""
        if not self.percent or self.scope == "skus" or product_id in self.exclude_products \
                or categories & self.exclude_categories:
            return False
        return self.scope == "all" or (product_id in self.ids if self.scope == "products"
                                       else bool(categories & self.ids))


@dataclass(frozen=True)
class Book:
    sales: tuple[SaleView, ...]
    sku_products: dict[str, list[tuple[str, int]]]  # product -> [(named sku, list price)]
    category_paths: dict[str, tuple[str, ...]]           # category -> it and its ancestors
    uses_categories: bool


EMPTY = Book((), {}, {}, False)


class SaleBook:
    """The active sales, reloaded at most every `ttl` seconds (one thread reloads)."""

    def __init__(self, sessions, ttl_seconds: float | None = None):
        self.sessions = sessions
        self.ttl = ttl_seconds if ttl_seconds is not None else \
            float(env("SALES_TTL_SECONDS", "2", "catalog"))
        self._lock = threading.Lock()
        self._book: Book | None = None
        self._loaded_at = 0.0

    def invalidate(self) -> None:
        self._book = None

    def book(self) -> Book:
        book = self._book
        if book is not None and time.monotonic() - self._loaded_at < self.ttl:
            return book
        with self._lock:
            if self._book is None or time.monotonic() - self._loaded_at >= self.ttl:
                self._book = self._load()
                self._loaded_at = time.monotonic()
            return self._book

    def _load(self) -> Book:
        now = datetime.now(timezone.utc)
        session = self.sessions()
        try:
            rows = session.scalars(select(SaleCampaign).where(
                SaleCampaign.status == "active", SaleCampaign.ends_at > now)
                .order_by(SaleCampaign.campaign_id)).all()
            if not rows:
                return EMPTY
            sales = tuple(SaleView.of(r) for r in rows)
            named = {sku for s in sales for sku in s.items} | \
                {sku for s in sales if s.scope == "skus" for sku in s.ids}
            sku_products: dict[str, list[tuple[str, int]]] = {}
            if named:
                for sku_id, product_id, price in session.execute(
                        select(Sku.id, Sku.product_id, Sku.price_fen)
                        .where(Sku.id.in_(sorted(named)), Sku.active.is_(True))):
                    sku_products.setdefault(product_id, []).append((sku_id, price))
            uses_categories = any(s.uses_categories for s in sales)
            paths = {}
            if uses_categories:
                paths = {cid: tuple(p for p in path.split("/") if p)
                         for cid, path in session.execute(select(Category.id, Category.path))}
            return Book(sales, sku_products, paths, uses_categories)
        finally:
            session.close()


# ---- what a card and a detail page show ----

@dataclass(frozen=True)
class Card:
    product_id: str
    category_id: str
    brand_id: str
    min_price_fen: int
    max_price_fen: int


def _categories(book: Book, card: Card, functions: set[str]) -> set[str]:
    found = set(book.category_paths.get(card.category_id, (card.category_id,))) | functions
    if card.brand_id:
        found.add(card.brand_id)
    return found


def functions_of(session: Session, book: Book, product_ids: list[str]) -> dict[str, set[str]]:
    """The function facets of these products: only asked when some sale is scoped by category."""
    found: dict[str, set[str]] = {}
    if not book.uses_categories or not product_ids:
        return found
    for product_id, category_id in session.execute(
            select(ProductFunction.product_id, ProductFunction.category_id)
            .where(ProductFunction.product_id.in_(product_ids))):
        found.setdefault(product_id, set()).add(category_id)
    return found


def sale_for(book: Book, card: Card, categories: set[str], now: datetime) -> pb.SalePrice | None:
    """The sale a product shows: one on now before one coming, then the lower price."""
    best = None
    for sale in book.sales:
        current = sale.schedule.current(now)
        coming = None if current else sale.schedule.next_start(now)
        if current is None and coming is None:
            continue
        prices = []
        if sale.covers_product(card.product_id, categories):
            prices += [percent_of(card.min_price_fen, sale.percent),
                       percent_of(card.max_price_fen, sale.percent)]
        for sku_id, list_fen in book.sku_products.get(card.product_id, ()):
            price = sale.unit_price(sku_id, card.product_id, categories, list_fen)
            if price is not None and price < list_fen:
                prices.append(price)
        if not prices:
            continue
        key = (current is None, min(prices), sale.campaign_id)
        if best is None or key < best[0]:
            best = (key, sale, current, coming, prices)
    if best is None:
        return None
    _, sale, current, coming, prices = best
    return pb.SalePrice(
        campaign_id=sale.campaign_id, name=sale.name, on_now=current is not None,
        sale_min_price_fen=min(prices), sale_max_price_fen=max(prices),
        original_min_price_fen=card.min_price_fen, original_max_price_fen=card.max_price_fen,
        price_percent=sale.percent, ends_at=rfc3339(current[1]) if current else "",
        starts_at=rfc3339(coming[0]) if coming else "", schedule=sale.schedule.describe())


def decorate_listing(session: Session, book: Book, page: pb.ListProductsResponse,
                     now: datetime) -> None:
    """Sets each card's `sale` (no query unless a sale is scoped by category: then one for the
    page's function facets)."""
    if not book.sales:
        return
    functions = functions_of(session, book, [p.id for p in page.products])
    for summary in page.products:
        card = Card(summary.id, summary.category_id, summary.brand_id, summary.min_price_fen,
                    summary.max_price_fen)
        sale = sale_for(book, card, _categories(book, card, functions.get(summary.id, set())), now)
        if sale is not None:
            summary.sale.CopyFrom(sale)


def decorate_product(book: Book, product: pb.Product, now: datetime) -> None:
    """The detail page: the product's `sale`, and each SKU's price in it."""
    if not book.sales:
        return
    categories = set(product.category.path_ids) | {f.id for f in product.functions}
    if product.brand.id:
        categories.add(product.brand.id)
    card = Card(product.id, product.category.id, product.brand.id, product.min_price_fen,
                product.max_price_fen)
    sale = sale_for(book, card, categories, now)
    if sale is None:
        return
    view = next(s for s in book.sales if s.campaign_id == sale.campaign_id)
    prices = []
    for sku in product.skus:
        price = view.unit_price(sku.id, product.id, categories, sku.price_fen)
        if price is not None and price < sku.price_fen:
            sku.sale_price_fen = price
            prices.append(price)
    if prices:  # the detail knows every SKU: the exact range
        sale.sale_min_price_fen, sale.sale_max_price_fen = min(prices), max(prices)
    product.sale.CopyFrom(sale)
