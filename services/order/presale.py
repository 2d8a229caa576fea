"""Pre-sale orders (新品预售): one order, two payments.

    pending_payment ──deposit──> deposit_paid ──window opens──> balance_due ──balance──> paid
    (deposit due)                (waits: the unpaid-order    (notice: inbox, WeChat)      (order.paid)
                                  timer leaves it alone)
    deposit_paid | balance_due ──window closed unpaid──> cancelled (deposit kept or refunded)

The quote says, before the shopper pays, what is due now (the deposit), the balance and its
window, the release (ship) date and the merchant's rule for an unpaid balance; the order keeps
them. Payment asks `due_now` (GetPayable) for each of the two payment intents, so an amount never
comes from the client. `order.deposit_paid` tells logistics and promotion to keep the stock and
coupons held until the balance window closed; `order.paid` comes once, when the whole amount is
paid, and carries `ships_from` (the release date) so nothing ships before it. Timers open the
balance windows (order.balance_due: support tells the shopper) and close unpaid ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from mall.events.v1 import order_events_pb2 as events
from mall.events.v1 import payment_events_pb2 as payments
from mall.order.v1 import order_pb2
from mall.promotion.v1 import promotion_pb2
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit.errors import FailedPrecondition, FieldViolation
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from . import states
from .models import Order

KEEP_DEPOSIT, REFUND_DEPOSIT = "keep_deposit", "refund_deposit"
WAITING = ("deposit_paid", "balance_due")      # the deposit is in, the balance is not
BALANCE_UNPAID = "balance_unpaid"              # order.cancelled's reason when its window closed
# Stock and coupons stay held this long past the balance window: the closing timer cancels the
# order (and releases them) first; this only covers a worker that is away then.
HOLD_GRACE = timedelta(hours=1)
RULE_TEXT = {KEEP_DEPOSIT: "尾款未在期限内支付，订单关闭，定金不退",
             REFUND_DEPOSIT: "尾款未在期限内支付，订单关闭，定金原路退回"}


@dataclass(frozen=True)
class Terms:
    """A pre-sale order's terms, as the quote stated them."""
    campaign_id: str
    deposit_fen: int
    balance_from: datetime
    balance_until: datetime
    release_at: datetime
    unpaid_balance: str


def terms_of(quote: promotion_pb2.QuoteResponse) -> Terms | None:
    """The pre-sale terms of a quote, or None when no line is on pre-sale. A pre-sale is bought on
    its own: mixed with other goods, or with another pre-sale's, it is refused naming the line."""
    presale_lines = [line for line in quote.lines if line.presale_campaign_id]
    if not presale_lines:
        return None
    first = presale_lines[0]
    problems = [FieldViolation(f"lines[{n}].sku_id", "presale_alone",
                               f"{line.sku_id} is not in pre-sale {first.presale_campaign_id}: a "
                               "pre-sale's items are ordered on their own (two payments, one ship "
                               "date)")
                for n, line in enumerate(quote.lines)
                if line.presale_campaign_id != first.presale_campaign_id]
    if problems:
        raise FailedPrecondition("a pre-sale order holds only that pre-sale's items", problems)
    terms = first.presale
    release = terms.release_at.ToDatetime(timezone.utc) if terms.HasField("release_at") else None
    balance_from = terms.balance_from.ToDatetime(timezone.utc)
    return Terms(campaign_id=first.presale_campaign_id,
                 deposit_fen=sum(line.deposit_fen for line in presale_lines),
                 balance_from=balance_from, balance_until=terms.balance_until.ToDatetime(timezone.utc),
                 release_at=release or balance_from, unpaid_balance=terms.unpaid_balance or KEEP_DEPOSIT)


def apply_terms(order: Order, terms: Terms | None) -> None:
    if terms is None:
        return
    order.presale_campaign_id, order.deposit_fen = terms.campaign_id, terms.deposit_fen
    order.balance_from, order.balance_until = terms.balance_from, terms.balance_until
    order.release_at, order.unpaid_balance = terms.release_at, terms.unpaid_balance


