"""What staff ask for when they create a campaign, and every rule it must meet (no database)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from servicekit.errors import Violations
from servicekit.ids import excerpt, is_reference
from servicekit.schedules import parse_clock
from servicekit.times import rfc3339

from . import sales
from .models import CAMPAIGN_KINDS
from .requests import check_name, fingerprint
from .sales import SaleTerms
from .scopes import check_scope

MAX_ITEMS, MAX_RUNGS = 200, 5
MAX_QUOTA = 1_000_000


@dataclass(frozen=True)
class FlashItem:
    sku_id: str
    sale_price_fen: int = 0
    price_percent: int = 0
    quota: int = 0


@dataclass(frozen=True)
class GiftTerms:
    threshold_fen: int
    gift_sku_id: str
    gift_product_id: str
    gift_title: str
    quantity_per_order: int
    stock: int
    # a refund of the qualifying goods below the threshold: the gift comes back, or its value is
    # kept from the refund (order's gifts.py applies it)
    return_rule: str = "return"
    gift_value_fen: int = 0


GIFT_RETURN_RULES = ("return", "deduct")


@dataclass(frozen=True)
class PresaleItemTerms:
    sku_id: str
    deposit_fen: int
    deposit_counts_as_fen: int
    presale_price_fen: int = 0       # the unit price in the pre-sale; 0: the list price


@dataclass(frozen=True)
class PresaleTerms:
    items: tuple[PresaleItemTerms, ...]
    balance_from: datetime | None
    balance_until: datetime | None
    early_access_from: datetime | None = None
    early_access_min_rank: int = 0
    release_at: datetime | None = None    # the ship date
    unpaid_balance: str = ""              # keep_deposit | refund_deposit


UNPAID_BALANCE_RULES = ("keep_deposit", "refund_deposit")


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    kind: str
    starts_at: datetime | None
    ends_at: datetime | None
    description: str = ""
    weekday: int = 0                 # 1..7 with a session; 0 without
    session_start: str = ""          # "HH:MM", Beijing time
    session_end: str = ""
    flash_items: tuple[FlashItem, ...] = ()
    per_member_limit: int = 0
    rungs: tuple[tuple[int, int], ...] = ()   # (threshold_fen, off_fen)
    scope: str = "all"
    category_ids: tuple[str, ...] = ()
    product_ids: tuple[str, ...] = ()
    gift: GiftTerms | None = None
    presale: PresaleTerms | None = None
    weekdays: tuple[int, ...] = ()   # several session days (with or instead of weekday)
    sale: SaleTerms | None = None

    def fingerprint(self) -> str:
        return fingerprint(self)

    @property
    def has_session(self) -> bool:
        return bool(self.weekday or self.weekdays or self.session_start or self.session_end)

    def session_days(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.weekdays) | ({self.weekday} if self.weekday else set())))

    def product_ids_named(self) -> list[str]:
        """The products the campaign names (its scope's, or its sale's)."""
        return _product_ids_named(self)

    def session_minutes(self) -> tuple[int, int]:
        return _minutes(self.session_start), _minutes(self.session_end)

    def sku_ids(self) -> list[str]:
        if self.kind == "flash_sale":
            return [i.sku_id for i in self.flash_items]
        if self.kind == "presale" and self.presale:
            return [i.sku_id for i in self.presale.items]
        if self.kind == "gift" and self.gift:
            return [self.gift.gift_sku_id]
        if self.kind == "sale" and self.sale:
            return list(dict.fromkeys([*self.sale.sku_ids, *(i.sku_id for i in self.sale.items)]))
        return []


def _product_ids_named(spec: "CampaignSpec") -> list[str]:
    sale = list(spec.sale.product_ids) if spec.kind == "sale" and spec.sale else []
    return list(dict.fromkeys([*spec.product_ids, *sale]))


def _minutes(clock: str) -> int:
    return parse_clock(clock)


def validate(spec: CampaignSpec, now: datetime) -> None:
    """Every problem at once, as field violations on `spec.<field>`."""
    v = Violations()
    check_name(v, spec.name, spec.description, "周五秒杀")
    _check_window(v, spec, now)
    if spec.has_session:
        _check_session(v, spec)
    if not v.check(spec.kind in CAMPAIGN_KINDS, "spec.kind", "one_of",
                   f"kind must be one of {', '.join(CAMPAIGN_KINDS)}"):
        v.raise_if_any("the campaign is invalid")
    _check_unused(v, spec)
    {"flash_sale": _check_flash, "threshold": _check_threshold, "gift": _check_gift,
     "presale": _check_presale, "sale": _check_sale}[spec.kind](v, spec)
    v.raise_if_any("the campaign is invalid")


def _check_window(v: Violations, spec: CampaignSpec, now: datetime) -> None:
    has_start = v.check(spec.starts_at is not None, "spec.starts_at", "required", "starts_at is required")
    has_end = v.check(spec.ends_at is not None, "spec.ends_at", "required", "ends_at is required")
    if has_start and has_end and v.check(
            spec.ends_at > spec.starts_at, "spec.ends_at", "after_start",
            f"ends_at ({rfc3339(spec.ends_at)}) must be after starts_at "
            f"({rfc3339(spec.starts_at)})"):
        v.check(spec.ends_at > now, "spec.ends_at", "future",
                f"ends_at ({rfc3339(spec.ends_at)}) has already passed")


def _check_session(v: Violations, spec: CampaignSpec) -> None:
    if spec.weekdays:
        v.check(spec.weekday == 0 or spec.weekday in spec.weekdays, "spec.session.weekday",
                "in_weekdays", "with weekdays, leave weekday 0 (or one of weekdays)")
        for n, day in enumerate(spec.weekdays):
            v.check(1 <= day <= 7, f"spec.session.weekdays[{n}]", "range",
                    f"a weekday is 1 (Monday) .. 7 (Sunday); got {day}")
        v.check(len(set(spec.weekdays)) == len(spec.weekdays), "spec.session.weekdays", "distinct",
                "each weekday once")
    else:
        v.check(1 <= spec.weekday <= 7, "spec.session.weekday", "range",
                f"weekday must be 1 (Monday) .. 7 (Sunday); got {spec.weekday}")
    start, end = spec.session_minutes()
    ok_start = v.check(start >= 0, "spec.session.start", "clock",
                       f"start must be HH:MM (Beijing time), e.g. 20:00; got {spec.session_start!r}")
    ok_end = v.check(end >= 0, "spec.session.end", "clock",
                     f"end must be HH:MM (Beijing time), e.g. 22:00; got {spec.session_end!r}")
    if ok_start and ok_end:
        v.check(end > start, "spec.session.end", "after_start",
                f"the session must end after it starts on the same day ({spec.session_start}-"
                f"{spec.session_end}); split a session across midnight into two campaigns")


def _check_unused(v: Violations, spec: CampaignSpec) -> None:
    belongs = {"flash_items": ("flash_sale",), "per_member_limit": ("flash_sale", "sale"),
               "rungs": ("threshold",), "gift": ("gift",), "presale": ("presale",), "sale": ("sale",)}
    for name, kinds in belongs.items():
        kind = " or ".join(kinds)
        if spec.kind not in kinds:
            v.check(not getattr(spec, name), f"spec.{name}", "unused",
                    f"{name} is for {kind} campaigns; leave it empty for {spec.kind}")
    if spec.kind in ("flash_sale", "presale", "sale"):
        v.check(spec.scope == "all" and not spec.category_ids and not spec.product_ids,
                "spec.scope", "unused", f"a {spec.kind} names its SKUs or its own scope (spec.sale); "
                "leave the campaign's scope empty")


def _check_skus(v: Violations, at: str, skus: list[str]) -> None:
    if v.check(1 <= len(skus) <= MAX_ITEMS, at, "count", f"{at.split('.')[-1]} needs 1..{MAX_ITEMS} SKUs"):
        v.check(all(skus) and len(set(skus)) == len(skus), at, "distinct",
                "every item needs its own non-empty sku_id")
        for n, sku_id in enumerate(skus):
            v.check(not sku_id or is_reference(sku_id), f"{at}[{n}].sku_id", "format",
                    f"{excerpt(sku_id)} is not a SKU id")


def _check_flash(v: Violations, spec: CampaignSpec) -> None:
    _check_skus(v, "spec.flash_items", [i.sku_id for i in spec.flash_items])
    for n, item in enumerate(spec.flash_items):
        at = f"spec.flash_items[{n}]"
        v.check((item.sale_price_fen > 0) != (1 <= item.price_percent <= 99), f"{at}.sale_price_fen",
                "price_or_percent", "give a sale_price_fen > 0 or a price_percent 1..99 (80 = 8 折), "
                "not both")
        if item.price_percent:
            v.check(1 <= item.price_percent <= 99, f"{at}.price_percent", "range",
                    f"price_percent is a price percentage 1..99 (80 = 8 折); got {item.price_percent}")
        v.check(1 <= item.quota <= MAX_QUOTA, f"{at}.quota", "range",
                f"quota must be 1..{MAX_QUOTA} units; got {item.quota}")
    v.check(spec.per_member_limit >= 1, "spec.per_member_limit", "positive",
            f"per_member_limit (units one member may buy) must be at least 1; got {spec.per_member_limit}")


def _check_sale(v: Violations, spec: CampaignSpec) -> None:
    sales.check(v, spec.sale, spec.starts_at, spec.per_member_limit)


def _check_threshold(v: Violations, spec: CampaignSpec) -> None:
    rungs = spec.rungs
    if not v.check(1 <= len(rungs) <= MAX_RUNGS, "spec.rungs", "count",
                   f"a ladder has 1..{MAX_RUNGS} rungs, e.g. 满 200 减 50, 满 400 减 120"):
        return
    for n, (threshold, off) in enumerate(rungs):
        at = f"spec.rungs[{n}]"
        v.check(0 < off < threshold, f"{at}.off_fen", "below_threshold",
                f"off_fen must be more than 0 and less than threshold_fen ({threshold}); got {off}")
        if n:
            before_threshold, before_off = rungs[n - 1]
            v.check(threshold > before_threshold and off > before_off, at, "ascending",
                    "each rung needs a higher threshold and a bigger discount than the one before")
    check_scope(v, spec)


def _check_gift(v: Violations, spec: CampaignSpec) -> None:
    gift = spec.gift
    if not v.check(gift is not None, "spec.gift", "required", "a gift campaign needs its gift"):
        return
    v.check(gift.threshold_fen > 0, "spec.gift.threshold_fen", "positive",
            f"threshold_fen must be more than 0; got {gift.threshold_fen}")
    if v.check(bool(gift.gift_sku_id), "spec.gift.gift_sku_id", "required", "gift_sku_id is required"):
        v.check(is_reference(gift.gift_sku_id), "spec.gift.gift_sku_id", "format",
                f"{excerpt(gift.gift_sku_id)} is not a SKU id")
    v.check(not gift.gift_product_id or is_reference(gift.gift_product_id),
            "spec.gift.gift_product_id", "format", f"{excerpt(gift.gift_product_id)} is not a product id")
    v.check(bool(gift.gift_title.strip()), "spec.gift.gift_title", "required",
            "gift_title is required: shoppers see it")
    v.check(1 <= gift.quantity_per_order <= 10, "spec.gift.quantity_per_order", "range",
            f"quantity_per_order must be 1..10; got {gift.quantity_per_order}")
    v.check(1 <= gift.stock <= MAX_QUOTA, "spec.gift.stock", "range",
            f"stock must be 1..{MAX_QUOTA}; got {gift.stock}")
    v.check(gift.return_rule in GIFT_RETURN_RULES, "spec.gift.return_rule", "one_of",
            f"return (the gift is sent back) or deduct (its value kept from the refund); "
            f"got {excerpt(gift.return_rule)}")
    if gift.return_rule == "deduct":
        v.check(0 < gift.gift_value_fen <= gift.threshold_fen, "spec.gift.gift_value_fen", "range",
                f"the gift's value kept from a refund, 1..threshold_fen ({gift.threshold_fen}); "
                f"got {gift.gift_value_fen}")
    else:
        v.check(0 <= gift.gift_value_fen <= gift.threshold_fen, "spec.gift.gift_value_fen", "range",
                f"0..threshold_fen ({gift.threshold_fen}); got {gift.gift_value_fen}")
    check_scope(v, spec)


def _check_presale(v: Violations, spec: CampaignSpec) -> None:
    presale = spec.presale
    if not v.check(presale is not None, "spec.presale", "required", "a pre-sale needs its terms"):
        return
    _check_skus(v, "spec.presale.items", [i.sku_id for i in presale.items])
    for n, item in enumerate(presale.items):
        at = f"spec.presale.items[{n}]"
        if v.check(item.deposit_fen > 0, f"{at}.deposit_fen", "positive",
                   f"deposit_fen must be more than 0; got {item.deposit_fen}"):
            v.check(item.deposit_counts_as_fen >= item.deposit_fen, f"{at}.deposit_counts_as_fen",
                    "at_least_deposit", f"a deposit counts for at least itself ({item.deposit_fen}); "
                    f"got {item.deposit_counts_as_fen}")
        _check_presale_price(v, at, item)
    has_from = v.check(presale.balance_from is not None, "spec.presale.balance_from", "required",
                       "balance_from is required")
    has_until = v.check(presale.balance_until is not None, "spec.presale.balance_until", "required",
                        "balance_until is required")
    if has_from and spec.ends_at:
        v.check(presale.balance_from >= spec.ends_at, "spec.presale.balance_from", "after_deposits",
                "the balance window opens when the deposit phase is over (at or after ends_at)")
    if has_until and spec.ends_at:
        v.check(presale.balance_until > spec.ends_at, "spec.presale.balance_until",
                "after_deposits", "the balance window closes after the deposit phase (after ends_at)")
    if has_from and has_until:
        v.check(presale.balance_until > presale.balance_from, "spec.presale.balance_until",
                "after_start", "balance_until must be after balance_from")
    if v.check(presale.release_at is not None, "spec.presale.release_at", "required",
               "release_at (the ship date shoppers are promised) is required") and has_from:
        v.check(presale.release_at >= presale.balance_from, "spec.presale.release_at",
                "after_balance_opens", f"nothing ships before the balance can be paid: release_at "
                f"({rfc3339(presale.release_at)}) must be at or after balance_from "
                f"({rfc3339(presale.balance_from)})")
    v.check(presale.unpaid_balance in UNPAID_BALANCE_RULES, "spec.presale.unpaid_balance", "one_of",
            "unpaid_balance says what happens to the deposit when the balance is not paid in its "
            f"window: one of {', '.join(UNPAID_BALANCE_RULES)}; got {excerpt(presale.unpaid_balance)}")
    if presale.early_access_from and spec.starts_at:
        v.check(presale.early_access_from < spec.starts_at, "spec.presale.early_access_from",
                "before_start", "early access opens before starts_at")
    v.check(0 <= presale.early_access_min_rank <= 10, "spec.presale.early_access_min_rank", "range",
            "early_access_min_rank is a tier rank 0..10 (0: only members flagged for early access)")


def _check_presale_price(v: Violations, at: str, item: PresaleItemTerms) -> None:
    """With a pre-sale price the deposit and what it counts as are checked against it (the list
    price is catalog's; the engine never lets a line cost less than its deposit)."""
    if not v.check(item.presale_price_fen >= 0, f"{at}.presale_price_fen", "non_negative",
                   f"presale_price_fen is 0 (the list price) or more; got {item.presale_price_fen}"):
        return
    if item.presale_price_fen and item.deposit_fen > 0:
        if v.check(item.deposit_fen < item.presale_price_fen, f"{at}.deposit_fen", "below_price",
                   f"the deposit ({item.deposit_fen}) must be less than the pre-sale price "
                   f"({item.presale_price_fen}): a balance is left to pay"):
            v.check(item.deposit_counts_as_fen <= item.presale_price_fen,
                    f"{at}.deposit_counts_as_fen", "at_most_price",
                    f"a deposit counts for at most the price ({item.presale_price_fen}); got "
                    f"{item.deposit_counts_as_fen}")


@dataclass(frozen=True)
class Quota:
    sku_id: str
    total: int


def quotas_of(spec: CampaignSpec) -> list[Quota]:
    if spec.kind == "flash_sale":
        return [Quota(i.sku_id, i.quota) for i in spec.flash_items]
    if spec.kind == "gift":
        return [Quota(spec.gift.gift_sku_id, spec.gift.stock)]
    if spec.kind == "sale":
        return [Quota(i.sku_id, i.quota) for i in spec.sale.items if i.quota]
    return []


