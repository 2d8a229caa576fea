"""What the engine reads: the rules in force (campaigns, coupons, stacking, shipping) and one cart.

Everything is immutable, money is integer fen, times are aware datetimes (UTC in, Asia/Shanghai
only inside `Window`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from servicekit.schedules import Schedule as Window


@dataclass(frozen=True)
class CartLine:
    line_id: str
    sku_id: str
    product_id: str
    quantity: int
    list_price_fen: int              # one unit, from catalog (promotion does not own prices)
    category_ids: tuple[str, ...] = ()
    title: str = ""


@dataclass(frozen=True)
class MemberProfile:
    """From member.GetPricingProfile; the default is a guest."""
    member_id: str = ""
    tier_code: str = ""
    tier_name: str = ""
    tier_rank: int = 0
    discount_percent: int = 100      # price percentage: 95 = 95 折, 100 = no discount
    early_access_presale: bool = False
    free_shipping_over_fen: int = 0  # the tier's free-shipping threshold; 0: the shop's

    @property
    def is_guest(self) -> bool:
        return not self.member_id


@dataclass(frozen=True)
class Scope:
    kind: str = "all"                # all | categories | products
    category_ids: frozenset[str] = frozenset()
    product_ids: frozenset[str] = frozenset()

    def covers(self, line: CartLine) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "products":
            return line.product_id in self.product_ids
        return any(c in self.category_ids for c in line.category_ids)


@dataclass(frozen=True)
class SaleScope:
    """What a sale covers: the whole store, categories (style, function, brand: a line's
    category_ids), products or SKUs, minus exclusions (e.g. a "new arrivals" category)."""
    kind: str = "all"                # all | categories | products | skus
    category_ids: frozenset[str] = frozenset()
    product_ids: frozenset[str] = frozenset()
    sku_ids: frozenset[str] = frozenset()
    exclude_category_ids: frozenset[str] = frozenset()
    exclude_product_ids: frozenset[str] = frozenset()
    exclude_sku_ids: frozenset[str] = frozenset()

    def covers(self, line: CartLine) -> bool:
        if (line.sku_id in self.exclude_sku_ids or line.product_id in self.exclude_product_ids
                or any(c in self.exclude_category_ids for c in line.category_ids)):
            return False
        if self.kind == "all":
            return True
        if self.kind == "skus":
            return line.sku_id in self.sku_ids
        if self.kind == "products":
            return line.product_id in self.product_ids
        return any(c in self.category_ids for c in line.category_ids)


@dataclass(frozen=True)
class SaleItem:
    sku_id: str
    price_fen: int = 0               # the sale price of one unit, or
    percent: int = 0                 # a price percentage of the list price (80 = 8 折)
    remaining: int | None = None     # flash quota left; None when not counted


@dataclass(frozen=True)
class SaleOffer:
    """A time-limited sale: per-SKU prices (a flash sale: with a quota), and/or a price
    percentage over a scope (a store-wide or category sale), a limit per member, optionally open
    early to tiers at or above a rank, optionally with stacking rules of its own."""
    campaign_id: str
    name: str
    window: Window
    items: dict[str, SaleItem]       # by sku_id: these prices win over `percent`
    per_member_limit: int = 0        # units per member per campaign; 0: no limit
    scope: SaleScope | None = None   # None: only the SKUs of `items`
    percent: int = 0                 # price percentage (80 = 8 折) for what `scope` covers
    early_access_from: datetime | None = None   # members of rank >= early_access_min_rank ...
    early_access_min_rank: int = 0   # ... get the sale from here (before window.starts_at)
    stacking: "Stacking | None" = None  # None: the merchant's rules

    def item_for(self, line: CartLine) -> SaleItem | None:
        item = self.items.get(line.sku_id)
        if item is not None:
            return item
        if self.percent and self.scope is not None and self.scope.covers(line):
            return SaleItem(line.sku_id, percent=self.percent)
        return None

    def holds_until(self, member: MemberProfile, now: datetime) -> datetime | None:
        """Until when this sale's price holds for `member` at `now`; None: not open to her."""
        until = self.window.holds_until(now)
        if until is not None:
            return until
        early = self.early_access_from
        if (early is None or member.is_guest or not self.early_access_min_rank
                or member.tier_rank < self.early_access_min_rank
                or not early <= now < self.window.starts_at):
            return None
        return self.window.holds_until(self.window.starts_at) or self.window.starts_at