def balance_fen(order: Order) -> int:
    return order.payable_fen - order.deposit_fen


# --- what is due now (GetPayable) ---------------------------------------------------------------

@dataclass(frozen=True)
class Due:
    phase: str                       # full | deposit | balance
    amount_fen: int
    deadline: datetime | None


def due_now(order: Order, now: datetime) -> Due:
    """What a payment of this order may take now; FAILED_PRECONDITION (409 at the gateway) naming
    `order_id` when nothing is due: the balance window not yet open says when it opens."""
    if not order.is_presale:
        if order.status != "pending_payment":
            raise FailedPrecondition(f"order {order.order_no} is {order.status}, not waiting for payment")
        return Due("full", order.payable_fen, order.pay_deadline)
    if order.status == "pending_payment":
        return Due("deposit", order.deposit_fen, order.pay_deadline)
    if order.status in WAITING:
        if now < order.balance_from:
            raise FailedPrecondition(
                f"the deposit of order {order.order_no} is paid; its balance can be paid from "
                f"{rfc3339(order.balance_from)} until {rfc3339(order.balance_until)}",
                [FieldViolation("order_id", "balance_not_open",
                                f"the balance window opens at {rfc3339(order.balance_from)}")])
        if now >= order.balance_until:
            raise FailedPrecondition(
                f"the balance window of order {order.order_no} closed at "
                f"{rfc3339(order.balance_until)}",
                [FieldViolation("order_id", "balance_closed",
                                f"the balance was due by {rfc3339(order.balance_until)}")])
        return Due("balance", balance_fen(order), order.balance_until)
    raise FailedPrecondition(f"order {order.order_no} is {order.status}, not waiting for payment")


def phase_of(order: Order) -> str:
    return {"pending_payment": "deposit_due", "deposit_paid": "waiting_for_balance",
            "balance_due": "balance_due", "cancelled": "closed",
            "refunded": "closed"}.get(order.status, "paid")


def view(order: Order, now: datetime) -> order_pb2.PresaleView | None:
    if not order.is_presale:
        return None
    try:
        due = due_now(order, now).amount_fen
    except FailedPrecondition:
        due = 0
    balance_paid = order.paid_fen - order.deposit_paid_fen if order.paid_fen else 0
    return order_pb2.PresaleView(
        phase=phase_of(order), deposit_fen=order.deposit_fen, balance_fen=balance_fen(order),
        deposit_paid_fen=order.deposit_paid_fen, balance_paid_fen=max(balance_paid, 0),
        due_now_fen=due, balance_from=rfc3339(order.balance_from),
        balance_until=rfc3339(order.balance_until), release_at=rfc3339(order.release_at),
        unpaid_balance=order.unpaid_balance, unpaid_balance_text=RULE_TEXT.get(order.unpaid_balance, ""),
        campaign_id=order.presale_campaign_id)


def terms_view(terms: Terms | None, payable_fen: int) -> order_pb2.PresaleView | None:
    """The terms in a checkout preview: what the shopper is told before she pays the deposit."""
    if terms is None:
        return None
    return order_pb2.PresaleView(
        phase="deposit_due", deposit_fen=terms.deposit_fen, balance_fen=payable_fen - terms.deposit_fen,
        due_now_fen=terms.deposit_fen, balance_from=rfc3339(terms.balance_from),
        balance_until=rfc3339(terms.balance_until), release_at=rfc3339(terms.release_at),
        unpaid_balance=terms.unpaid_balance, unpaid_balance_text=RULE_TEXT.get(terms.unpaid_balance, ""),
        campaign_id=terms.campaign_id)


# --- the two payments ---------------------------------------------------------------------------

