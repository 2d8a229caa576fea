"""Sales (kind `sale`): a price percentage over a scope (the whole store, categories, products or
SKUs, minus exclusions) and/or prices per SKU, optionally with a quota per SKU, a per-member
limit, an early opening for tiers at or above a rank, and stacking rules of its own. A flash
sale is the per-SKU form with quotas; both become the engine's SaleOffer.

Here: the terms as staff send them, their rules (no database), their storage in a campaign's
`terms`, and whether two sales may price the same SKU (for the stacking-conflict refusal)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from servicekit.errors import Violations
from servicekit.ids import check_references, excerpt, is_reference
from servicekit.times import parse_rfc3339, rfc3339

from .pricing import SaleItem, SaleScope, Stacking

SALE_SCOPES = ("all", "categories", "products", "skus")
SCOPE_FIELDS = {"categories": "category_ids", "products": "product_ids", "skus": "sku_ids"}
EXCLUSIONS = ("exclude_category_ids", "exclude_product_ids", "exclude_sku_ids")
MAX_IDS = 200
MAX_QUOTA = 1_000_000
STACK_FLAGS = ("member_discount_on_sale_items", "threshold_on_sale_items",
               "coupons_on_sale_items", "points_on_sale_items")


@dataclass(frozen=True)
class SaleStackingTerms:
    member_discount_on_sale_items: bool = False
    threshold_on_sale_items: bool = False
    coupons_on_sale_items: bool = False
    points_on_sale_items: bool = True

    def flags(self) -> tuple[bool, ...]:
        return tuple(getattr(self, f) for f in STACK_FLAGS)


@dataclass(frozen=True)
class SaleItemTerms:
    sku_id: str
    sale_price_fen: int = 0
    price_percent: int = 0
    quota: int = 0                   # 0: no quota


@dataclass(frozen=True)
class SaleTerms:
    scope: str = "all"
    category_ids: tuple[str, ...] = ()
    product_ids: tuple[str, ...] = ()
    sku_ids: tuple[str, ...] = ()
    exclude_category_ids: tuple[str, ...] = ()
    exclude_product_ids: tuple[str, ...] = ()
    exclude_sku_ids: tuple[str, ...] = ()
    price_percent: int = 0           # 80 = 8 折 (20% off); 0: only `items`
    items: tuple[SaleItemTerms, ...] = ()
    stacking: SaleStackingTerms | None = None
    early_access_from: datetime | None = None
    early_access_min_rank: int = 0


def check(v: Violations, sale: SaleTerms | None, starts_at: datetime | None,
          per_member_limit: int) -> None:
    """Every rule of a sale's terms, on `spec.sale.<field>`."""
    if not v.check(sale is not None, "spec.sale", "required", "a sale needs its terms (spec.sale)"):
        return
    at = "spec.sale"
    if v.check(sale.scope in SALE_SCOPES, f"{at}.scope", "one_of",
               f"scope must be one of {', '.join(SALE_SCOPES)}"):
        for scope, name in SCOPE_FIELDS.items():
            ids = getattr(sale, name)
            if scope == sale.scope:
                v.check(bool(ids), f"{at}.{name}", "required",
                        f"a sale scoped to {scope} needs at least one id in {name}")
            else:
                v.check(not ids, f"{at}.{name}", "unused", f"{name} is only for scope {scope}")
    for name in (*SCOPE_FIELDS.values(), *EXCLUSIONS):
        ids = getattr(sale, name)
        if ids and v.check(len(ids) <= MAX_IDS, f"{at}.{name}", "max_items",
                           f"{name} holds at most {MAX_IDS} ids"):
            v.check(all(ids) and len(set(ids)) == len(ids), f"{at}.{name}", "distinct",
                    f"{name} must hold distinct, non-empty ids")
            check_references(v, f"{at}.{name}", list(ids))
    if sale.price_percent:
        v.check(1 <= sale.price_percent <= 99, f"{at}.price_percent", "range",
                f"price_percent is a price percentage 1..99 (80 = 8 折, 20% off); got "
                f"{sale.price_percent}")
    elif not sale.items:
        v.add(f"{at}.price_percent", "required",
              "give a price_percent 1..99 for the scope, or per-SKU prices in items")
    v.check(len(sale.items) <= MAX_IDS, f"{at}.items", "max_items", f"at most {MAX_IDS} items")
    skus = [i.sku_id for i in sale.items]
    v.check(all(skus) and len(set(skus)) == len(skus), f"{at}.items", "distinct",
            "every item needs its own non-empty sku_id")
    for n, item in enumerate(sale.items):
        where = f"{at}.items[{n}]"
        v.check(not item.sku_id or is_reference(item.sku_id), f"{where}.sku_id", "format",
                f"{excerpt(item.sku_id)} is not a SKU id")
        if item.price_percent:
            v.check(1 <= item.price_percent <= 99, f"{where}.price_percent", "range",
                    f"price_percent is a price percentage 1..99 (80 = 8 折); got {item.price_percent}")
        v.check((item.sale_price_fen > 0) != (item.price_percent != 0), f"{where}.sale_price_fen",
                "price_or_percent", "give a sale_price_fen > 0 or a price_percent 1..99, not both")
        v.check(0 <= item.quota <= MAX_QUOTA, f"{where}.quota", "range",
                f"quota is 0 (none) .. {MAX_QUOTA} units; got {item.quota}")
    v.check(per_member_limit >= 0, "spec.per_member_limit", "non_negative",
            "per_member_limit is 0 (no limit) or the units one member may buy")
    if sale.early_access_from is not None:
        if starts_at is not None:
            v.check(sale.early_access_from < starts_at, f"{at}.early_access_from", "before_start",
                    "early access opens before starts_at (when everyone may buy)")
        v.check(1 <= sale.early_access_min_rank <= 10, f"{at}.early_access_min_rank", "range",
                "early access needs the lowest tier rank admitted, 1..10")
    else:
        v.check(sale.early_access_min_rank == 0, f"{at}.early_access_min_rank", "unused",
                "early_access_min_rank needs early_access_from")


