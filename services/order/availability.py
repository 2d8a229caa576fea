"""The cart's stock hint: logistics' inventory.availability_changed, the newest per SKU kept."""
from __future__ import annotations

from datetime import datetime

from mall.events.v1 import logistics_events_pb2 as logistics
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.times import as_utc

from .models import SkuStock

LEVELS = {logistics.IN_STOCK: "in_stock", logistics.LOW: "low", logistics.OUT: "out"}


def apply(session: Session, skus, as_of: datetime) -> int:
    """skus: the event's SkuAvailability; an event older than what is stored changes nothing."""
    as_of = as_utc(as_of)
    latest = {s.sku_id: s for s in skus if s.sku_id}
    stored = {row.sku_id: row for row in session.scalars(
        select(SkuStock).where(SkuStock.sku_id.in_(sorted(latest))).with_for_update())}
    changed = 0
    for sku_id in sorted(latest):
        item = latest[sku_id]
        sellable = max(int(item.sellable), 0)
        level = "out" if sellable == 0 else LEVELS.get(item.level, "in_stock")
        row = stored.get(sku_id)
        if row is None:
            session.add(SkuStock(sku_id=sku_id, sellable=sellable, level=level, as_of=as_of))
        elif as_utc(row.as_of) <= as_of:
            row.sellable, row.level, row.as_of = sellable, level, as_of
        else:
            continue
        changed += 1
    return changed
