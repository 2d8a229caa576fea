"""Refunds through the real server and the WeChat Pay stand-in: partial, per line, full, never
more than was paid (also when asked concurrently), idempotent by refund request id; and money
that arrives after the order was cancelled goes back by itself."""
import threading

import grpc
import pytest
from mall.payment.v1 import payment_pb2
from sqlalchemy import select

from servicekit.errors import violations_from_trailers
from servicekit.testing import wait_until
from services.payment import intents as intent_cases
from services.payment.models import Refund

from .helpers import OPENID, SHOPPER, STAFF, intent, outbox, with_key


@pytest.fixture
def paid(stub, orders, providers, relay):
    orders.add("o-1", "m-1", 25900)
    pi = stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-1", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-1")).intent
    assert providers.wechatpay.pay(pi.out_trade_no) == 204
    return pi


def refund(stub, request_id, amount=0, lines=(), who=STAFF):
    return stub.RefundPayment(payment_pb2.RefundPaymentRequest(
        order_id="o-1", refund_request_id=request_id, amount_fen=amount, reason="尺码不合适",
        lines=[payment_pb2.RefundLine(**line) for line in lines]), metadata=who)


def refund_status(runtime, refund_id):
    with runtime.transaction() as session:
        return session.get(Refund, refund_id).status


def test_a_partial_per_line_refund_goes_through_wechat_and_its_notification(stub, paid, runtime, relay):
    started = refund(stub, "rr-1", lines=[{"line_id": "l-1", "sku_id": "s-1", "quantity": 1, "amount_fen": 5000},
                                          {"line_id": "l-2", "sku_id": "s-2", "quantity": 2, "amount_fen": 3000}])
    assert (started.amount_fen, started.status) == (8000, "processing")
    wait_until(lambda: refund_status(runtime, started.id) == "succeeded", message="REFUND.SUCCESS applied")
    assert ("wechatpay", 204, "applied") in relay.answers
    after = intent(runtime, paid.id)
    assert (after.status, after.refunded_fen) == ("succeeded", 8000)
    [event] = outbox(runtime, "payment.refunded")
    data = event["data"]
    assert (data["amountFen"], data["refundedTotalFen"], data["paidFen"], data.get("full", False)) == \
        ("8000", "8000", "25900", False)
    assert [(line["lineId"], line["amountFen"]) for line in data["lines"]] == [("l-1", "5000"), ("l-2", "3000")]


def test_a_gifts_value_is_kept_from_the_refund_when_order_says_so(stub, paid, runtime, orders,
                                                                 monkeypatch):
    """Order's GetRefundTerms: the refund takes the order below a gift's threshold and the
    campaign deducts the gift's value; what goes back is the lines less that, last lines first,
    and a retry with the same request id is the same refund."""
    monkeypatch.setitem(orders.gift_deductions, "o-1", 3000)
    lines = [{"line_id": "l-1", "sku_id": "s-1", "quantity": 1, "amount_fen": 5000},
             {"line_id": "l-2", "sku_id": "s-2", "quantity": 1, "amount_fen": 2000}]
    asked_before = len(orders.terms_asked)
    started = refund(stub, "rr-g", 7000, lines=lines)
    assert started.amount_fen == 4000
    assert [(line.amount_fen, line.deducted_fen) for line in started.lines] == [(3999, 1001), (1, 1999)]
    asked = orders.terms_asked[-1]
    assert [(line.line_id, line.quantity, line.amount_fen) for line in asked.lines] == [
        ("l-1", 1, 5000), ("l-2", 1, 2000)]
    assert refund(stub, "rr-g", 7000, lines=lines).id == started.id  # the retry: the same refund
    assert len(orders.terms_asked) == asked_before + 1  # order is not asked again
    wait_until(lambda: refund_status(runtime, started.id) == "succeeded", message="refund applied")
    [event] = outbox(runtime, "payment.refunded")
    assert event["data"]["amountFen"] == "4000"
    assert [(line["amountFen"], line.get("deductedFen", "0")) for line in event["data"]["lines"]] == [
        ("3999", "1001"), ("1", "1999")]