def on_deposit_paid(session: Session, runtime: Runtime, order: Order,
                    paid: payments.PaymentSucceeded, lines) -> bool:
    """PENDING_PAYMENT → DEPOSIT_PAID and order.deposit_paid. A deposit for an order no longer
    waiting for it changes nothing (payment refunds a cancelled order's money by itself)."""
    if order.status != "pending_payment":
        return False
    if paid.amount_fen != order.deposit_fen:
        raise FailedPrecondition(f"order {order.order_no}'s deposit is {order.deposit_fen} fen but "
                                 f"payment {paid.payment_intent_id} took {paid.amount_fen}")
    now = datetime.now(timezone.utc)
    order.deposit_paid_fen, order.payment_method = paid.amount_fen, paid.method
    from .orders import event_lines, transition  # orders imports this module
    transition(session, runtime, order, "deposit_paid", actor="event:payment.succeeded",
               reason=f"deposit {paid.method} {paid.provider_transaction_id}", now=now)
    runtime.emit(session, "order.deposit_paid", events.OrderDepositPaid(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        deposit_fen=order.deposit_paid_fen, balance_fen=balance_fen(order),
        balance_from=rfc3339(order.balance_from), balance_until=rfc3339(order.balance_until),
        release_at=rfc3339(order.release_at), unpaid_balance=order.unpaid_balance,
        hold_until=rfc3339(order.balance_until + HOLD_GRACE), lines=event_lines(lines),
        paid_at=rfc3339(now), payment_method=paid.method, channel=order.channel,
        status_seq=states.history_seq(session, order)))
    return True


def balance_payment_fits(order: Order, paid: payments.PaymentSucceeded) -> bool:
    """A balance payment order can take: the deposit is in and the amount is the rest. A balance
    that arrives after the window closed finds the order cancelled (payment refunds it)."""
    if order.status not in WAITING:
        return False
    if paid.amount_fen != balance_fen(order):
        raise FailedPrecondition(f"order {order.order_no}'s balance is {balance_fen(order)} fen but "
                                 f"payment {paid.payment_intent_id} took {paid.amount_fen}")
    return True


# --- timers -------------------------------------------------------------------------------------

def open_balance_windows(session: Session, runtime: Runtime, now: datetime, limit: int = 200) -> int:
    """DEPOSIT_PAID → BALANCE_DUE when the balance window opens, and order.balance_due (support
    tells the shopper: the inbox, then WeChat). SKIP LOCKED: replicas share the work; an order
    moved once is not found again."""
    due = session.scalars(
        select(Order).where(Order.status == "deposit_paid", Order.balance_from <= now)
        .order_by(Order.balance_from).limit(limit).with_for_update(skip_locked=True)).all()
    for order in due:
        open_balance(session, runtime, order, actor="system:balance_window")
    return len(due)


def open_balance(session: Session, runtime: Runtime, order: Order, *, actor: str) -> None:
    from .orders import lines_of, summary, transition
    if not transition(session, runtime, order, "balance_due", actor=actor,
                      reason=f"the balance window opened ({rfc3339(order.balance_from)})"):
        return
    runtime.emit(session, "order.balance_due", events.OrderBalanceDue(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        balance_fen=balance_fen(order), balance_from=rfc3339(order.balance_from),
        balance_until=rfc3339(order.balance_until), release_at=rfc3339(order.release_at),
        unpaid_balance=order.unpaid_balance,
        summary=summary(lines_of(session, order), order.discreet_packaging),
        discreet=order.discreet_packaging, status_seq=states.history_seq(session, order)))


def close_unpaid_balances(session: Session, runtime: Runtime, now: datetime, limit: int = 200) -> int:
    """Orders whose balance window closed unpaid are cancelled; the deposit is kept or refunded by
    the merchant's rule (order.cancelled's `deposit_kept`: payment refunds the rest, exactly once)."""
    from .orders import cancel
    due = session.scalars(
        select(Order).where(Order.status.in_(WAITING), Order.balance_until <= now)
        .order_by(Order.balance_until).limit(limit).with_for_update(skip_locked=True)).all()
    for order in due:
        kept = order.unpaid_balance == KEEP_DEPOSIT
        cancel(session, runtime, order, actor="system:balance_timeout", reason=BALANCE_UNPAID,
               deposit_kept=kept)
    return len(due)
