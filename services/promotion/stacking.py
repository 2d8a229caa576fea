"""The merchant's stacking rules: which discounts (tier, ladder, coupon, points) also apply to
sale lines, and the price floor (no line below a percent of its list price). One row, set by
staff; until then the environment's MALL_PROMOTION_*_ON_SALE_ITEMS settings (floor 0)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from servicekit.errors import InvalidArgument

from .models import StackingSettings
from .pricing import Stacking

ROW_ID = 1


@dataclass(frozen=True)
class Current:
    stacking: Stacking
    row: StackingSettings | None     # None: the defaults


def current(session: Session, defaults: Stacking) -> Current:
    row = session.get(StackingSettings, ROW_ID)
    return Current(apply(defaults, row), row)


def apply(defaults: Stacking, row: StackingSettings | None) -> Stacking:
    if row is None:
        return defaults
    return replace(defaults, member_discount_on_sale_items=row.member_discount_on_sale_items,
                   threshold_on_sale_items=row.threshold_on_sale_items,
                   coupons_on_sale_items=row.coupons_on_sale_items,
                   points_on_sale_items=row.points_on_sale_items, floor_percent=row.floor_percent)


def set_rules(session: Session, *, member: bool, threshold: bool, coupons: bool, points: bool,
              floor_percent: int, by: str, now: datetime) -> StackingSettings:
    if not 0 <= floor_percent <= 100:
        raise InvalidArgument.field("rules.floor_percent", "range", (
            f"floor_percent is 0 (no floor) .. 100 percent of the list price; got {floor_percent}"))
    row = session.get(StackingSettings, ROW_ID, with_for_update=True)
    if row is None:
        row = StackingSettings(id=ROW_ID)
        session.add(row)
    row.member_discount_on_sale_items, row.threshold_on_sale_items = member, threshold
    row.coupons_on_sale_items, row.points_on_sale_items = coupons, points
    row.floor_percent, row.updated_by, row.updated_at = floor_percent, by, now
    session.flush()
    return row
