"""support's aftersale.refund_requested: refunded once, per line as asked, to the fen, through the
provider of the original payment (WeChat Pay and Alipay stand-ins); redelivered or re-announced
under a new event id it refunds nothing more; more than is left is refused (a failed refund row,
logged and counted, nothing at the provider); a pre-sale draws from the balance, then the deposit;
a provider out of reach leaves the refund for the reconciliation timer."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from mall.events.v1 import support_events_pb2 as support_events
from mall.payment.v1 import payment_pb2
from sqlalchemy import select

from servicekit.testing import deliver_in_process, wait_until
from services.payment import reconcile
from services.payment.metrics import AFTERSALE_REFUNDS
from services.payment.models import Refund
from services.payment.providers import registry

from .helpers import OPENID, STAFF, intent, outbox, with_key

PAID = 25900


def asked(request_id="as-1", lines=((("l-1", "sku-1", 1, 9900)), ("l-2", "sku-2", 2, 6000)),
          amount=0, order_id="o-1"):
    message = support_events.AfterSaleRefundRequested(
        request_id=request_id, order_id=order_id, member_id="m-1",
        refund_request_id=f"aftersale:{request_id}", reason="退货退款 质量问题", requested_by="auto")
    for line_id, sku_id, quantity, fen in lines:
        message.lines.add(line_id=line_id, sku_id=sku_id, quantity=quantity, refund_fen=fen)
    message.amount_fen = amount or sum(line.refund_fen for line in message.lines)
    return message


def deliver(message, event_id):
    deliver_in_process("payment", "support", "aftersale.refund_requested", message, event_id=event_id)


def rows(runtime, order_id="o-1"):
    with runtime.transaction() as session:
        found = list(session.scalars(select(Refund).where(Refund.order_id == order_id)
                                     .order_by(Refund.created_at)))
        session.expunge_all()
        return found


def refunded_events(runtime):
    return [e["data"] for e in outbox(runtime, "payment.refunded")]


@pytest.fixture
def wechat_paid(stub, orders, providers, relay):
    orders.add("o-1", "m-1", PAID)
    pi = stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-1", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-1")).intent
    assert providers.wechatpay.pay(pi.out_trade_no) == 204
    return pi


@pytest.fixture
def alipay_paid(stub, orders, providers, relay):
    orders.add("o-1", "m-1", PAID)
    opened = stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-1", method="alipay", installments=6, seller_percent=0), metadata=with_key("k-ali"))
    providers.alipay.handle("POST", "/standin/pay", "", {},
                            json.dumps({"order_string": opened.alipay_order_string}).encode())
    return opened.intent


def at_wechat(providers, pi):
    return sorted(r["answer"]["amount"]["refund"] for r in providers.wechatpay.refunds.values()
                  if r["answer"]["out_trade_no"] == pi.out_trade_no)


def test_wechat_refunds_the_lines_to_the_fen_once_however_often_it_is_asked(runtime, wechat_paid, providers):
    deliver(asked(), "e-1")
    wait_until(lambda: [r.status for r in rows(runtime)] == ["succeeded"], message="WeChat's notification")
    deliver(asked(), "e-1")   # redelivered
    deliver(asked(), "e-2")   # announced again under a new event id
    assert at_wechat(providers, wechat_paid) == [15900]
    [row] = rows(runtime)
    assert (row.refund_request_id, row.amount_fen, row.requested_by) == \
        ("aftersale:as-1", 15900, "event:aftersale.refund_requested")
    [event] = refunded_events(runtime)
    assert (event["refundRequestId"], event["amountFen"], event["refundedTotalFen"], event["full"]) == \
        ("aftersale:as-1", "15900", "15900", False)
    assert [(line["lineId"], line["quantity"], line["amountFen"]) for line in event["lines"]] == \
        [("l-1", "1", "9900"), ("l-2", "2", "6000")]
    assert intent(runtime, wechat_paid.id).refunded_fen == 15900


def test_alipay_huabei_is_refunded_at_once_through_alipay(runtime, alipay_paid, providers):
    deliver(asked(lines=(("l-1", "sku-1", 1, 12345),)), "e-1")
    [row] = rows(runtime)
    assert (row.status, row.amount_fen) == ("succeeded", 12345)
    assert providers.alipay.trades[alipay_paid.out_trade_no]["refunds"] == {row.id: 12345}
    [event] = refunded_events(runtime)
    assert (event["refundRequestId"], event["amountFen"], event["method"]) == \
        ("aftersale:as-1", "12345", "alipay")


def test_a_partial_refund_keeps_the_difference_from_the_last_lines(runtime, alipay_paid, providers):
    deliver(asked(amount=15000), "e-1")  # the lines say 15900; the agent refunds 15000
    [row] = rows(runtime)
    assert (row.status, row.amount_fen) == ("succeeded", 15000)
    assert [(line["line_id"], line["amount_fen"]) for line in json.loads(row.lines)] == \
        [("l-1", 9900), ("l-2", 5100)]


def test_more_than_is_left_is_refused_and_recorded(stub, runtime, alipay_paid, providers):
    stub.RefundPayment(payment_pb2.RefundPaymentRequest(
        order_id="o-1", refund_request_id="staff-1", amount_fen=20000, reason="差价"), metadata=STAFF)
    refused_before = AFTERSALE_REFUNDS.labels("refused")._value.get()
    deliver(asked(), "e-1")   # 15900 asked, 5900 left
    deliver(asked(), "e-2")
    failed = [r for r in rows(runtime) if r.refund_request_id == "aftersale:as-1"]
    assert [(r.status, r.amount_fen) for r in failed] == [("failed", 15900)]
    assert "max_refundable" in failed[0].failure and "5900" in failed[0].failure
    assert AFTERSALE_REFUNDS.labels("refused")._value.get() == refused_before + 1
    assert list(providers.alipay.trades[alipay_paid.out_trade_no]["refunds"].values()) == [20000]
    assert [e["refundRequestId"] for e in refunded_events(runtime)] == ["staff-1"]
    # what is left can still be refunded by another request
    deliver(asked("as-2", lines=(("l-2", "sku-2", 1, 5900),)), "e-3")
    assert intent(runtime, alipay_paid.id).status == "refunded"


def test_two_requests_in_either_order_never_exceed_the_payment(runtime, alipay_paid, providers):
    second = asked("as-2", lines=(("l-2", "sku-2", 2, 12000),))
    first = asked("as-1", lines=(("l-1", "sku-1", 1, 13900),))
    deliver(second, "e-2")          # the later request is heard first
    deliver(first, "e-1")
    deliver(second, "e-2")          # and redelivered after the first
    assert sorted((r.refund_request_id, r.status, r.amount_fen) for r in rows(runtime)) == \
        [("aftersale:as-1", "succeeded", 13900), ("aftersale:as-2", "succeeded", 12000)]
    assert intent(runtime, alipay_paid.id).status == "refunded"
    assert [e["full"] for e in refunded_events(runtime)] == [False, True]


def test_an_order_no_payment_took_money_refunds_nothing(runtime, stub, orders, providers):
    orders.add("o-9", "m-1", PAID)
    deliver(asked(order_id="o-9"), "e-1")
    assert rows(runtime, "o-9") == []


def test_a_presale_refund_draws_from_the_balance_then_the_deposit(stub, orders, providers, relay, runtime):
    pis = {}
    for phase, amount, key in (("deposit", 5000, "k-dep"), ("balance", 20900, "k-bal")):
        order = orders.orders.get("o-1") or orders.add("o-1", "m-1", amount)
        order.phase, order.payable_fen = phase, amount
        opened = stub.CreatePayment(payment_pb2.CreatePaymentRequest(order_id="o-1", method="alipay"),
                                    metadata=with_key(key))
        pis[phase] = opened.intent
        providers.alipay.handle("POST", "/standin/pay", "", {},
                                json.dumps({"order_string": opened.alipay_order_string}).encode())
    deliver(asked(lines=(("l-1", "sku-1", 1, 25000),)), "e-1")
    deliver(asked(lines=(("l-1", "sku-1", 1, 25000),)), "e-2")
    found = sorted((r.refund_request_id, r.payment_intent_id, r.status, r.amount_fen) for r in rows(runtime))
    assert found == [("aftersale:as-1", pis["balance"].id, "succeeded", 20900),
                     ("aftersale:as-1:deposit", pis["deposit"].id, "succeeded", 4100)]
    lines = {r.refund_request_id: json.loads(r.lines) for r in rows(runtime)}
    assert [(x["quantity"], x["amount_fen"]) for x in lines["aftersale:as-1"]] == [(1, 20900)]
    assert [(x["quantity"], x["amount_fen"]) for x in lines["aftersale:as-1:deposit"]] == [(0, 4100)]
    assert sorted(e["amountFen"] for e in refunded_events(runtime)) == ["20900", "4100"]


def test_a_provider_out_of_reach_leaves_it_to_the_timer(runtime, wechat_paid, providers, monkeypatch):
    monkeypatch.setenv("MALL_PAYMENT_WECHATPAY_API_BASE", "http://127.0.0.1:9")
    registry.reset()
    try:
        deliver(asked(), "e-1")
    finally:
        monkeypatch.undo()
        registry.reset()
    [row] = rows(runtime)
    assert row.status == "requested"
    assert reconcile.resubmit_refunds(runtime, datetime.now(timezone.utc) + timedelta(seconds=1)) == 1
    wait_until(lambda: rows(runtime)[0].status == "succeeded", message="the refund went through")
    deliver(asked(), "e-2")   # asked again: still the one refund
    assert at_wechat(providers, wechat_paid) == [15900]


def test_a_refund_alipay_refuses_for_now_is_sent_again_by_the_timer(runtime, alipay_paid, providers):
    """The merchant's Alipay balance is short: Alipay says try again later; the refund stays
    requested (nothing lost) and the reconciliation timer sends it once the balance is back."""
    providers.alipay.refund_refusal = "ACQ.SELLER_BALANCE_NOT_ENOUGH"
    try:
        deliver(asked(), "e-1")
        [row] = rows(runtime)
        assert row.status == "requested"
        assert reconcile.resubmit_refunds(runtime, datetime.now(timezone.utc) + timedelta(seconds=1)) == 0
    finally:
        providers.alipay.refund_refusal = ""
    assert reconcile.resubmit_refunds(runtime, datetime.now(timezone.utc) + timedelta(seconds=1)) == 1
    [row] = rows(runtime)
    assert (row.status, row.amount_fen) == ("succeeded", 15900)
    assert providers.alipay.trades[alipay_paid.out_trade_no]["refunds"] == {row.id: 15900}
    [event] = refunded_events(runtime)
    assert event["refundRequestId"] == "aftersale:as-1"


def test_a_final_refusal_is_recorded_failed_with_the_providers_word(runtime, alipay_paid, providers):
    providers.alipay.refund_refusal = "ACQ.TRADE_HAS_CLOSE"
    try:
        deliver(asked(), "e-1")
    finally:
        providers.alipay.refund_refusal = ""
    [row] = rows(runtime)
    assert row.status == "failed" and "ACQ.TRADE_HAS_CLOSE" in row.failure
    assert refunded_events(runtime) == []


def test_a_card_payment_is_refunded_through_the_acquirer(stub, orders, providers, relay, runtime):
    orders.add("o-1", "m-1", PAID)
    opened = stub.CreatePayment(payment_pb2.CreatePaymentRequest(order_id="o-1", method="card"),
                                metadata=with_key("k-card"))
    providers.card.intents[opened.intent.out_trade_no].update(status="succeeded", amount_received=PAID)
    assert reconcile.run(runtime, older_than=timedelta(0)).settled == [opened.intent.id]
    deliver(asked(lines=(("l-1", "sku-1", 1, 9901),)), "e-1")
    [row] = rows(runtime)
    assert (row.status, row.amount_fen) == ("succeeded", 9901) and row.provider_refund_id.startswith("re_")
    [event] = refunded_events(runtime)
    assert (event["refundRequestId"], event["amountFen"], event["method"]) == ("aftersale:as-1", "9901", "card")


def test_a_malformed_request_id_refunds_nothing(runtime, alipay_paid, providers):
    message = asked()
    message.refund_request_id = "aftersale:" + "x" * 60
    deliver(message, "e-1")
    message.refund_request_id = "aftersale:with space"
    deliver(message, "e-2")
    assert rows(runtime) == []
