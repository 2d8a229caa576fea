"""Builders for pricing-engine tests: carts, members, offers, coupons (no database)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.promotion.pricing import (
    CartLine,
    CouponOffer,
    MemberProfile,
    Scope,
    ThresholdOffer,
    ThresholdRung,
    Window,
)

# Friday 27 November 2026, 20:30 in Beijing.
FRIDAY_EVENING = datetime(2026, 11, 27, 12, 30, tzinfo=timezone.utc)
ALWAYS = Window(FRIDAY_EVENING - timedelta(days=30), FRIDAY_EVENING + timedelta(days=30))
GOLD = MemberProfile(member_id="m-1", tier_code="gold", tier_name="金卡", tier_rank=2,
                     discount_percent=95)


def line(line_id, price, quantity=1, *, sku=None, product=None, categories=()) -> CartLine:
    sku = sku or f"sku-{line_id}"
    return CartLine(line_id=line_id, sku_id=sku, product_id=product or f"p-{sku}",
                    quantity=quantity, list_price_fen=price, category_ids=tuple(categories),
                    title=f"商品{line_id}")


def ladder(campaign_id="c-threshold", *rungs, scope=Scope(), window=ALWAYS) -> ThresholdOffer:
    rungs = rungs or ((20000, 5000), (40000, 12000))
    return ThresholdOffer(campaign_id, "满减", window,
                          tuple(ThresholdRung(t, off) for t, off in rungs), scope)


def coupon(coupon_id="cp-1", *, member_id="m-1", status="available", kind="fixed_amount",
           amount=3000, threshold=10000, percent=0, cap=0, scope=Scope(), name="满100减30",
           valid_until=FRIDAY_EVENING + timedelta(days=3)) -> CouponOffer:
    return CouponOffer(coupon_id=coupon_id, member_id=member_id, status=status, name=name,
                       kind=kind, valid_from=FRIDAY_EVENING - timedelta(days=3),
                       valid_until=valid_until, amount_fen=amount, threshold_fen=threshold,
                       percent_off=percent, cap_fen=cap, scope=scope)
