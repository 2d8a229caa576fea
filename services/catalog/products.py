"""Staff use cases on products and SKUs. Every change of a product that shoppers can or could see
(status published or unpublished) is announced as product.updated in the same transaction;
drafts stay quiet until they are published."""
from __future__ import annotations

import json

from mall.catalog.v1 import catalog_pb2 as pb
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from servicekit.errors import FailedPrecondition, FieldViolation, NotFound, Violations
from servicekit.times import utcnow

from . import search, sizes, validation
from .codes import SIZE_SYSTEMS
from .models import Media, Product, ProductFunction, Sku, SkuAvailability, new_id
from .snapshots import announce
from .validation import ProductFields, SkuFields


def get_for_update(session: Session, product_id: str) -> Product:
    """The product, row-locked, so concurrent edits bump its version one after the other."""
    product = session.get(Product, product_id, with_for_update=True)
    if product is None:
        raise NotFound(f"no product has id {product_id!r}")
    return product


def _apply_fields(session: Session, product: Product, data: pb.ProductInput,
                  fields: ProductFields) -> None:
    product.title, product.subtitle = data.title.strip(), data.subtitle.strip()
    d = data.description
    product.material, product.composition, product.care = d.material, d.composition, d.care
    product.origin, product.body = d.origin, d.body
    product.category_id = fields.category.id
    product.brand_id = fields.brand.id if fields.brand else None
    product.size_system, product.size_chart = fields.size_system, fields.size_chart_json
    session.execute(delete(ProductFunction).where(ProductFunction.product_id == product.id))
    session.add_all(ProductFunction(product_id=product.id, category_id=f.id)
                    for f in fields.functions)


def _add_skus(session: Session, product: Product, items: list[SkuFields]) -> list[Sku]:
    start = session.scalar(select(func.coalesce(func.max(Sku.position), -1))
                           .where(Sku.product_id == product.id)) + 1
    skus = [Sku(id=new_id(), product_id=product.id, code=f.code, size=f.size, band=f.band, cup=f.cup,
                colour=f.colour, price_fen=f.price_fen, barcode=f.barcode,
                active=True if f.active is None else f.active, position=start + i)
            for i, f in enumerate(items)]
    session.add_all(skus)
    return skus


def refresh_variants(session: Session, product: Product) -> None:
    """Recomputes what the listing card shows of the active SKUs: prices, colours, sizes, stock."""
    session.flush()
    rows = session.execute(select(Sku.price_fen, Sku.colour, Sku.size, SkuAvailability.sellable)
                           .outerjoin(SkuAvailability, SkuAvailability.sku_id == Sku.id)
                           .where(Sku.product_id == product.id, Sku.active.is_(True))
                           .order_by(Sku.position)).all()
    prices = [r.price_fen for r in rows]
    product.min_price_fen, product.max_price_fen = (min(prices), max(prices)) if prices else (0, 0)
    product.colours = json.dumps(list(dict.fromkeys(r.colour for r in rows)), ensure_ascii=False)
    product.sizes = json.dumps(sorted({r.size for r in rows}, key=sizes.size_order))
    product.in_stock = any((r.sellable or 0) > 0 for r in rows)


def touched(rt, session: Session, product: Product) -> None:
    """Bumps the version and tells consumers when the product is not a draft."""
    product.version += 1
    product.updated_at = utcnow()
    if product.status != "draft":
        announce(rt, session, product, "product.updated")


def create_product(rt, session: Session, data: pb.ProductInput, sku_inputs) -> Product:
    v = Violations()
    fields = validation.product_fields(session, data, v)
    system = SIZE_SYSTEMS.get(data.size_system)  # SKUs are checked even when the product is not
    items = validation.skus_fields(sku_inputs, system, v) if system else []
    v.raise_if_any()
    validation.check_stored_conflicts(session, None, items)
    product = Product(id=new_id(), status="draft", version=1)
    session.add(product)
    _apply_fields(session, product, data, fields)
    _add_skus(session, product, items)
    refresh_variants(session, product)
    search.reindex(session, product)
    return product


def update_product(rt, session: Session, product_id: str, data: pb.ProductInput) -> Product:
    product = get_for_update(session, product_id)
    v = Violations()
    fields = validation.product_fields(session, data, v)
    if fields and fields.size_system != product.size_system and session.scalar(
            select(func.count()).select_from(Sku).where(Sku.product_id == product.id)):
        v.add("product.size_system", "immutable",
              f"the product has {product.size_system} SKUs; its size system cannot change")
    v.raise_if_any()
    _apply_fields(session, product, data, fields)
    session.flush()
    search.reindex(session, product)
    touched(rt, session, product)
    return product


def publish(rt, session: Session, product_id: str) -> Product:
    product = get_for_update(session, product_id)
    if product.status == "published":
        return product  # a retried publish changes nothing and announces nothing
    missing = []
    if not session.scalar(select(func.count()).select_from(Sku).where(
            Sku.product_id == product.id, Sku.active.is_(True))):
        missing.append(FieldViolation("skus", "required", "add at least one active SKU first"))
    if not session.scalar(select(func.count()).select_from(Media).where(
            Media.product_id == product.id, Media.kind == "image")):
        missing.append(FieldViolation("media", "required", "upload at least one image first"))
    if missing:
        raise FailedPrecondition("the product cannot be published yet: " +
                                 "; ".join(m.description for m in missing), missing)
    product.status = "published"
    product.published_at = product.published_at or utcnow()  # "newest" means first listed
    product.version += 1
    product.updated_at = utcnow()
    announce(rt, session, product, "product.published")
    return product


def unpublish(rt, session: Session, product_id: str) -> Product:
    product = get_for_update(session, product_id)
    if product.status == "draft":
        raise FailedPrecondition("a draft was never published, so it cannot be unpublished")
    if product.status == "unpublished":
        return product
    product.status = "unpublished"
    product.version += 1
    product.updated_at = utcnow()
    announce(rt, session, product, "product.unpublished")
    return product


def add_skus(rt, session: Session, product_id: str, sku_inputs) -> Product:
    product = get_for_update(session, product_id)
    v = Violations()
    v.check(len(sku_inputs) > 0, "skus", "required", "give at least one SKU to add")
    items = validation.skus_fields(sku_inputs, product.size_system, v)
    v.raise_if_any()
    validation.check_stored_conflicts(session, product.id, items)
    _add_skus(session, product, items)
    refresh_variants(session, product)
    touched(rt, session, product)
    return product


def update_sku(rt, session: Session, sku_id: str, data: pb.SkuInput) -> Sku:
    sku = session.get(Sku, sku_id)
    if sku is None:
        raise NotFound(f"no SKU has id {sku_id!r}")
    product = get_for_update(session, sku.product_id)
    v = Violations()
    fields = validation.sku_fields(data, product.size_system, v, "sku")
    v.raise_if_any()
    validation.check_stored_conflicts(session, product.id, [fields], "sku", exclude_sku_id=sku.id)
    sku.code, sku.size, sku.band, sku.cup = fields.code, fields.size, fields.band, fields.cup
    sku.colour, sku.price_fen, sku.barcode = fields.colour, fields.price_fen, fields.barcode
    if fields.active is not None:
        sku.active = fields.active
    refresh_variants(session, product)
    touched(rt, session, product)
    return sku