# ---- storage (a campaign's `terms`) ----

def to_terms(sale: SaleTerms) -> dict:
    return {
        "scope": sale.scope, **{name: list(getattr(sale, name))
                                for name in (*SCOPE_FIELDS.values(), *EXCLUSIONS)},
        "price_percent": sale.price_percent,
        "items": [{"sku_id": i.sku_id, "sale_price_fen": i.sale_price_fen,
                   "price_percent": i.price_percent, "quota": i.quota} for i in sale.items],
        "stacking": list(sale.stacking.flags()) if sale.stacking else None,
        "early_access_from": rfc3339(sale.early_access_from) if sale.early_access_from else "",
        "early_access_min_rank": sale.early_access_min_rank}


def from_terms(t: dict) -> SaleTerms:
    return SaleTerms(
        scope=t["scope"], **{name: tuple(t.get(name, ())) for name in (*SCOPE_FIELDS.values(), *EXCLUSIONS)},
        price_percent=t["price_percent"],
        items=tuple(SaleItemTerms(i["sku_id"], i["sale_price_fen"], i["price_percent"], i["quota"])
                    for i in t["items"]),
        stacking=SaleStackingTerms(*t["stacking"]) if t.get("stacking") else None,
        early_access_from=parse_rfc3339(t["early_access_from"]) if t.get("early_access_from") else None,
        early_access_min_rank=t.get("early_access_min_rank", 0))


def engine_scope(t: dict) -> SaleScope:
    return SaleScope(t["scope"], *(frozenset(t.get(n, ())) for n in (*SCOPE_FIELDS.values(), *EXCLUSIONS)))


def engine_items(t: dict, left: dict) -> dict[str, SaleItem]:
    """The per-SKU prices; `left`: the quota left by SKU (a SKU with a quota nobody took from yet
    has all of it)."""
    return {i["sku_id"]: SaleItem(i["sku_id"], i["sale_price_fen"], i["price_percent"],
                                  left.get(i["sku_id"], i["quota"]) if i["quota"] else None)
            for i in t["items"]}


def engine_stacking(t: dict) -> Stacking | None:
    if not t.get("stacking"):
        return None
    return Stacking(**dict(zip(STACK_FLAGS, t["stacking"], strict=True)))


# ---- may two pricing campaigns touch the same SKU? ----

@dataclass(frozen=True)
class Reach:
    """What a pricing campaign may price: explicit SKUs, or a scope (with exclusions)."""
    scope: str                       # skus (explicit: flash sale, pre-sale, items only) | all | categories | products
    ids: frozenset[str]              # the scope's ids (SKUs for "skus")
    sku_ids: frozenset[str]          # per-SKU items (priced whatever the scope)
    excluded: dict[str, frozenset[str]]


def reach_of(kind: str, terms: dict, sku_ids: list[str]) -> Reach:
    if kind != "sale":
        return Reach("skus", frozenset(sku_ids), frozenset(sku_ids), {})
    items = frozenset(i["sku_id"] for i in terms["items"])
    if not terms["price_percent"]:
        return Reach("skus", items, items, {})
    field = SCOPE_FIELDS.get(terms["scope"])
    ids = frozenset(terms.get(field, ())) | (items if terms["scope"] == "skus" else frozenset())
    return Reach(terms["scope"], ids, items, {
        "categories": frozenset(terms.get("exclude_category_ids", ())),
        "products": frozenset(terms.get("exclude_product_ids", ())),
        "skus": frozenset(terms.get("exclude_sku_ids", ()))})


def may_share(a: Reach, b: Reach) -> bool:
    """Whether some SKU may be priced by both. Explicit SKU sets and product lists are compared;
    a scope that excludes everything the other names does not share; anything else (categories
    against products, say) cannot be told apart without the catalog, so it may share."""
    if a.sku_ids & b.sku_ids:
        return True
    if a.scope == b.scope and a.scope in ("skus", "products"):
        return bool(a.ids & b.ids)
    for one, other in ((a, b), (b, a)):
        if one.scope == "all" and other.scope in ("categories", "products", "skus") \
                and other.ids <= one.excluded.get(other.scope, frozenset()):
            return bool(other.sku_ids - one.excluded.get("skus", frozenset()))
    return True
