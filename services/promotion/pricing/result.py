"""What the engine answers: every line's prices and discounts by source, the order-level
adjustments, gifts, the flash quota each line would take, shipping, the total, an explanation."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SOURCES = ("sale", "presale", "member", "threshold", "coupon", "points")


@dataclass(frozen=True)
class Discount:
    source: str                      # one of SOURCES
    ref: str                         # campaign id, coupon id, tier code, or "points"
    fen: int


@dataclass(frozen=True)
class LineNote:
    """One step of a line's explanation, in the order the engine went: a discount applied, a
    discount that does not stack on this line (and why), or the floor cutting a discount."""
    kind: str                        # applied | not_stacked | floor
    source: str                      # one of SOURCES
    ref: str
    fen: int                         # applied: taken; floor: what the floor kept back; else 0
    text: str                        # for the shopper: "满 200 减 50 不与「周五狂欢」叠加"


@dataclass(frozen=True)
class LineQuote:
    line_id: str
    sku_id: str
    product_id: str
    quantity: int
    list_price_fen: int
    list_total_fen: int
    sale_units: int                  # units at the sale price (the rest at list/member price)
    price_after_member_and_sale_fen: int  # the line's total after sale, pre-sale and member
    discounts: tuple[Discount, ...]  # every fen taken off this line, by source, in order
    payable_fen: int
    presale_campaign_id: str = ""
    deposit_fen: int = 0             # pre-sale: paid now for this line
    balance_fen: int = 0             # pre-sale: the rest of payable_fen, paid in the balance window
    presale: "PresaleLineTerms | None" = None
    sale_campaign_id: str = ""       # the sale pricing this line
    sale_ends_at: datetime | None = None  # the sale price holds until then (the session's end)
    notes: tuple[LineNote, ...] = ()


@dataclass(frozen=True)
class PresaleLineTerms:
    """What the shopper is told before she pays a pre-sale line's deposit."""
    balance_from: datetime
    balance_until: datetime
    release_at: datetime | None
    unpaid_balance: str              # keep_deposit | refund_deposit


@dataclass(frozen=True)
class Adjustment:
    """An order-level discount (threshold, coupon, points), apportioned over lines."""
    source: str
    ref: str
    label: str
    fen: int


@dataclass(frozen=True)
class GiftLine:
    campaign_id: str
    sku_id: str
    product_id: str
    title: str
    quantity: int
    # what a later refund is judged by (order's gifts.py): the threshold, each qualifying line
    # (the request's line id) with what it counted, and the campaign's rule
    threshold_fen: int = 0
    qualifying: tuple[tuple[str, int], ...] = ()
    return_rule: str = "return"
    gift_value_fen: int = 0


@dataclass(frozen=True)
class QuotaClaim:
    """What LockForOrder must take: units of a campaign's SKU quota (flash sale or gift stock)."""
    campaign_id: str
    sku_id: str
    quantity: int


@dataclass(frozen=True)
class Quote:
    lines: tuple[LineQuote, ...]
    adjustments: tuple[Adjustment, ...]
    gifts: tuple[GiftLine, ...]
    quota_claims: tuple[QuotaClaim, ...]
    coupon_ids: tuple[str, ...]
    list_total_fen: int
    discount_total_fen: int          # every discount, points included
    goods_fen: int                   # goods after every discount but points
    points_used: int
    points_fen: int
    shipping_fee_fen: int
    total_fen: int                   # goods_fen - points_fen + shipping_fee_fen
    explanation: tuple[str, ...]
