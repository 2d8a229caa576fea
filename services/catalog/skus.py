"""GetSkus: what a cart or an order line needs of SKUs, in two queries whatever their number."""
from __future__ import annotations

from mall.catalog.v1 import catalog_pb2 as pb
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.errors import InvalidArgument

from .codes import STATUS_NUMBERS
from .models import Category, Product, Sku
from .views import availability_of, sku_pb

MAX_SKUS = 200


def get_skus(session: Session, sku_ids) -> list[pb.SkuView]:
    ids = list(dict.fromkeys(i for i in sku_ids if i))
    if len(ids) > MAX_SKUS:
        raise InvalidArgument.field("sku_ids", "max_items",
                                    f"ask for at most {MAX_SKUS} SKUs at a time; got {len(ids)}")
    if not ids:
        return []
    rows = session.execute(select(Sku, Product, Category.path)
                           .join(Product, Product.id == Sku.product_id)
                           .join(Category, Category.id == Product.category_id)
                           .where(Sku.id.in_(ids))).all()
    availability = availability_of(session, (s.id for s, _, _ in rows))
    by_id = {s.id: (s, p, path) for s, p, path in rows}
    out = []
    for sku_id in ids:  # in the order asked
        if sku_id not in by_id:
            continue
        sku, product, path = by_id[sku_id]
        out.append(pb.SkuView(
            sku=sku_pb(sku, availability.get(sku.id)), product_title=product.title,
            product_status=STATUS_NUMBERS[product.status],
            cover_thumbnail_url=product.cover_thumbnail_url, category_id=product.category_id,
            category_ids=list(reversed([p for p in path.split("/") if p])),
            brand_id=product.brand_id or ""))
    return out


def known_products(session: Session, product_ids) -> list[str]:
    """Which of these product ids exist (any status), in the order asked."""
    ids = list(dict.fromkeys(i for i in product_ids if i))
    if len(ids) > MAX_SKUS:
        raise InvalidArgument.field("product_ids", "max_items",
                                    f"ask for at most {MAX_SKUS} products at a time; got {len(ids)}")
    if not ids:
        return []
    known = set(session.scalars(select(Product.id).where(Product.id.in_(ids))))
    return [i for i in ids if i in known]
