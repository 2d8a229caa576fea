"""The loyalty defaults: 普通 / 银卡 / 金卡 / 钻石 by completed spend, and "every ¥100 paid earns
10 points, expiring at the end of the following year". The migration seeds the same values; these
put them back where the rows are missing (a database emptied by hand or by the tests), so the
service never runs without a ladder or an earning rule."""
from __future__ import annotations

from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.times import utcnow

from ..models import LoyaltySettings, Tier

BENEFITS = ("code", "name", "rank", "threshold", "discount_percent", "points_multiplier_percent",
            "free_shipping_threshold_fen", "priority_shipping", "exclusive_service", "early_access")
TIERS = [
    ("standard", "普通会员", 0, 0, 100, 100, 0, False, False, False),
    ("silver", "银卡会员", 1, 100_000, 98, 120, 29_900, False, False, False),
    ("gold", "金卡会员", 2, 300_000, 95, 150, 19_900, True, False, True),
    ("diamond", "钻石会员", 3, 800_000, 90, 200, 1, True, True, True),
]
SETTINGS = dict(id=1, earn_unit_fen=10_000, earn_points_per_unit=10, expire_after_years=1,
                birthday_coupon_template_id="", updated_by="")


def ensure_settings(session: Session) -> None:
    session.execute(dialect_insert(session, LoyaltySettings.__table__)
                    .values(**SETTINGS, updated_at=utcnow()).on_conflict_do_nothing())


def ensure_tiers(session: Session) -> None:
    now = utcnow()
    session.execute(dialect_insert(session, Tier.__table__).values(
        [dict(zip(BENEFITS, row, strict=True), threshold_kind="spend", updated_at=now) for row in TIERS])
        .on_conflict_do_nothing())