@dataclass(frozen=True)
class ThresholdRung:
    threshold_fen: int
    off_fen: int


@dataclass(frozen=True)
class ThresholdOffer:
    """满减 with a ladder: the highest rung the eligible subtotal reaches applies."""
    campaign_id: str
    name: str
    window: Window
    rungs: tuple[ThresholdRung, ...]  # ascending thresholds
    scope: Scope = Scope()


@dataclass(frozen=True)
class GiftOffer:
    """A gift with purchase: over a threshold of in-scope items, while the gift's stock lasts."""
    campaign_id: str
    name: str
    window: Window
    threshold_fen: int
    gift_sku_id: str
    gift_product_id: str
    gift_title: str
    quantity: int = 1
    remaining: int | None = None
    scope: Scope = Scope()
    return_rule: str = "return"   # when a refund takes the order below the threshold
    gift_value_fen: int = 0


@dataclass(frozen=True)
class PresaleItem:
    sku_id: str
    deposit_fen: int                 # paid now, per unit
    deposit_counts_as_fen: int       # what the deposit is worth against the price (膨胀定金)
    presale_price_fen: int = 0       # the unit price in the pre-sale (below the list price); 0: list


@dataclass(frozen=True)
class PresaleOffer:
    campaign_id: str
    name: str
    window: Window                   # the deposit phase
    items: dict[str, PresaleItem]
    balance_from: datetime
    balance_until: datetime
    early_access_from: datetime | None = None  # members with early access may start here
    early_access_min_rank: int = 0   # ... when their tier rank is at least this (0: flag only)
    release_at: datetime | None = None   # the ship date
    unpaid_balance: str = ""         # keep_deposit | refund_deposit: the deposit when the balance is unpaid

    def open_to(self, member: MemberProfile, now: datetime) -> bool:
        if self.window.contains(now):
            return True
        early = self.early_access_from
        if early is None or member.is_guest or not early <= now < self.window.ends_at:
            return False
        ranked = self.early_access_min_rank and member.tier_rank >= self.early_access_min_rank
        return bool(member.early_access_presale or ranked)


@dataclass(frozen=True)
class CouponOffer:
    """An issued coupon as the caller's wallet holds it, with its template's terms."""
    coupon_id: str
    member_id: str
    status: str                      # available | locked | used | expired | revoked
    name: str
    kind: str                        # fixed_amount | percentage | no_threshold
    valid_from: datetime
    valid_until: datetime
    amount_fen: int = 0
    threshold_fen: int = 0
    percent_off: int = 0
    cap_fen: int = 0
    scope: Scope = Scope()


@dataclass(frozen=True)
class Stacking:
    """Which discounts combine. A "sale item" is a line priced by a sale or a pre-sale."""
    member_discount_on_sale_items: bool = False
    threshold_on_sale_items: bool = False
    coupons_on_sale_items: bool = False
    max_coupons_per_order: int = 1
    points_per_yuan: int = 100       # 100 points = ¥1
    points_max_percent: int = 50     # points pay at most this share of the goods after discounts
    points_on_sale_items: bool = True
    floor_percent: int = 0           # no line's price below this percent of its list price


@dataclass(frozen=True)
class ShippingRule:
    fee_fen: int = 1000
    free_over_fen: int = 9900        # goods after discounts (before points) at least this: free
    remote_fee_fen: int = 2000
    remote_provinces: frozenset[str] = frozenset({"新疆维吾尔自治区", "西藏自治区"})


@dataclass(frozen=True)
class PricingRules:
    sales: tuple[SaleOffer, ...] = ()
    thresholds: tuple[ThresholdOffer, ...] = ()
    gifts: tuple[GiftOffer, ...] = ()
    presales: tuple[PresaleOffer, ...] = ()
    stacking: Stacking = Stacking()
    shipping: ShippingRule = ShippingRule()


@dataclass(frozen=True)
class QuoteRequest:
    lines: tuple[CartLine, ...]
    now: datetime
    member: MemberProfile = MemberProfile()
    coupon_ids: tuple[str, ...] = ()
    coupons: dict[str, CouponOffer] = field(default_factory=dict)  # the ones found, by id
    points_to_use: int = 0
    province: str = ""
