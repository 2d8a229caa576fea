"""What the catalog learns from other services' events: availability per SKU (logistics), review
summaries (support), sales counts (order) and the sales on (promotion's campaign.changed). Each is
applied in the worker's inbox transaction, so a redelivered event changes nothing; an event older
than what is stored is ignored, so late or reordered deliveries are harmless."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from mall.events.v1 import logistics_events_pb2 as logistics_ev
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.times import as_utc

from .models import Product, SaleCampaign, Sku, SkuAvailability

LEVELS = {logistics_ev.IN_STOCK: "in_stock", logistics_ev.LOW: "low", logistics_ev.OUT: "out"}


def level_for(sellable: int, level: int) -> str:
    if level in LEVELS:
        return LEVELS[level]
    return "in_stock" if sellable > 0 else "out"


def apply_availability(session: Session, skus, as_of: datetime) -> int:
    """skus: SkuAvailability messages of the event. Returns how many rows changed.

    The products of these SKUs are locked first (in id order), so two events about SKUs of one
    product take turns, and the second sees the first's stock when it recomputes `in_stock`."""
    as_of = as_utc(as_of)
    latest = {s.sku_id: s for s in skus if s.sku_id}  # the last mention of a SKU wins
    product_ids = sorted(set(session.scalars(
        select(Sku.product_id).where(Sku.id.in_(list(latest)))))) if latest else []
    if product_ids:
        session.execute(select(Product.id).where(Product.id.in_(product_ids))
                        .order_by(Product.id).with_for_update())
    stored = {row.sku_id: row for row in session.scalars(
        select(SkuAvailability).where(SkuAvailability.sku_id.in_(list(latest)))
        .with_for_update())} if latest else {}
    changed = 0
    for sku_id, item in latest.items():
        sellable = max(int(item.sellable), 0)
        row = stored.get(sku_id)
        if row is None:
            session.add(SkuAvailability(sku_id=sku_id, sellable=sellable,
                                        level=level_for(sellable, item.level), as_of=as_of))
        elif as_utc(row.as_of) <= as_of:
            row.sellable, row.level, row.as_of = sellable, level_for(sellable, item.level), as_of
        else:
            continue
        changed += 1
    session.flush()
    if product_ids:
        refresh_in_stock(session, product_ids)
    return changed


def refresh_in_stock(session: Session, product_ids: list[str]) -> None:
    sellable = (select(Sku.id).join(SkuAvailability, SkuAvailability.sku_id == Sku.id)
                .where(Sku.product_id == Product.id, Sku.active.is_(True),
                       SkuAvailability.sellable > 0))
    session.execute(update(Product).where(Product.id.in_(product_ids))
                    .values(in_stock=exists(sellable)).execution_options(synchronize_session=False))


def apply_review_summary(session: Session, product_id: str, review_count: int,
                         average_rating: float, as_of: datetime, *, version: int = 0,
                         fit: dict | None = None) -> bool:
    """Keeps the newest summary: by its version when it has one (support numbers each product's
    summaries), else by the time it was announced."""
    product = session.get(Product, product_id, with_for_update=True)
    if product is None:
        return False  # a review of a product this catalog does not have: nothing to sort
    as_of = as_utc(as_of)
    if version:
        if version <= (product.review_summary_version or 0):
            return False
    elif product.review_summary_at is not None and as_utc(product.review_summary_at) > as_of:
        return False
    product.review_count = max(review_count, 0)
    product.rating_milli = round(min(max(average_rating, 0.0), 5.0) * 1000)
    product.review_summary_at = as_of
    if version:
        product.review_summary_version = version
    if fit is not None:
        product.fit_summary = json.dumps(fit, ensure_ascii=False)
    return True


def apply_order_paid(session: Session, lines) -> None:
    """Adds each paid line's quantity to its product's sales count (the inbox makes it once)."""
    sold: dict[str, int] = {}
    for line in lines:
        if line.product_id and line.quantity > 0:
            sold[line.product_id] = sold.get(line.product_id, 0) + int(line.quantity)
    for product_id, quantity in sorted(sold.items()):  # a fixed order: no deadlocks between workers
        session.execute(update(Product).where(Product.id == product_id)
                        .values(sales_count=Product.sales_count + quantity))


def apply_campaign_changed(session: Session, data) -> bool:
    """A sale or flash sale as promotion now has it (campaign.changed). Applied only when its
    version is above the stored one: a redelivered or older event changes nothing. An ended
    campaign keeps its row (status ended), so an older "updated" heard later stays ignored."""
    from . import sales  # sales imports models only; kept local to keep this module light
    campaign, version = data.campaign, int(data.version)
    kind = sales.KINDS.get(campaign.spec.kind)
    if kind is None or not campaign.id:
        return False  # ladders, gifts, pre-sales: no price on a product card
    session.execute(dialect_insert(session, SaleCampaign).values(
        campaign_id=campaign.id, version=0, kind=kind, status="ended", name="",
        starts_at=campaign.spec.starts_at.ToDatetime(tzinfo=timezone.utc),
        ends_at=campaign.spec.ends_at.ToDatetime(tzinfo=timezone.utc), terms="{}",
        updated_at=datetime.now(timezone.utc)).on_conflict_do_nothing())
    row = session.get(SaleCampaign, campaign.id, with_for_update=True, populate_existing=True)
    if version <= row.version:
        return False
    row.version, row.kind, row.name = version, kind, campaign.spec.name
    row.status = "ended" if data.change == "ended" or campaign.status == "ended" else "active"
    row.starts_at = campaign.spec.starts_at.ToDatetime(tzinfo=timezone.utc)
    row.ends_at = campaign.spec.ends_at.ToDatetime(tzinfo=timezone.utc)
    row.terms = json.dumps(sales.terms_of(campaign), ensure_ascii=False, sort_keys=True)
    row.updated_at = datetime.now(timezone.utc)
    return True
