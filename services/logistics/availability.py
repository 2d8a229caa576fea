"""What can be sold: per warehouse, summed over active warehouses, and announced on each change."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from mall.events.v1 import logistics_events_pb2 as events
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.config import env_int
from servicekit.runtime import Runtime

from .models import Stock, Warehouse

AVAILABILITY_CHANGED = "inventory.availability_changed"


def default_low_stock_threshold() -> int:
    return env_int("LOW_STOCK_THRESHOLD", 5, "logistics")


def level(sellable: int, low_stock_threshold: int) -> int:
    """OUT at zero, LOW at or below the threshold, IN_STOCK above it."""
    if sellable <= 0:
        return events.OUT
    if sellable <= low_stock_threshold:
        return events.LOW
    return events.IN_STOCK


@dataclass(frozen=True)
class Availability:
    sku_id: str
    sellable: int
    low_stock_threshold: int

    @property
    def level(self) -> int:
        return level(self.sellable, self.low_stock_threshold)

    def message(self) -> events.SkuAvailability:
        return events.SkuAvailability(sku_id=self.sku_id, sellable=self.sellable, level=self.level)


def summed(session: Session, sku_ids: list[str], rows: Iterable | None = None
           ) -> dict[str, Availability]:
    """Sellable stock per SKU over active warehouses; a warehouse that oversold (negative
    sellable) counts as zero, never against another warehouse's goods. The thresholds add up
    too, so LOW means the whole network is at or below the sum of its warehouses' thresholds.
    `rows`, when given, are every stock row of these SKUs in active warehouses, current in this
    transaction (Stock objects, or anything with sku_id, sellable and low_stock_threshold): a
    caller that holds them saves the query."""
    totals = {sku_id: [0, 0] for sku_id in sku_ids}
    if rows is None:
        rows = session.scalars(select(Stock).join(Warehouse)
                               .where(Stock.sku_id.in_(sku_ids), Warehouse.active.is_(True)))
    for stock in rows:
        totals[stock.sku_id][0] += stock.sellable
        totals[stock.sku_id][1] += stock.low_stock_threshold
    return {sku_id: Availability(sku_id, s, t) for sku_id, (s, t) in totals.items()}


def announce(runtime: Runtime, session: Session, sku_ids: list[str],
             rows: Iterable | None = None) -> dict:
    """Emits inventory.availability_changed for these SKUs in the caller's transaction."""
    session.flush()
    current = summed(session, sku_ids, rows)
    return runtime.emit(session, AVAILABILITY_CHANGED, events.AvailabilityChanged(
        skus=[current[sku_id].message() for sku_id in dict.fromkeys(sku_ids)]))
