"""After-sale refunds: support's `aftersale.refund_requested` is refunded exactly once, to the
original method, through the provider adapter of the payment that took the money.

- The key is the event's refund_request_id, `aftersale:<request_id>` (derived from request_id when
  the event leaves it empty). A redelivery, or the same request announced again under a new event
  id, finds the refunds the first one wrote and refunds nothing more.
- The amount is what support asks per line (`refund_fen`); `amount_fen` below the lines' sum (a
  partial refund) is kept from the lines last first, each still refunding at least 1 fen (the
  same spreading as a gift's deduction). Lines with nothing to refund (an exchange's) are left out.
- Never more than what is left refundable, counted under the payment rows' locks exactly as a
  staff refund counts it (requested, processing and succeeded refunds). A pre-sale order has two
  payments: the refund draws from the balance first, then the deposit; the balance's part keeps
  the key `aftersale:<request_id>`, the deposit's part is `aftersale:<request_id>:deposit`, each
  announced by its own `payment.refunded`.
- More than is left is refused as a whole: nothing goes to the provider; the refusal is written
  as a `failed` refund under the same key (staff see it in ListRefunds, a redelivery finds it),
  logged at error level and counted (`mall_payment_aftersale_refunds_total{outcome="refused"}`).
  There is no payment.refund_failed event; support's request stays `refund_requested` for an agent.
- The refund rows are written as `requested` in the handler's transaction and sent after commit
  (`refunds.submit`); a provider that cannot be reached leaves them `requested` and the
  reconciliation timer resubmits them (the provider deduplicates by our out_refund_no).
- Gifts with purchase: a worker asks no gRPC, so order's GetRefundTerms is not asked here; the
  amounts support computed are refunded as they are (order records the gift's outcome when it
  hears payment.refunded, as for any refund by lines).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import replace

from mall.events.v1 import support_events_pb2 as support_events
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import settlement
from .metrics import AFTERSALE_REFUNDS
from .models import PaymentIntent, Refund
from .refunds import COUNTED, RefundLine, spread_deduction

log = logging.getLogger(__name__)

REQUESTED_BY = "event:aftersale.refund_requested"
DRAW_ORDER = ("balance", "deposit", "full")   # a pre-sale's balance is refunded before its deposit
_KEY = re.compile(r"^[\x21-\x7e]{1,55}$")    # room for ":deposit" in the 64 of refund_request_id


def request_key(event: support_events.AfterSaleRefundRequested) -> str:
    return event.refund_request_id or f"aftersale:{event.request_id}"


def _part_key(key: str, phase: str, first: bool) -> str:
    return key if first else f"{key}:{phase}"


def existing(session: Session, key: str) -> list[Refund]:
    keys = [key] + [f"{key}:{phase}" for phase in DRAW_ORDER]
    return list(session.scalars(select(Refund).where(Refund.refund_request_id.in_(keys))
                                .order_by(Refund.created_at)))


def asked_lines(event: support_events.AfterSaleRefundRequested) -> tuple[int, list[RefundLine]]:
    """(amount, lines) as support asks them; amount 0 means nothing can be refunded."""
    lines = [RefundLine(line_id=line.line_id, sku_id=line.sku_id, quantity=line.quantity,
                        amount_fen=line.refund_fen)
             for line in event.lines if line.refund_fen > 0]
    line_sum = sum(line.amount_fen for line in lines)
    if not lines:
        return max(event.amount_fen, 0), []
    amount = event.amount_fen if event.amount_fen > 0 else line_sum
    if amount < line_sum:
        lines = [replace(line, deducted_fen=0)
                 for line in spread_deduction(lines, line_sum - amount)]
        if sum(line.amount_fen for line in lines) != amount:  # fewer fen than lines
            return amount, []
    elif amount > line_sum:
        log.error("after-sale %s asks %s fen but its lines sum to %s: refunding the lines' sum",
                  event.request_id, amount, line_sum)
        amount = line_sum
    return amount, lines


def _split(lines: list[RefundLine], amount: int, parts: list[int]) -> list[list[RefundLine]]:
    """The lines cut into consecutive parts of the given sizes (a line may straddle two parts: its
    quantity goes with its first part)."""
    out: list[list[RefundLine]] = []
    queue = [replace(line) for line in lines]
    for size in parts:
        part: list[RefundLine] = []
        while size > 0 and queue:
            line = queue[0]
            take = min(size, line.amount_fen)
            part.append(replace(line, amount_fen=take))
            size -= take
            if take == line.amount_fen:
                queue.pop(0)
            else:
                queue[0] = replace(line, amount_fen=line.amount_fen - take, quantity=0)
        out.append(part)
    return out


def refund_requested(session: Session, event: support_events.AfterSaleRefundRequested) -> list[Refund]:
    """The refunds this request is owed (the ones already written, on a redelivery). Rows still
    `requested` are for the caller to submit after commit."""
    key = request_key(event)
    if not _KEY.match(key):
        AFTERSALE_REFUNDS.labels("refused").inc()
        log.error("after-sale refund for order %s refused: refund_request_id %r is not 1 to 55 "
                  "printable ASCII characters", event.order_id, key[:80])
        return []
    done = existing(session, key)
    if done:
        AFTERSALE_REFUNDS.labels("duplicate").inc()
        log.info("after-sale refund %s was already written (%s): nothing more", key,
                 ", ".join(f"{r.refund_request_id}={r.status}" for r in done))
        return done
    amount, lines = asked_lines(event)
    taken = list(session.scalars(
        select(PaymentIntent).where(PaymentIntent.order_id == event.order_id,
                                    PaymentIntent.provider_transaction_id.is_not(None))
        .order_by(PaymentIntent.created_at.desc()).with_for_update()))
    if amount <= 0 or not taken:
        AFTERSALE_REFUNDS.labels("refused").inc()
        log.error("after-sale refund %s for order %s refused: %s", key, event.order_id,
                  "no payment of the order took money" if not taken else "nothing to refund")
        return []
    latest: dict[str, PaymentIntent] = {}
    for intent in taken:  # newest first: the latest of each phase
        latest.setdefault(intent.phase or "full", intent)
    room = []
    for phase in DRAW_ORDER:
        intent = latest.get(phase)
        if intent is None:
            continue
        counted = int(session.scalar(select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
            Refund.payment_intent_id == intent.id, Refund.status.in_(COUNTED))))
        if intent.amount_fen - counted > 0:
            room.append((phase, intent, intent.amount_fen - counted))
    refundable = sum(left for _, _, left in room)
    reason = (event.reason or "aftersale")[:200]
    if amount > refundable:
        AFTERSALE_REFUNDS.labels("refused").inc()
        why = (f"max_refundable: after-sale {event.request_id} asks {amount} fen, but only "
               f"{refundable} fen of order {event.order_id} is left to refund")
        log.error("after-sale refund %s refused: %s", key, why)
        row = settlement.new_refund(session, (room[0][1] if room else taken[0]), amount, key, reason,
                                    lines=_lines_json(lines), requested_by=REQUESTED_BY)
        row.status, row.failure = "failed", why
        return [row]
    sizes, left = [], amount
    for _, _, room_left in room:
        take = min(left, room_left)
        sizes.append(take)
        left -= take
    parts = _split(lines, amount, sizes) if lines else [[] for _ in sizes]
    written = []
    for (phase, intent, _), size, part in zip(room, sizes, parts, strict=True):
        if size <= 0:
            continue
        written.append(settlement.new_refund(
            session, intent, size, _part_key(key, phase, not written), reason,
            lines=_lines_json(part), requested_by=REQUESTED_BY))
    AFTERSALE_REFUNDS.labels("requested").inc()
    return written


def _lines_json(lines: list[RefundLine]) -> str:
    return json.dumps([line.__dict__ for line in lines], ensure_ascii=False)
