"""Rows -> the messages of catalog.v1, loading what they need in a fixed number of queries."""
from __future__ import annotations

import json

from mall.catalog.v1 import catalog_pb2 as pb
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.errors import NotFound
from servicekit.media_storage import MediaStorage
from servicekit.times import rfc3339

from . import early_access, sizes
from .codes import ANGLE_NUMBERS, KIND_NUMBERS, LEVEL_NUMBERS, MEDIA_KIND_NUMBERS, SIZE_SYSTEM_NUMBERS, STATUS_NUMBERS
from .models import Category, Media, Product, ProductFunction, Sku, SkuAvailability


def category_pb(c: Category) -> pb.Category:
    return pb.Category(id=c.id, kind=KIND_NUMBERS[c.kind], name=c.name, parent_id=c.parent_id or "",
                       sort_order=c.sort_order, depth=c.depth, path_ids=c.path_ids(),
                       active=c.active)


def availability_pb(row: SkuAvailability | None) -> pb.Availability:
    if row is None:  # logistics never mentioned this SKU: unknown, nothing sellable
        return pb.Availability(sellable=0, level=pb.AVAILABILITY_UNKNOWN)
    return pb.Availability(sellable=row.sellable, level=LEVEL_NUMBERS.get(row.level, 0))


def sku_pb(s: Sku, availability: SkuAvailability | None) -> pb.Sku:
    return pb.Sku(id=s.id, product_id=s.product_id, code=s.code, size=s.size, band=s.band, cup=s.cup,
                  colour=s.colour, price_fen=s.price_fen, barcode=s.barcode or "", active=s.active,
                  availability=availability_pb(availability), position=s.position)


def media_pb(m: Media, storage: MediaStorage) -> pb.Media:
    return pb.Media(id=m.id, product_id=m.product_id, kind=MEDIA_KIND_NUMBERS[m.kind],
                    angle=ANGLE_NUMBERS.get(m.angle, 0), url=storage.url(m.key),
                    hd_url=storage.url(m.hd_key), thumbnail_url=storage.url(m.thumbnail_key),
                    poster_url=storage.url(m.poster_key), width=m.width, height=m.height,
                    content_type=m.content_type, size_bytes=m.size_bytes, position=m.position)


def availability_of(session: Session, sku_ids) -> dict[str, SkuAvailability]:
    sku_ids = list(sku_ids)
    if not sku_ids:
        return {}
    return {a.sku_id: a for a in session.scalars(
        select(SkuAvailability).where(SkuAvailability.sku_id.in_(sku_ids)))}


def product_pb(session: Session, product: Product, storage: MediaStorage, *,
               shopper: bool, caller_id: str = "") -> pb.Product:
    """The detail page: the product with its facets, SKUs (availability each), media, size chart."""
    ids = [product.category_id, product.brand_id or ""]
    ids += session.scalars(select(ProductFunction.category_id)
                           .where(ProductFunction.product_id == product.id)).all()
    categories = {c.id: c for c in session.scalars(select(Category).where(Category.id.in_(ids)))}
    sku_query = select(Sku).where(Sku.product_id == product.id)
    if shopper:
        sku_query = sku_query.where(Sku.active.is_(True))
    skus = sorted(session.scalars(sku_query),
                  key=lambda s: (sizes.size_order(s.size), s.position, s.colour))
    availability = availability_of(session, (s.id for s in skus))
    media = session.scalars(select(Media).where(Media.product_id == product.id)
                            .order_by(Media.position, Media.created_at, Media.id))
    chart = json.loads(product.size_chart or "{}")
    functions = sorted((categories[i] for i in ids[2:] if i in categories),
                       key=lambda c: (c.sort_order, c.name))
    message = pb.Product(
        id=product.id, title=product.title, subtitle=product.subtitle,
        description=pb.ProductDescription(material=product.material,
                                          composition=product.composition, care=product.care,
                                          origin=product.origin, body=product.body),
        status=STATUS_NUMBERS[product.status], category=category_pb(categories[product.category_id]),
        functions=[category_pb(c) for c in functions],
        size_system=SIZE_SYSTEM_NUMBERS[product.size_system],
        size_chart=pb.SizeChart(columns=chart.get("columns", []), rows=[
            pb.SizeChartRow(size=r["size"], values=r["values"]) for r in chart.get("rows", [])]),
        skus=[sku_pb(s, availability.get(s.id)) for s in skus],
        media=[media_pb(m, storage) for m in media],
        min_price_fen=product.min_price_fen, max_price_fen=product.max_price_fen,
        sales_count=product.sales_count, rating=product.rating_milli / 1000,
        review_count=product.review_count, created_at=rfc3339(product.created_at),
        updated_at=rfc3339(product.updated_at), published_at=rfc3339(product.published_at),
        version=product.version,
        early_access=early_access.message(
            product.early_min_rank, product.early_tier_name, product.early_opens_at,
            product.early_public_at,
            invited=shopper and early_access.is_invited(session, product.id, caller_id)))
    if product.brand_id and product.brand_id in categories:
        message.brand.CopyFrom(category_pb(categories[product.brand_id]))
    fit = json.loads(product.fit_summary or "{}")
    if fit:
        message.fit.CopyFrom(pb.ProductFit(
            runs_small=fit.get("runs_small", 0), true_to_size=fit.get("true_to_size", 0),
            runs_large=fit.get("runs_large", 0),
            sizes=[pb.SizeFit(**size) for size in fit.get("sizes", [])]))
    return message


def product_detail(session: Session, product_id: str, storage: MediaStorage, *,
                   shopper: bool, caller_id: str = "") -> pb.Product:
    product = session.get(Product, product_id)
    if product is None or (shopper and product.status != "published"):
        raise NotFound(f"no product has id {product_id!r}")
    return product_pb(session, product, storage, shopper=shopper, caller_id=caller_id)