def test_never_more_than_was_paid_and_the_rest_in_full(stub, paid, runtime):
    first = refund(stub, "rr-1", 20000)
    with pytest.raises(grpc.RpcError) as err:
        refund(stub, "rr-2", 6000)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    [violation] = violations_from_trailers(err.value.trailing_metadata())
    assert (violation.field, violation.rule) == ("amount_fen", "max_refundable") and "5900" in violation.description
    rest = refund(stub, "rr-3", 5900)
    wait_until(lambda: {refund_status(runtime, r.id) for r in (first, rest)} == {"succeeded"},
               message="both refunds succeeded")
    assert intent(runtime, paid.id).status == "refunded"
    events = outbox(runtime, "payment.refunded")
    assert [e["data"].get("full", False) for e in events] == [False, True]


def test_the_same_refund_request_id_is_the_same_refund(stub, paid, runtime):
    first = refund(stub, "rr-1", 1000)
    assert refund(stub, "rr-1", 1000).id == first.id
    with pytest.raises(grpc.RpcError) as err:
        refund(stub, "rr-1", 2000)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert violations_from_trailers(err.value.trailing_metadata())[0].field == "refund_request_id"
    with runtime.transaction() as session:
        assert len(session.scalars(select(Refund)).all()) == 1


def test_concurrent_refunds_never_exceed_the_payment(stub, paid, runtime):
    results = []

    def ask(i):
        try:
            results.append(refund(stub, f"rr-{i}", 10000).amount_fen)
        except grpc.RpcError as err:
            results.append(err.code().name)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r for r in results if r == 10000) == [10000, 10000]  # 25900 holds two
    assert results.count("FAILED_PRECONDITION") == 3


@pytest.mark.parametrize("fields,violation", [
    (dict(amount_fen=0), ("amount_fen", "positive")),
    (dict(amount_fen=100, lines=[payment_pb2.RefundLine(line_id="l-1", amount_fen=50)]),
     ("amount_fen", "equals_lines")),
    (dict(lines=[payment_pb2.RefundLine(line_id="", amount_fen=50)]), ("lines[0].line_id", "required")),
    (dict(lines=[payment_pb2.RefundLine(line_id="l", amount_fen=50)] * 2), ("lines[1].line_id", "unique")),
    (dict(refund_request_id="has space", amount_fen=10), ("refund_request_id", "format")),
])
def test_bad_refunds_name_their_field_and_change_nothing(stub, paid, runtime, fields, violation):
    request = {"order_id": "o-1", "refund_request_id": "rr-x", **fields}
    with pytest.raises(grpc.RpcError) as err:
        stub.RefundPayment(payment_pb2.RefundPaymentRequest(**request), metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation in {(v.field, v.rule) for v in violations_from_trailers(err.value.trailing_metadata())}
    with runtime.transaction() as session:
        assert session.scalars(select(Refund)).all() == []


def test_only_staff_refund_and_only_paid_orders(stub, paid, orders):
    for who, code in ((SHOPPER, grpc.StatusCode.PERMISSION_DENIED), ((), grpc.StatusCode.UNAUTHENTICATED)):
        with pytest.raises(grpc.RpcError) as err:
            refund(stub, "rr-1", 100, who=who)
        assert err.value.code() == code
    with pytest.raises(grpc.RpcError) as err:
        stub.RefundPayment(payment_pb2.RefundPaymentRequest(order_id="o-unpaid", refund_request_id="r",
                                                            amount_fen=1), metadata=STAFF)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_payment_after_the_order_was_cancelled_is_refunded_automatically(stub, orders, providers, runtime):
    orders.add("o-1", "m-1", 25900)
    pi = stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-1", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-1")).intent
    with runtime.transaction() as session:  # order.cancelled reached the worker first
        intent_cases.cancel_open_for_order(session, runtime, "o-1")
    assert providers.wechatpay.pay(pi.out_trade_no) == 204  # the shopper had paid anyway
    wait_until(lambda: outbox(runtime, "payment.refunded"), message="the automatic refund")
    [event] = outbox(runtime, "payment.refunded")
    assert (event["data"]["reason"], event["data"]["amountFen"], event["data"]["full"]) == \
        ("paid_after_cancel", "25900", True)
    late = intent(runtime, pi.id)
    assert (late.status, late.refunded_fen) == ("cancelled", 25900) and late.paid_late_at is not None
    assert outbox(runtime, "payment.succeeded") == []  # the order is never marked paid
    assert providers.wechatpay.trades[pi.out_trade_no]["refunded"] == 25900
