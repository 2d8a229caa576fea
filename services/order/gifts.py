"""Gifts with purchase after the sale ("spend 300, get a gift").

The quote gives a gift line at 0 fen over a campaign's threshold; order stores it as a line of
the order (with the campaign's terms: the threshold, what each qualifying line counted toward it,
and the merchant's rule), logistics reserves and ships its SKU with the order, and promotion's
lock takes the campaign's gift stock; a cancelled order gives all of it back.

When qualifying goods come back (a staff refund by lines naming the units returned) so the order
falls below the threshold, the campaign's rule decides, once per gift:
- `return`: the gift must be sent back (`return_required` on the gift line);
- `deduct`: its stated value is kept from that refund (`deducted`, payment takes it off the
  refund's lines before paying out; a refund too small to keep anything leaves the gift to be
  sent back instead).
A gift named in the same refund (sent back with the goods) needs neither.

`judge` is the rule as a pure function; payment asks before it refunds (`GetRefundTerms`), and
order records the outcome when it hears `payment.refunded` (the same function over the same units,
so the two agree).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from servicekit.errors import FailedPrecondition, FieldViolation, NotFound, Violations

from .models import Order, OrderLine

RETURN, DEDUCT = "return", "deduct"
RETURN_REQUIRED, DEDUCTED = "return_required", "deducted"
MAX_LINES = 100


@dataclass(frozen=True)
class GiftTerms:
    campaign_id: str
    threshold_fen: int
    qualifying: dict[str, int]     # order line id -> fen it counted toward the threshold
    return_rule: str = RETURN
    gift_value_fen: int = 0

    def to_json(self) -> dict:
        return {"campaign_id": self.campaign_id, "threshold_fen": self.threshold_fen,
                "qualifying": dict(self.qualifying), "return_rule": self.return_rule,
                "gift_value_fen": self.gift_value_fen}

    @classmethod
    def from_json(cls, data: dict) -> "GiftTerms":
        return cls(data.get("campaign_id", ""), int(data.get("threshold_fen", 0)),
                   {k: int(v) for k, v in (data.get("qualifying") or {}).items()},
                   data.get("return_rule", RETURN), int(data.get("gift_value_fen", 0)))


@dataclass(frozen=True)
class Units:
    quantity: int        # units bought
    returned: int = 0    # units given back before this refund


@dataclass(frozen=True)
class Outcome:
    outcome: str         # "" (nothing to do), return_required, deducted
    deduct_fen: int = 0


NOTHING = Outcome("")


def counted(fen: int, units: Units, returned: int) -> int:
    """What a qualifying line still counts once `returned` of its units came back."""
    if units.quantity <= 0:
        return 0
    kept = max(0, units.quantity - min(returned, units.quantity))
    return fen * kept // units.quantity


def judge(terms: GiftTerms, lines: dict[str, Units], returning: dict[str, int], *,
          settled: bool = False, gift_returning: bool = False, refund_fen: int | None = None
          ) -> Outcome:
    """What a refund returning `returning` units (line id -> units) means for one gift.

    `lines`: every qualifying line's units and what came back before; `settled`: an earlier
    refund already decided this gift; `gift_returning`: the gift comes back with this refund;
    `refund_fen`: the refund's money (a deduction never takes more than leaves 1 fen a line).
    """
    if settled or gift_returning or not terms.qualifying:
        return NOTHING
    if not any(returning.get(line_id, 0) > 0 for line_id in terms.qualifying):
        return NOTHING  # no qualifying goods come back with this refund
    after = sum(counted(fen, lines.get(line_id, Units(0)),
                        lines.get(line_id, Units(0)).returned + returning.get(line_id, 0))
                for line_id, fen in terms.qualifying.items())
    if after >= terms.threshold_fen:
        return NOTHING
    if terms.return_rule == DEDUCT and terms.gift_value_fen > 0:
        deduct = terms.gift_value_fen if refund_fen is None else max(0, min(terms.gift_value_fen, refund_fen))
        if deduct > 0:
            return Outcome(DEDUCTED, deduct)
    return Outcome(RETURN_REQUIRED)


def explain(title: str, terms: GiftTerms, outcome: Outcome) -> str:
    threshold = f"¥{terms.threshold_fen / 100:g}"
    if outcome.outcome == DEDUCTED:
        return (f"满 {threshold} 赠 {title}: the refund takes the order below {threshold}, so the "
                f"gift's value ¥{outcome.deduct_fen / 100:.2f} is kept from it")
    return (f"满 {threshold} 赠 {title}: the refund takes the order below {threshold}, so the gift "
            f"must be sent back")


@dataclass(frozen=True)
class GiftDecision:
    line: OrderLine
    terms: GiftTerms
    outcome: Outcome


def decide(lines: list[OrderLine], returning: dict[str, int], refund_fen: int | None = None
           ) -> list[GiftDecision]:
    """Every gift line of an order that a refund returning these units decides."""
    units = {line.id: Units(line.quantity, line.refunded_quantity or 0) for line in lines}
    decided = []
    for line in lines:
        if not line.gift or not line.gift_terms:
            continue
        terms = GiftTerms.from_json(line.gift_terms)
        outcome = judge(terms, units, returning, settled=bool(line.gift_outcome),
                        gift_returning=returning.get(line.id, 0) > 0, refund_fen=refund_fen)
        if outcome.outcome:
            decided.append(GiftDecision(line, terms, outcome))
    return decided


def refund_terms(session: Session, order_id: str, asked: list[tuple[str, int, int]]):
    """GetRefundTerms: (line id, units returned, fen) -> the gifts the refund decides. Decides
    nothing: order records the outcome when the refund is paid (payment.refunded)."""
    v = Violations()
    v.check(1 <= len(asked) <= MAX_LINES, "lines", "count", f"1 to {MAX_LINES} lines")
    order = session.get(Order, order_id) if order_id else None
    if order is None:
        raise NotFound(f"no order {order_id!r}")
    lines = list(session.query(OrderLine).filter(OrderLine.order_id == order.id)
                 .order_by(OrderLine.line_no))
    by_id = {line.id: line for line in lines}
    returning: dict[str, int] = {}
    for i, (line_id, quantity, _) in enumerate(asked[:MAX_LINES]):
        line = by_id.get(line_id)
        if not v.check(line is not None, f"lines[{i}].line_id", "exists",
                       f"order {order.order_no} has no line {line_id!r}"):
            continue
        v.check(0 <= quantity <= line.quantity - (line.refunded_quantity or 0),
                f"lines[{i}].quantity", "range",
                f"0 to the {line.quantity - (line.refunded_quantity or 0)} units not yet given back")
        returning[line_id] = returning.get(line_id, 0) + quantity
    v.raise_if_any("the refund's lines are invalid")
    if order.status in ("placing", "failed", "pending_payment"):
        raise FailedPrecondition(f"order {order.order_no} was never paid",
                                 [FieldViolation("order_id", "paid", "only a paid order is refunded")])
    refund_fen = sum(max(0, fen - 1) for _, _, fen in asked)  # every line keeps at least 1 fen
    return order, decide(lines, returning, refund_fen)


def apply_refund(lines: list[OrderLine], parts) -> list[GiftDecision]:
    """On payment.refunded, before the units are added: decides the gifts as GetRefundTerms did
    and records it on the gift lines. `parts`: the event's lines (line_id, quantity,
    deducted_fen)."""
    returning: dict[str, int] = {}
    for part in parts:
        returning[part.line_id] = returning.get(part.line_id, 0) + part.quantity
    kept = sum(part.deducted_fen for part in parts)
    decided = decide(lines, returning)
    for decision in decided:
        line, outcome = decision.line, decision.outcome
        if outcome.outcome == DEDUCTED and kept > 0:
            line.gift_outcome, line.gift_deducted_fen = DEDUCTED, min(kept, outcome.deduct_fen)
            kept -= line.gift_deducted_fen
        else:  # nothing was kept from the money (an older payment, too small a refund): send it back
            line.gift_outcome = RETURN_REQUIRED
    units = {line.id: line for line in lines}
    for line_id, quantity in returning.items():
        if line_id in units:
            line = units[line_id]
            line.refunded_quantity = min(line.quantity, (line.refunded_quantity or 0) + quantity)
    return decided

