"""CreatePayment: the shopper pays an order through one method. The amount is the order's
(order_port), the provider's prepay answer is kept on the intent and handed out again for the
same method; another method cancels the open intent first (and closes it at the provider)."""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servicekit.errors import FailedPrecondition, NotFound, Unavailable, Violations
from servicekit.runtime import Runtime

from . import intents, states
from .methods import HUABEI_PERIODS, HUABEI_SELLER_PERCENTS
from .models import METHODS, PaymentIntent
from .order_port import Payable
from .providers import PrepayRequest, ProviderError
from .providers.registry import for_method

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentChoice:
    order_id: str
    method: str
    installments: int = 0
    seller_percent: int = 0
    payer_openid: str = ""


@dataclass(frozen=True)
class Prepared:
    intent: PaymentIntent
    client: dict          # the provider's client parameters (WeChat's wx.requestPayment, Alipay's order string)


def validate(choice: PaymentChoice) -> None:
    problems = Violations()
    problems.check(bool(choice.order_id), "order_id", "required", "order_id is required")
    problems.check(choice.method in METHODS, "method", "one_of",
                   f"method must be one of {', '.join(METHODS)}; got {choice.method!r}")
    if choice.installments and problems.check(
            choice.method == "alipay", "installments", "alipay_only",
            "installments (Huabei) are offered through Alipay only"):
        problems.check(choice.installments in HUABEI_PERIODS, "installments", "one_of",
                       f"Huabei hb_fq_num is 3, 6 or 12; got {choice.installments}")
    if choice.seller_percent and problems.check(
            bool(choice.installments), "seller_percent", "installments_only",
            "seller_percent only applies to Huabei installments"):
        problems.check(choice.seller_percent in HUABEI_SELLER_PERCENTS, "seller_percent", "one_of",
                       f"Huabei hb_fq_seller_percent is 0 (the shopper pays the fee) or 100 (the "
                       f"shop does); got {choice.seller_percent}")
    if choice.method == "wechat_jsapi":
        problems.check(bool(choice.payer_openid), "payer_openid", "required",
                       "WeChat Pay JSAPI needs the shopper's openid for the mini-program")
    problems.raise_if_any("the payment request is invalid")


def _reusable(intent: PaymentIntent, choice: PaymentChoice, payable: Payable) -> bool:
    return (intent.status == "pending" and intent.client_payload is not None
            and intent.method == choice.method and intent.installment_periods == choice.installments
            and intent.seller_percent == choice.seller_percent and intent.amount_fen == payable.payable_fen
            and intent.phase == payable.phase)


def create_payment(session: Session, runtime: Runtime, payable: Payable, member_id: str,
                   choice: PaymentChoice) -> Prepared:
    validate(choice)
    if payable.member_id != member_id:  # order checks this too; never pay someone else's order
        raise NotFound(f"order {choice.order_id} was not found")
    if payable.payable_fen <= 0:
        raise FailedPrecondition(f"order {choice.order_id} has nothing to pay ({payable.payable_fen} fen)")
    open_intents = list(session.scalars(
        select(PaymentIntent).where(PaymentIntent.order_id == choice.order_id,
                                    PaymentIntent.status.in_(states.OPEN)).with_for_update()))
    for intent in open_intents:
        if _reusable(intent, choice, payable):
            return Prepared(intent, json.loads(intent.client_payload))
    for intent in open_intents:
        _supersede(session, runtime, intent)
    try:
        intent = intents.create_intent(session, order_id=choice.order_id, member_id=member_id,
                                       method=choice.method, amount_fen=payable.payable_fen,
                                       installment_periods=choice.installments)
    except IntegrityError:  # a concurrent create for this order won the one open slot
        raise FailedPrecondition(f"another payment of order {choice.order_id} is being created; "
                                 "try again") from None
    intent.seller_percent, intent.phase = choice.seller_percent, payable.phase
    intent.out_trade_no = uuid.uuid4().hex
    client = _prepay(intent, choice, payable)
    # A provider that names the trade itself (the card acquirer's PaymentIntent id) says so here.
    intent.out_trade_no = client.pop("out_trade_no", intent.out_trade_no)
    intent.client_payload = json.dumps(client, ensure_ascii=False)
    states.move(intent, "pending")
    return Prepared(intent, client)


def _prepay(intent: PaymentIntent, choice: PaymentChoice, payable: Payable) -> dict:
    request = PrepayRequest(out_trade_no=intent.out_trade_no, amount_fen=intent.amount_fen,
                            description=payable.description or f"订单 {payable.order_no}",
                            expires_at=payable.pay_deadline, payer_openid=choice.payer_openid,
                            installments=choice.installments, seller_percent=choice.seller_percent)
    try:
        return for_method(choice.method).prepay(request)
    except ProviderError as err:
        if err.retryable:
            raise Unavailable(f"the payment provider did not answer; try again ({err})") from err
        raise FailedPrecondition(f"the payment provider refused the payment: {err}") from err


def _supersede(session: Session, runtime: Runtime, intent: PaymentIntent) -> None:
    """The shopper chose again: the earlier intent is cancelled, and closed at the provider so it
    can no longer be paid. If it was paid in the meantime, that payment is refunded when its
    notification arrives (settlement: paid after cancel)."""
    was_pending = intent.status == "pending"
    intents.cancel(session, runtime, intent, reason="superseded")
    if was_pending and intent.out_trade_no:
        try:
            for_method(intent.method).close(intent.out_trade_no)
        except ProviderError as err:
            log.warning("could not close %s at the provider (%s); a late payment will be refunded",
                        intent.out_trade_no, err)
