"""The SKU registry: which SKUs exist, learned from catalog's product events.

Logistics never calls catalog: every product event carries the whole product with its SKUs.
Events can arrive late or out of order, so a row remembers the product version it reflects and
ignores older ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.errors import FieldViolation, NotFound

from .models import Sku


@dataclass(frozen=True)
class CatalogSku:
    sku_id: str
    code: str = ""
    active: bool = True


@dataclass(frozen=True)
class CatalogProduct:
    product_id: str
    title: str
    status: str            # draft | published | unpublished
    version: int
    skus: tuple[CatalogSku, ...]

    @classmethod
    def from_event(cls, product) -> "CatalogProduct":
        """From mall.events.v1.CatalogProduct (the `product` of every product.* event)."""
        return cls(product.product_id, product.title, product.status, product.version,
                   tuple(CatalogSku(s.sku_id, s.code, s.active) for s in product.skus if s.sku_id))


def register_product(session: Session, product: CatalogProduct) -> int:
    """Creates or refreshes the product's SKUs from one product event; SKUs the product no
    longer lists become inactive. Returns how many rows changed (0 for a stale event)."""
    now = datetime.now(timezone.utc)
    listed = {s.sku_id: s for s in product.skus}
    rows = {s.sku_id: s for s in session.scalars(
        select(Sku).where((Sku.product_id == product.product_id) | Sku.sku_id.in_(list(listed)))
        .with_for_update())}
    changed = 0
    for sku_id, spec in listed.items():
        active = product.status == "published" and spec.active
        row = rows.get(sku_id)
        if row is None:
            session.add(Sku(sku_id=sku_id, product_id=product.product_id, code=spec.code[:64],
                            title=product.title[:200], active=active,
                            catalog_version=product.version, registered_at=now, updated_at=now))
            changed += 1
        elif row.catalog_version <= product.version:
            row.product_id, row.code, row.title = product.product_id, spec.code[:64], \
                product.title[:200]
            row.active, row.catalog_version, row.updated_at = active, product.version, now
            changed += 1
    for sku_id, row in rows.items():
        if sku_id not in listed and row.product_id == product.product_id \
                and row.catalog_version <= product.version:
            row.active, row.catalog_version, row.updated_at = False, product.version, now
            changed += 1
    session.flush()
    return changed


def lock_sku(session: Session, sku_id: str, field: str = "sku_id") -> Sku:
    """The SKU, locked for this transaction: every stock change of one SKU is serialized, so the
    availability each change announces is a consistent sum and announcements keep their order."""
    sku = session.scalar(select(Sku).where(Sku.sku_id == sku_id).with_for_update())
    if sku is None:
        raise unknown_skus([(field, sku_id)])
    return sku


def unknown_skus(fields_and_ids: list[tuple[str, str]]) -> NotFound:
    ids = ", ".join(sku_id for _, sku_id in fields_and_ids)
    return NotFound(f"logistics does not know SKU {ids}", [
        FieldViolation(field, "exists",
                       f"SKU {sku_id!r} is unknown to logistics: it learns SKUs from catalog's "
                       "product events; publish the product in catalog first")
        for field, sku_id in fields_and_ids])


def known_sku_ids(session: Session, sku_ids: list[str]) -> set[str]:
    return set(session.scalars(select(Sku.sku_id).where(Sku.sku_id.in_(sku_ids))))
