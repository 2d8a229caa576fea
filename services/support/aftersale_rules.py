"""After-sales rules, pure: the reasons a shopper may give, what each line of her order may be
applied for (and why not), the hygiene rule of goods that touch the skin, the merchant's settings
with their defaults, and the requests' state machine. No database, no clock: callers pass `now`.

Goods that touch the skin (bras, briefs, shapewear): catalog publishes no attribute for it, so a
line is *intimate* when one of the order line's `category_ids` is in the merchant's
`intimate_category_ids`, or its product is in `intimate_product_ids`. Repair: no product carries
a repair flag either, so repair is behind the merchant's `repair_enabled` and `repair_product_ids`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

KINDS = ("refund_only", "return_refund", "exchange", "repair")
RETURN_KINDS = ("return_refund", "exchange", "repair")


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    kinds: tuple[str, ...]
    quality: bool = False     # the merchant's fault: quality window, free return shipping
    no_reason: bool = False   # the shopper's choice: the no-reason window and the hygiene rule


REASONS = (
    Reason("not_wanted", "不想要了(未发货)", ("refund_only",)),
    Reason("not_received", "未收到货", ("refund_only",)),
    Reason("no_reason_7_days", "七天无理由退换", ("return_refund", "exchange"), no_reason=True),
    Reason("wrong_size", "尺码不合适", ("return_refund", "exchange"), no_reason=True),
    Reason("quality", "质量问题", ("return_refund", "exchange", "repair"), quality=True),
    Reason("damaged", "商品破损", ("return_refund", "exchange", "repair"), quality=True),
    Reason("wrong_item", "商家发错货", ("return_refund", "exchange"), quality=True),
    Reason("not_as_described", "与描述不符", ("return_refund", "exchange"), quality=True),
)
REASON_BY_CODE = {r.code: r for r in REASONS}


@dataclass(frozen=True)
class Settings:
    """The merchant's rules (stored by support, edited by staff)."""
    no_reason_days: int = 7
    quality_days: int = 15
    intimate_category_ids: tuple[str, ...] = ()
    intimate_product_ids: tuple[str, ...] = ()
    final_sale_product_ids: tuple[str, ...] = ()
    repair_enabled: bool = False
    repair_product_ids: tuple[str, ...] = ()
    free_return_tiers: tuple[str, ...] = ()
    auto_approve_refund_before_shipping: bool = True

    @classmethod
    def from_dict(cls, data: dict) -> "Settings":
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in known.items()})

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class LineFacts:
    """What support knows of one order line when she looks at it."""
    product_id: str
    category_ids: tuple[str, ...]
    quantity: int
    taken: int                      # units in her requests that are not refused/withdrawn/expired
    shipped: bool
    delivered_at: datetime | None


def is_intimate(s: Settings, line: LineFacts) -> bool:
    return line.product_id in s.intimate_product_ids or \
        bool(set(line.category_ids) & set(s.intimate_category_ids))


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    rule: str = ""                  # why not: a rule code
    text: str = ""                  # why not, in Chinese
    window_ends_at: datetime | None = None
    seal_required: bool = False


WHY = {
    "shipped": "已发货,请在收到货后申请退货退款,或在未收到时选择“未收到货”",
    "delivered": "已签收,请申请退货退款或换货",
    "not_delivered": "尚未签收,签收后才能退货或换货",
    "window_passed": "已超过售后期限",
    "final_sale": "该商品为特价清仓(final sale),仅质量问题可退换",
    "repair_not_offered": "该商品不提供维修服务",
    "nothing_left": "该商品已全部申请售后或已退款",
    "seal": "贴身衣物(文胸、内裤、塑身衣)须保持卫生封条完好才能七天无理由退换",
    "reason_kind": "该原因不适用于此售后类型",
}


def _no(rule: str, **kw) -> Verdict:
    return Verdict(False, rule, WHY[rule], **kw)


def judge(s: Settings, line: LineFacts, kind: str, reason: Reason | None, now: datetime,
          *, seal_intact: bool | None = None) -> Verdict:
    """May this line be applied for with `kind` (and `reason`, when given)? `seal_intact`: her
    declaration (None: not yet asked; the verdict then says whether it will be required)."""
    if reason is not None and kind not in reason.kinds:
        return _no("reason_kind")
    if line.quantity - line.taken <= 0:
        return _no("nothing_left")
    if kind == "refund_only":
        if line.delivered_at is not None:
            return _no("delivered")
        if reason is not None and reason.code == "not_wanted" and line.shipped:
            return _no("shipped")
        if reason is not None and reason.code == "not_received" and not line.shipped:
            return Verdict(False, "reason_kind", "尚未发货,请选择“不想要了”")
        return Verdict(True)
    if line.delivered_at is None:
        return _no("not_delivered")
    if kind == "repair" and not (s.repair_enabled and line.product_id in s.repair_product_ids):
        return _no("repair_not_offered")
    quality_ends = line.delivered_at + timedelta(days=s.quality_days)
    no_reason_ends = line.delivered_at + timedelta(days=s.no_reason_days)
    if reason is None:  # the options before she chose a reason: the widest window
        if kind == "repair":
            ends = quality_ends
        elif line.product_id in s.final_sale_product_ids:
            ends = quality_ends
        else:
            ends = max(quality_ends, no_reason_ends)
        if now > ends:
            return _no("window_passed", window_ends_at=ends)
        return Verdict(True, window_ends_at=ends,
                       seal_required=is_intimate(s, line) and kind != "repair")
    ends = quality_ends if reason.quality else no_reason_ends
    if now > ends:
        return _no("window_passed", window_ends_at=ends)
    if reason.no_reason:
        if line.product_id in s.final_sale_product_ids:
            return _no("final_sale")
        if is_intimate(s, line):
            if seal_intact is False:
                return _no("seal", window_ends_at=ends, seal_required=True)
            return Verdict(True, window_ends_at=ends, seal_required=True)
    return Verdict(True, window_ends_at=ends)


