"""The product read model: what catalog's product.* events say about each SKU.

Every catalog event carries the whole product and its `version`, which grows with every change.
A SKU remembers the version it was last written from and an older event is ignored, so events
that arrive late, twice, or out of order never resurrect an unpublished product or an old price.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.times import parse_rfc3339

from .early_access import EarlyRule
from .models import ProductSku


@dataclass(frozen=True)
class SkuSnapshot:
    sku_id: str
    price_fen: int
    attributes: dict[str, str] = field(default_factory=dict)
    active: bool = True
    code: str = ""


@dataclass(frozen=True)
class ProductSnapshot:
    product_id: str
    title: str
    on_sale: bool          # published, as opposed to draft or unpublished
    version: int
    skus: tuple[SkuSnapshot, ...] = ()
    image_url: str = ""                    # the cover thumbnail an order line keeps
    # Every category the product is in, for promotion's scopes: the style category and its
    # ancestors, then its function facets, then its brand.
    category_ids: tuple[str, ...] = ()
    early_access: EarlyRule | None = None  # VIP 优先购 (early_access.py)


def snapshot_from_event(product) -> ProductSnapshot:
    """From mall.events.v1.CatalogProduct."""
    return ProductSnapshot(
        product_id=product.product_id, title=product.title,
        on_sale=product.status == "published", version=product.version,
        skus=tuple(SkuSnapshot(sku_id=s.sku_id, price_fen=s.price_fen, active=s.active,
                               attributes=sku_attributes(s), code=s.code) for s in product.skus),
        image_url=product.cover_thumbnail_url,
        category_ids=tuple(dict.fromkeys([*product.category_ids, *product.facet_ids,
                                          *([product.brand_id] if product.brand_id else [])])),
        early_access=_early_rule(product))


def _early_rule(product) -> EarlyRule | None:
    if not product.HasField("early_access") or not product.early_access.public_at:
        return None
    rule = product.early_access
    return EarlyRule(rule.min_tier_rank, rule.tier_name,
                     parse_rfc3339(rule.opens_at) if rule.opens_at else None,
                     parse_rfc3339(rule.public_at))


def sku_attributes(sku) -> dict[str, str]:
    """What tells one SKU of a product from another, as a shopper reads it."""
    attributes = {"size": sku.size, "colour": sku.colour, "cup": sku.cup,
                  "band": str(sku.band) if sku.band else ""}
    return {name: value for name, value in attributes.items() if value}


def apply_product(session: Session, product: ProductSnapshot) -> int:
    """Writes the product's SKUs as the event describes them. A SKU is buyable when the product is
    on sale and the SKU is active; a SKU the product no longer lists is not. Returns rows changed."""
    now = datetime.now(timezone.utc)
    listed_ids = [s.sku_id for s in product.skus]
    rows = {row.sku_id: row for row in session.scalars(
        select(ProductSku).where((ProductSku.product_id == product.product_id)
                                 | ProductSku.sku_id.in_(listed_ids)).with_for_update())}
    changed = 0
    for sku in product.skus:
        row = rows.get(sku.sku_id)
        if row is None:
            row = ProductSku(sku_id=sku.sku_id, product_version=-1)
            session.add(row)
        if row.product_version > product.version:
            continue
        row.product_id, row.title = product.product_id, product.title
        row.attributes, row.price_fen = dict(sku.attributes), sku.price_fen
        row.code, row.image_url = sku.code, product.image_url
        row.category_ids = list(product.category_ids)
        row.published = product.on_sale and sku.active
        rule = product.early_access
        row.early_min_rank, row.early_tier_name = (rule.min_rank, rule.tier_name) if rule else (0, "")
        row.early_opens_at = rule.opens_at if rule else None
        row.early_public_at = rule.public_at if rule else None
        row.product_version, row.updated_at = product.version, now
        changed += 1
    for sku_id, row in rows.items():
        if sku_id not in listed_ids and row.product_id == product.product_id \
                and row.product_version <= product.version:
            row.published, row.product_version, row.updated_at = False, product.version, now
            changed += 1
    return changed
