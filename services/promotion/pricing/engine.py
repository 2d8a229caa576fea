"""The pricing engine. Discounts apply in a fixed order, each on what the previous ones left:

1. sale (flash-sale price for up to the member limit / quota left),  2. pre-sale deposit bonus,
3. member tier discount,  4. threshold ladders (满减),  5. gifts,  6. coupons,  7. points,
8. shipping.

Percentages are taken on a line's total and rounded half up to the fen; order-level discounts are
apportioned over their lines by the largest-remainder method (ties to the earlier line).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from servicekit.errors import InvalidArgument, Violations
from servicekit.times import rfc3339

from .apportion import apportion
from .money import percent_of, yuan, yuan_short, zhe
from .result import Adjustment, Discount, GiftLine, LineNote, LineQuote, PresaleLineTerms, QuotaClaim, Quote
from .rules import CartLine, CouponOffer, PricingRules, QuoteRequest, SaleOffer, Scope, Stacking

MAX_LINES = 200
MAX_QUANTITY = 999
MAX_PRICE_FEN = 10_000_000_00    # ¥10,000,000 a unit: anything above is a typo
MINUS = "\u2212"                 # the minus sign shoppers see: "−¥9.45"


LABELS = {"sale": "限时特价", "presale": "预售定金膨胀", "member": "会员折扣", "threshold": "满减",
          "coupon": "优惠券", "points": "积分抵扣"}
STACK_FLAGS = {"member": "member_discount_on_sale_items", "threshold": "threshold_on_sale_items",
               "coupon": "coupons_on_sale_items", "points": "points_on_sale_items"}


@dataclass
class _Line:
    line: CartLine
    amount: int                      # current line total
    floor: int = 0                   # the line may not cost less than this (the price floor)
    sale_units: int = 0
    discounts: list[Discount] = field(default_factory=list)
    notes: list[LineNote] = field(default_factory=list)
    presale_campaign_id: str = ""
    deposit_fen: int = 0
    presale: PresaleLineTerms | None = None
    sale: SaleOffer | None = None
    sale_ends_at: object = None
    stacking: Stacking | None = None  # the rules of the sale (or pre-sale) pricing this line

    @property
    def on_sale(self) -> bool:
        return self.sale_units > 0 or bool(self.presale_campaign_id)

    def stacks(self, source: str) -> bool:
        """Whether `source` may also apply to this line (always, unless it is on sale)."""
        return not self.on_sale or getattr(self.stacking, STACK_FLAGS[source])

    def refuse(self, source: str, ref: str, label: str) -> None:
        """Records that `source` would have applied but does not stack on this sale line."""
        why = f"「{self.sale.name}」" if self.sale else "预售商品"
        self.notes.append(LineNote("not_stacked", source, ref, 0, f"{label} 不与{why}叠加"))

    def take(self, source: str, ref: str, fen: int, label: str = "") -> int:
        """Takes up to `fen` off (the floor may keep some back: noted); returns what was taken."""
        if source != "points":  # points pay for the goods: the floor bounds discounts only
            room = max(self.amount - self.floor, 0)
            if fen > room:
                self.notes.append(LineNote("floor", source, ref, fen - room, (
                    f"{label or LABELS[source]} 受最低价限制少减 {yuan(fen - room)}"
                    f"（不低于标价的 {self._floor_percent()}%）")))
                fen = room
        if fen:
            self.amount -= fen
            self.discounts.append(Discount(source, ref, fen))
            self.notes.append(LineNote("applied", source, ref, fen,
                                       f"{len(self.discounts)}. {label or LABELS[source]} {MINUS}{yuan(fen)}"))
        return fen

    def _floor_percent(self) -> int:
        total = self.line.list_price_fen * self.line.quantity
        return round(self.floor * 100 / total) if total else 0


def quote(rules: PricingRules, request: QuoteRequest) -> Quote:
    _validate_lines(request)
    floor = rules.stacking.floor_percent
    lines = [_Line(line, line.list_price_fen * line.quantity,
                   floor=-(-line.list_price_fen * line.quantity * floor // 100))
             for line in request.lines]
    explained: list[str] = []
    claims: list[QuotaClaim] = []
    _apply_sales(rules, request, lines, claims, explained)
    _apply_presales(rules, request, lines, explained)
    _apply_member(rules, request, lines, explained)
    price_after_member_and_sale = [line.amount for line in lines]
    adjustments: list[Adjustment] = []
    _apply_thresholds(rules, request, lines, adjustments, explained)
    gifts = _gifts(rules, request, lines, claims, explained)
    coupon_ids = _apply_coupons(rules, request, lines, adjustments, explained)
    points_used, points_fen = _apply_points(rules, request, lines, adjustments, explained)
    goods = sum(line.amount for line in lines) + points_fen
    shipping = _shipping(rules, request, goods, explained)
    list_total = sum(line.list_price_fen * line.quantity for line in request.lines)
    total = goods - points_fen + shipping
    explained.append(f"应付 {yuan(total)}")
    return Quote(
        lines=tuple(_line_quote(w, after)
                    for w, after in zip(lines, price_after_member_and_sale, strict=True)),
        adjustments=tuple(adjustments), gifts=tuple(gifts), quota_claims=tuple(claims),
        coupon_ids=coupon_ids, list_total_fen=list_total,
        discount_total_fen=list_total - (goods - points_fen), goods_fen=goods,
        points_used=points_used, points_fen=points_fen, shipping_fee_fen=shipping,
        total_fen=total, explanation=tuple(explained))


def _line_quote(w: _Line, after_member_and_sale: int) -> LineQuote:
    line = w.line
    deposit = min(w.deposit_fen, w.amount)
    return LineQuote(
        line_id=line.line_id, sku_id=line.sku_id, product_id=line.product_id,
        quantity=line.quantity, list_price_fen=line.list_price_fen,
        list_total_fen=line.list_price_fen * line.quantity, sale_units=w.sale_units,
        price_after_member_and_sale_fen=after_member_and_sale, discounts=tuple(w.discounts),
        payable_fen=w.amount, presale_campaign_id=w.presale_campaign_id,
        deposit_fen=deposit if w.presale_campaign_id else 0,
        balance_fen=w.amount - deposit if w.presale_campaign_id else 0, presale=w.presale,
        sale_campaign_id=w.sale.campaign_id if w.sale else "", sale_ends_at=w.sale_ends_at,
        notes=tuple(w.notes))


def _validate_lines(request: QuoteRequest) -> None:
    v = Violations()
    if v.check(bool(request.lines), "lines", "required", "a quote needs at least one line"):
        v.check(len(request.lines) <= MAX_LINES, "lines", "max_items",
                f"a quote has at most {MAX_LINES} lines; got {len(request.lines)}")
    seen: set[str] = set()
    for i, line in enumerate(request.lines):
        at = f"lines[{i}]"
        if v.check(bool(line.line_id), f"{at}.line_id", "required", "line_id is required"):
            v.check(line.line_id not in seen, f"{at}.line_id", "unique",
                    f"line_id {line.line_id!r} appears twice; each line needs its own id")
            seen.add(line.line_id)
        v.check(bool(line.sku_id), f"{at}.sku_id", "required", "sku_id is required")
        v.check(1 <= line.quantity <= MAX_QUANTITY, f"{at}.quantity", "range",
                f"quantity must be 1..{MAX_QUANTITY}; got {line.quantity}")
        v.check(0 <= line.list_price_fen <= MAX_PRICE_FEN, f"{at}.list_price_fen", "range",
                f"list_price_fen must be 0..{MAX_PRICE_FEN} fen; got {line.list_price_fen}")
    v.check(request.member.is_guest or 1 <= request.member.discount_percent <= 100,
            "member.discount_percent", "range",
            "discount_percent is a price percentage 1..100 (95 = 95 折, 100 = none); got "
            f"{request.member.discount_percent}")
    v.raise_if_any("the cart cannot be quoted")


def _explain_total(explained: list[str], label: str, fen: int) -> None:
    if fen:
        explained.append(f"{label} {MINUS}{yuan(fen)}")


def _apply_sales(rules, request, lines, claims, explained) -> None:
    """Each line takes the best price of the sales open to this member now (ties: the smaller
    campaign id); units beyond the member limit or the quota left are at list price."""
    open_now = []
    for sale in sorted(rules.sales, key=lambda s: s.campaign_id):
        until = sale.holds_until(request.member, request.now)
        if until is not None:
            open_now.append((sale, until))
    if not open_now:
        return
    taken: dict[str, int] = {}
    for w in lines:
        best = None
        for sale, until in open_now:
            item = sale.item_for(w.line)
            if item is None:
                continue
            units = w.line.quantity
            if sale.per_member_limit:
                units = min(units, sale.per_member_limit)
            if item.remaining is not None:
                units = min(units, item.remaining)
            if units <= 0:
                continue
            list_part = w.line.list_price_fen * units
            sale_part = item.price_fen * units if item.price_fen else percent_of(list_part, item.percent)
            if sale_part >= list_part:  # no cheaper than the list price: not worth a quota unit
                continue
            if best is None or list_part - sale_part > best[0]:
                best = (list_part - sale_part, sale, until, item, units)
        if best is None:
            continue
        off, sale, until, item, units = best
        w.sale, w.sale_ends_at, w.sale_units = sale, until, units
        w.stacking = sale.stacking or rules.stacking
        off = w.take("sale", sale.campaign_id, off, f"{sale.name}")
        if item.remaining is not None or sale.per_member_limit:
            claims.append(QuotaClaim(sale.campaign_id, w.line.sku_id, units))
        taken[sale.campaign_id] = taken.get(sale.campaign_id, 0) + off
    for sale, _until in open_now:
        _explain_total(explained, sale.name, taken.get(sale.campaign_id, 0))


def _apply_presales(rules, request, lines, explained) -> None:
    for presale in sorted(rules.presales, key=lambda p: p.campaign_id):
        if not presale.open_to(request.member, request.now):
            continue
        bonus_total = price_total = 0
        for w in lines:
            item = presale.items.get(w.line.sku_id)
            if item is None or w.on_sale:
                continue
            w.presale_campaign_id = presale.campaign_id
            w.presale = PresaleLineTerms(presale.balance_from, presale.balance_until,
                                         presale.release_at, presale.unpaid_balance)
            w.stacking = rules.stacking
            w.deposit_fen = item.deposit_fen * w.line.quantity
            if 0 < item.presale_price_fen < w.line.list_price_fen:  # the pre-sale price (预售价)
                off = (w.line.list_price_fen - item.presale_price_fen) * w.line.quantity
                w.take("presale", presale.campaign_id, off)
                price_total += off
            # The bonus never eats into the deposit itself: the line still costs at least that.
            bonus = (item.deposit_counts_as_fen - item.deposit_fen) * w.line.quantity
            bonus = min(max(bonus, 0), max(w.amount - w.deposit_fen, 0))
            w.take("presale", presale.campaign_id, bonus)
            bonus_total += bonus
        _explain_total(explained, f"{presale.name} 预售价", price_total)
        _explain_total(explained, f"{presale.name} 定金膨胀", bonus_total)


def _apply_member(rules, request, lines, explained) -> None:
    member = request.member
    if member.is_guest or member.discount_percent >= 100:
        return
    label = f"{member.tier_name or '会员'}会员 {zhe(member.discount_percent)}"
    total = 0
    for w in lines:
        if not w.stacks("member"):
            w.refuse("member", member.tier_code or "member", label)
            # Units beyond the member's sale limit are at list price: the discount applies there.
            base = w.line.list_price_fen * (w.line.quantity - w.sale_units) if w.sale_units else 0
        else:
            base = w.amount
        off = base - percent_of(base, member.discount_percent)
        total += w.take("member", member.tier_code or "member", off, label)
    _explain_total(explained, label, total)


def _eligible(lines, scope: Scope, source: str, taken: set[int] = frozenset()) -> list[int]:
    return [i for i, w in enumerate(lines) if i not in taken and scope.covers(w.line)
            and w.stacks(source) and w.amount > 0]


def _refuse_on_sale(lines, scope: Scope, source: str, ref: str, label: str,
                    taken: set[int] = frozenset()) -> None:
    for i, w in enumerate(lines):
        if i not in taken and scope.covers(w.line) and not w.stacks(source):
            w.refuse(source, ref, label)


def _spread(lines, indexes: list[int], source: str, ref: str, fen: int, label: str = "") -> int:
    """Splits `fen` over the lines; returns what was taken (the floor may keep some back)."""
    parts = apportion(fen, [lines[i].amount for i in indexes])
    return sum(lines[i].take(source, ref, part, label)
               for i, part in zip(indexes, parts, strict=True))


def _apply_thresholds(rules, request, lines, adjustments, explained) -> None:
    """Threshold campaigns never stack on one line: the one worth most takes its lines first
    (ties: the smaller campaign id), then the next looks at the lines left, and so on."""
    offers = sorted((t for t in rules.thresholds if t.window.contains(request.now)),
                    key=lambda t: t.campaign_id)
    claimed: set[int] = set()
    while offers:
        best = None
        for offer in offers:
            indexes = _eligible(lines, offer.scope, "threshold", claimed)
            subtotal = sum(lines[i].amount for i in indexes)
            rung = next((r for r in reversed(offer.rungs) if subtotal >= r.threshold_fen), None)
            if rung and (best is None or min(rung.off_fen, subtotal) > best[0]):
                best = (min(rung.off_fen, subtotal), offer, rung, indexes)
        if best is None:
            for offer in offers:  # no rung reached: still say why sale lines were left out
                _refuse_on_sale(lines, offer.scope, "threshold", offer.campaign_id,
                                f"满减「{offer.name}」", claimed)
            return
        off, offer, rung, indexes = best
        label = f"满 {yuan_short(rung.threshold_fen)} 减 {yuan_short(rung.off_fen)}"
        _refuse_on_sale(lines, offer.scope, "threshold", offer.campaign_id, label, claimed)
        off = _spread(lines, indexes, "threshold", offer.campaign_id, off, label)
        adjustments.append(Adjustment("threshold", offer.campaign_id, label, off))
        _explain_total(explained, label, off)
        claimed.update(indexes)
        offers.remove(offer)


def _gifts(rules, request, lines, claims, explained) -> list[GiftLine]:
    gifts = []
    for offer in sorted(rules.gifts, key=lambda g: g.campaign_id):
        if not offer.window.contains(request.now):
            continue
        eligible = [i for i in range(len(lines))  # gifts stack: every line in scope counts
                    if offer.scope.covers(lines[i].line) and lines[i].amount > 0]
        subtotal = sum(lines[i].amount for i in eligible)
        quantity = offer.quantity if offer.remaining is None else min(offer.quantity, offer.remaining)
        if subtotal < offer.threshold_fen or quantity <= 0:
            continue
        qualifying = tuple((lines[i].line.line_id, lines[i].amount) for i in eligible)
        gifts.append(GiftLine(offer.campaign_id, offer.gift_sku_id, offer.gift_product_id,
                              offer.gift_title, quantity, offer.threshold_fen, qualifying,
                              offer.return_rule, offer.gift_value_fen))
        claims.append(QuotaClaim(offer.campaign_id, offer.gift_sku_id, quantity))
        explained.append(f"满 {yuan_short(offer.threshold_fen)} 赠 {offer.gift_title} ×{quantity}")
    return gifts


def _apply_coupons(rules, request, lines, adjustments, explained) -> tuple[str, ...]:
    stacking, v = rules.stacking, Violations()
    ids = request.coupon_ids
    v.check(len(ids) <= stacking.max_coupons_per_order, "coupon_ids", "max_items",
            f"at most {stacking.max_coupons_per_order} coupon(s) per order; got {len(ids)}")
    usable: list[tuple[CouponOffer, list[int]]] = []
    for i, coupon_id in enumerate(ids):
        field_name = f"coupon_ids[{i}]"
        if not v.check(coupon_id not in ids[:i], field_name, "duplicate",
                       f"coupon {coupon_id} is listed twice"):
            continue
        coupon = request.coupons.get(coupon_id)
        if not v.check(coupon is not None and not request.member.is_guest
                       and coupon.member_id == request.member.member_id, field_name, "not_yours",
                       f"coupon {coupon_id} is not in this member's wallet"):
            continue
        problem = _coupon_problem(coupon, lines, request)
        if v.check(problem is None, field_name, *(problem or ("", ""))):
            usable.append((coupon, _eligible(lines, coupon.scope, "coupon")))
    v.raise_if_any("a coupon cannot be used on this cart")
    for coupon, indexes in usable:
        subtotal = sum(lines[i].amount for i in indexes)
        if coupon.kind == "percentage":
            off = min(percent_of(subtotal, coupon.percent_off), coupon.cap_fen)
        else:
            off = min(coupon.amount_fen, subtotal)
        label = f"优惠券「{coupon.name}」"
        _refuse_on_sale(lines, coupon.scope, "coupon", coupon.coupon_id, label)
        off = _spread(lines, indexes, "coupon", coupon.coupon_id, off, label)
        adjustments.append(Adjustment("coupon", coupon.coupon_id, label, off))
        _explain_total(explained, label, off)
    return tuple(ids)


def _coupon_problem(coupon: CouponOffer, lines, request) -> tuple[str, str] | None:
    """(rule, description) of why `coupon` cannot be used, or None."""
    cid = f"coupon {coupon.coupon_id} ({coupon.name})"
    if coupon.status != "available":
        return "not_available", f"{cid} is {coupon.status}; only an available coupon can be used"
    if request.now < coupon.valid_from:
        return "not_yet_valid", f"{cid} can be used from {rfc3339(coupon.valid_from)}"
    if request.now >= coupon.valid_until:
        return "expired", f"{cid} expired at {rfc3339(coupon.valid_until)}"
    indexes = _eligible(lines, coupon.scope, "coupon")
    if not indexes:
        blocked = any(coupon.scope.covers(w.line) and not w.stacks("coupon") for w in lines)
        extra = " (sale items do not take coupons)" if blocked else ""
        return "out_of_scope", f"{cid} applies to none of the items in this cart{extra}"
    subtotal = sum(lines[i].amount for i in indexes)
    if subtotal < coupon.threshold_fen:
        return "below_threshold", (f"{cid} needs {yuan(coupon.threshold_fen)} of eligible items "
                                   f"after other discounts; this cart has {yuan(subtotal)}")
    return None


def _apply_points(rules, request, lines, adjustments, explained) -> tuple[int, int]:
    points, stacking = request.points_to_use, rules.stacking
    if points == 0:
        return 0, 0
    v = Violations()
    v.check(points > 0, "points_to_use", "non_negative", f"points_to_use must be 0 or more; got {points}")
    v.check(not request.member.is_guest, "points_to_use", "member_required",
            "only a signed-in member can pay with points")
    v.check(points * 100 % stacking.points_per_yuan == 0, "points_to_use", "multiple",
            f"points pay whole fen: use a multiple of {stacking.points_per_yuan // 100 or 1} points")
    v.raise_if_any("points cannot be used like this")
    fen = points * 100 // stacking.points_per_yuan
    payable = [i for i, w in enumerate(lines) if w.amount > 0 and w.stacks("points")]
    goods = sum(lines[i].amount for i in payable)
    cap_fen = goods * stacking.points_max_percent // 100
    cap_points = cap_fen * stacking.points_per_yuan // 100
    if fen > cap_fen:
        raise InvalidArgument.field("points_to_use", "at_most", (
            f"at most {cap_points} points ({yuan(cap_fen)}, {stacking.points_max_percent}% of the "
            f"goods after discounts) can be used on this order; asked {points}"))
    label = f"{points} 积分抵扣"
    for w in lines:
        if w.amount > 0 and not w.stacks("points"):
            w.refuse("points", "points", label)
    _spread(lines, payable, "points", "points", fen, label)
    adjustments.append(Adjustment("points", "points", label, fen))
    _explain_total(explained, label, fen)
    return points, fen


def _shipping(rules, request, goods: int, explained) -> int:
    rule = rules.shipping
    free_over = rule.free_over_fen
    if request.member.free_shipping_over_fen:
        free_over = min(free_over, request.member.free_shipping_over_fen)
    fee = rule.remote_fee_fen if request.province in rule.remote_provinces else rule.fee_fen
    if goods >= free_over:
        explained.append(f"满 {yuan_short(free_over)} 包邮")
        return 0
    explained.append(f"运费 {yuan(fee)}（满 {yuan_short(free_over)} 包邮）")
    return fee
