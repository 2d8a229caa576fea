"""The rules in force, as the pricing engine reads them, loaded from the database at most once per
`ttl` seconds per process (MALL_PROMOTION_RULES_TTL_SECONDS, default 2) and reloaded at once after
this process changed a campaign. Quotas shown by Quote may be that stale; LockForOrder counts
exactly, so a stale quota never sells a unit twice.

Stacking and shipping are configurable through the environment (see the README)."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from sqlalchemy import select

from servicekit.config import env, env_int
from servicekit.times import parse_rfc3339

from . import campaigns, stacking
from . import sales as sales_mod
from .models import Campaign, CampaignQuota
from .pricing import (
    GiftOffer,
    PresaleItem,
    PresaleOffer,
    PricingRules,
    SaleItem,
    SaleOffer,
    ShippingRule,
    Stacking,
    ThresholdOffer,
    ThresholdRung,
)
from .scopes import scope_of

SERVICE = "promotion"


def _flag(key: str, default: bool) -> bool:
    return env(key, "1" if default else "0", SERVICE) in ("1", "true", "yes")


def stacking_from_env() -> Stacking:
    return Stacking(
        member_discount_on_sale_items=_flag("MEMBER_DISCOUNT_ON_SALE_ITEMS", False),
        threshold_on_sale_items=_flag("THRESHOLD_ON_SALE_ITEMS", False),
        coupons_on_sale_items=_flag("COUPONS_ON_SALE_ITEMS", False),
        max_coupons_per_order=env_int("MAX_COUPONS_PER_ORDER", 1, SERVICE),
        points_per_yuan=env_int("POINTS_PER_YUAN", 100, SERVICE),
        points_max_percent=env_int("POINTS_MAX_PERCENT", 50, SERVICE))


def shipping_from_env() -> ShippingRule:
    remote = env("SHIPPING_REMOTE_PROVINCES", "新疆维吾尔自治区,西藏自治区", SERVICE)
    return ShippingRule(
        fee_fen=env_int("SHIPPING_FEE_FEN", 1000, SERVICE),
        free_over_fen=env_int("SHIPPING_FREE_OVER_FEN", 9900, SERVICE),
        remote_fee_fen=env_int("SHIPPING_REMOTE_FEE_FEN", 2000, SERVICE),
        remote_provinces=frozenset(p.strip() for p in remote.split(",") if p.strip()))


class Rulebook:
    def __init__(self, sessions, ttl_seconds: float | None = None):
        self.sessions = sessions
        self.ttl = ttl_seconds if ttl_seconds is not None else \
            float(env("RULES_TTL_SECONDS", "2", SERVICE))
        self.stacking, self.shipping = stacking_from_env(), shipping_from_env()
        self._lock = threading.Lock()
        self._rules: PricingRules | None = None
        self._loaded_at = 0.0

    def invalidate(self) -> None:
        self._rules = None

    def rules(self) -> PricingRules:
        rules = self._rules
        if rules is not None and time.monotonic() - self._loaded_at < self.ttl:
            return rules
        with self._lock:  # one thread reloads; the others wait for its answer
            if self._rules is None or time.monotonic() - self._loaded_at >= self.ttl:
                self._rules = self._load()
                self._loaded_at = time.monotonic()
            return self._rules

    def _load(self) -> PricingRules:
        now = datetime.now(timezone.utc)
        session = self.sessions()
        try:
            rows = list(session.scalars(select(Campaign).where(
                Campaign.status == "active", Campaign.ends_at > now).order_by(Campaign.id)))
            sessions = {r.id: campaigns.session_key(r, now) for r in rows}
            left = {(q.campaign_id, q.sku_id): q.total - q.taken for q in session.scalars(
                select(CampaignQuota).where(CampaignQuota.campaign_id.in_([r.id for r in rows])))
                if q.session_key == sessions[q.campaign_id]}
            merchant = stacking.current(session, self.stacking).stacking
        finally:
            session.close()
        return rules_from(rows, left, merchant, self.shipping)


def rules_from(rows: list[Campaign], left: dict, stacking: Stacking, shipping: ShippingRule) -> PricingRules:
    sales, thresholds, gifts, presales = [], [], [], []
    for c in rows:
        cid, window, t = str(c.id), campaigns.window_of(c), c.terms
        if c.kind == "flash_sale":
            sales.append(SaleOffer(cid, c.name, window, {
                # A weekly session nobody has bought from yet has its whole quota.
                i["sku_id"]: SaleItem(i["sku_id"], i["sale_price_fen"], i["price_percent"],
                                      left.get((c.id, i["sku_id"]), i.get("quota", 0)))
                for i in t["items"]},
                c.per_member_limit))
        elif c.kind == "sale":
            sales_left = {sku: n for (campaign_id, sku), n in left.items() if campaign_id == c.id}
            early = t.get("early_access_from")
            sales.append(SaleOffer(
                cid, c.name, window, sales_mod.engine_items(t, sales_left), c.per_member_limit,
                scope=sales_mod.engine_scope(t) if t["price_percent"] else None,
                percent=t["price_percent"],
                early_access_from=parse_rfc3339(early) if early else None,
                early_access_min_rank=t.get("early_access_min_rank", 0),
                stacking=sales_mod.engine_stacking(t)))
        elif c.kind == "threshold":
            thresholds.append(ThresholdOffer(cid, c.name, window, tuple(
                ThresholdRung(r[0], r[1]) for r in t["rungs"]), scope_of(c)))
        elif c.kind == "gift":
            gifts.append(GiftOffer(cid, c.name, window, t["threshold_fen"], t["gift_sku_id"],
                                   t["gift_product_id"], t["gift_title"], t["quantity_per_order"],
                                   left.get((c.id, t["gift_sku_id"]), 0), scope_of(c),
                                   t.get("return_rule", "return"), t.get("gift_value_fen", 0)))
        else:
            presales.append(PresaleOffer(
                cid, c.name, window,
                {i["sku_id"]: PresaleItem(i["sku_id"], i["deposit_fen"], i["deposit_counts_as_fen"],
                                          i.get("presale_price_fen", 0))
                 for i in t["items"]},
                parse_rfc3339(t["balance_from"]), parse_rfc3339(t["balance_until"]),
                parse_rfc3339(t["early_access_from"]) if t["early_access_from"] else None,
                t["early_access_min_rank"],
                parse_rfc3339(t["release_at"]) if t.get("release_at") else None,
                t.get("unpaid_balance", "")))
    return PricingRules(tuple(sales), tuple(thresholds), tuple(gifts), tuple(presales),
                        stacking, shipping)
