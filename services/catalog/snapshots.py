"""The product as the product.* events carry it (mall.events.v1.CatalogProduct), and emitting."""
from __future__ import annotations

from mall.events.v1 import catalog_events_pb2 as ev
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.times import rfc3339

from .models import Category, Product, ProductFunction, Sku

EVENT_MESSAGES = {"product.published": ev.ProductPublished, "product.updated": ev.ProductUpdated,
                  "product.unpublished": ev.ProductUnpublished}


def snapshot(session: Session, product: Product) -> ev.CatalogProduct:
    category = session.get(Category, product.category_id)
    brand = session.get(Category, product.brand_id) if product.brand_id else None
    function_ids = session.scalars(select(ProductFunction.category_id)
                                   .where(ProductFunction.product_id == product.id)
                                   .order_by(ProductFunction.category_id)).all()
    skus = session.scalars(select(Sku).where(Sku.product_id == product.id)
                           .order_by(Sku.position, Sku.code)).all()
    return ev.CatalogProduct(
        product_id=product.id, title=product.title, subtitle=product.subtitle,
        status=product.status, category_id=product.category_id,
        category_name=category.name if category else "",
        category_ids=list(reversed(category.path_ids())) if category else [],
        facet_ids=list(function_ids), brand_id=product.brand_id or "",
        brand_name=brand.name if brand else "",
        skus=[ev.CatalogSku(sku_id=s.id, code=s.code, size=s.size, band=s.band, cup=s.cup,
                            colour=s.colour, price_fen=s.price_fen, barcode=s.barcode or "",
                            active=s.active) for s in skus],
        cover_image_url=product.cover_url, cover_thumbnail_url=product.cover_thumbnail_url,
        min_price_fen=product.min_price_fen, max_price_fen=product.max_price_fen,
        version=product.version, updated_at=rfc3339(product.updated_at),
        # the early-access rule (early_access.py), also once past: order decides by the times
        early_access=ev.CatalogEarlyAccess(
            min_tier_rank=product.early_min_rank, tier_name=product.early_tier_name,
            opens_at=rfc3339(product.early_opens_at), public_at=rfc3339(product.early_public_at))
        if product.early_public_at is not None else None)


def announce(rt, session: Session, product: Product, event_type: str) -> dict:
    """Writes the event to the outbox in the caller's transaction."""
    session.flush()
    return rt.emit(session, event_type, EVENT_MESSAGES[event_type](product=snapshot(session, product)))