def hygiene_check_needed(s: Settings, line: LineFacts, reason: Reason) -> bool:
    """The warehouse must find the seal intact to accept the return (no-reason, intimate)."""
    return reason.no_reason and is_intimate(s, line)


def inspection_accepted(accepted: bool, seal_intact: bool, hygiene: bool) -> bool:
    """The warehouse's verdict, with the hygiene rule: a no-reason return of intimate goods with
    a broken seal is not accepted, whatever else the inspection found."""
    return accepted and (seal_intact or not hygiene)


def free_return_shipping(s: Settings, reason: Reason, tier: str) -> bool:
    return reason.quality or (bool(tier) and tier in s.free_return_tiers)


def share_fen(paid_fen: int, bought: int, units: int) -> int:
    """What she paid for `units` of a line of `bought` units costing `paid_fen` (floor)."""
    if bought <= 0:
        return 0
    return paid_fen if units >= bought else paid_fen * units // bought


# ------------------------------------------------------------------ the state machine

OPEN = ("applied", "awaiting_photos", "awaiting_return", "returning", "inspected",
        "inspection_failed", "refunding")
CLOSED = "closed"
# Staff and shopper actions (an action in the wrong state is refused); events from other
# services (late or repeated ones are ignored: None).
ACTIONS = ("approve", "refuse", "withdraw", "ask_photos", "photos_added", "partial_refund")
EVENTS = ("return_booked", "inspected_ok", "inspected_failed", "exchange_shipped", "refunded",
          "expire")


@dataclass(frozen=True)
class Step:
    state: str
    outcome: str = ""
    refund_now: bool = False        # emit aftersale.refund_requested
    approved_now: bool = False      # emit aftersale.approved


class Illegal(Exception):
    """An action the request's state does not allow."""


def _approve(kind: str) -> Step:
    if kind == "refund_only":
        return Step("refunding", refund_now=True, approved_now=True)
    return Step("awaiting_return", approved_now=True)


def transition(state: str, kind: str, action: str) -> Step | None:
    """The next state for `action` or event. Actions not allowed raise Illegal; events that do
    not apply (late, repeated, out of order) return None and change nothing."""
    step = _table(state, kind, action)
    if step is None and action in ACTIONS:
        raise Illegal(f"a request {state} cannot be {action.replace('_', ' ')}")
    return step


def _table(state: str, kind: str, action: str) -> Step | None:
    if state == CLOSED:
        return None
    if action == "refunded":  # payment refunded what support asked: done, whatever came between
        return Step(CLOSED, "refunded") if state == "refunding" else None
    if state in ("applied", "awaiting_photos"):
        if action == "approve":
            return _approve(kind)
        if action == "refuse":
            return Step(CLOSED, "refused")
        if action == "withdraw":
            return Step(CLOSED, "withdrawn")
        if action == "ask_photos" and state == "applied":
            return Step("awaiting_photos")
        if action == "photos_added" and state == "awaiting_photos":
            return Step("applied")
        return None
    if state in ("awaiting_return", "returning"):
        if action == "return_booked" and state == "awaiting_return":
            return Step("returning")
        if action == "withdraw" and state == "awaiting_return":
            return Step(CLOSED, "withdrawn")
        if action == "expire" and state == "awaiting_return":
            return Step(CLOSED, "expired")
        if action == "refuse" and state == "awaiting_return":  # e.g. the exchange SKU ran out
            return Step(CLOSED, "refused")
        # the inspection may be heard before the booking (two queues)
        if action == "inspected_ok":
            return Step("refunding", refund_now=True) if kind == "return_refund" \
                else Step("inspected")
        if action == "inspected_failed":
            return Step("inspection_failed")
        if action == "exchange_shipped" and kind in ("exchange", "repair"):
            return Step(CLOSED, "exchanged" if kind == "exchange" else "repaired")
        return None
    if state == "inspected":
        if action == "exchange_shipped":
            return Step(CLOSED, "exchanged" if kind == "exchange" else "repaired")
        if action == "partial_refund":  # the agent refunds instead (e.g. exchange unavailable)
            return Step("refunding", refund_now=True)
        if action == "refuse":
            return Step(CLOSED, "refused")
        return None
    if state == "inspection_failed":
        if action == "partial_refund":
            return Step("refunding", refund_now=True)
        if action == "refuse":
            return Step(CLOSED, "refused")
        return None
    return None  # refunding: only payment's word moves it
