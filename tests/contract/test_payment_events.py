"""What payment promises its consumers (order, member, support, analytics): the payment.* events
it publishes, envelope and proto (protos/mall/events/v1/payment_events.proto), and that its worker
accepts order.cancelled as order publishes it."""
from __future__ import annotations

import pytest
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import payment_events_pb2 as ev
from mall.events.v1 import support_events_pb2 as support
from mall.payment.v1 import payment_pb2 as pb

from servicekit.testing import outbox_events, wait_until
from tests.contract.support_b import (
    OPENID,
    assert_relayed,
    deliver,
    paid_with_alipay,
    parked,
    published,
    running_worker,
    staff,
    with_key,
)

AGENT = staff("cs_agent")


@pytest.fixture
def payment(runtime_for):
    return runtime_for("payment")


@pytest.fixture(scope="module")
def worker(payment_world):
    with running_worker("payment") as running:
        yield running


def intent_of(stub, order_id: str) -> pb.PaymentIntent:
    return stub.GetPaymentIntent(pb.GetPaymentIntentRequest(order_id=order_id), metadata=AGENT)


def test_payment_succeeded_and_refunded_carry_what_order_and_member_need(
        payment, payment_stub, payment_orders, payment_providers):
    paid = paid_with_alipay(payment_stub, payment_orders, payment_providers, amount=41800)
    [succeeded] = published(payment, "payment.succeeded", ev.PaymentSucceeded)
    assert (succeeded.payment_intent_id, succeeded.order_id, succeeded.member_id) == (paid.id, "o-1", "m-1")
    assert (succeeded.amount_fen, succeeded.currency, succeeded.method) == (41800, "CNY", "alipay")
    assert succeeded.provider_transaction_id == paid.provider_transaction_id
    assert succeeded.succeeded_at.endswith(("Z", "+00:00")) and succeeded.paid_at

    payment_stub.RefundPayment(pb.RefundPaymentRequest(
        order_id="o-1", refund_request_id="as-1", amount_fen=21900, reason="size",
        lines=[pb.RefundLine(line_id="l-1", sku_id="sku-1", quantity=1, amount_fen=21900)]),
        metadata=AGENT)
    last = payment_stub.RefundPayment(pb.RefundPaymentRequest(
        order_id="o-1", refund_request_id="as-2", amount_fen=19900), metadata=AGENT)
    partly, fully = published(payment, "payment.refunded", ev.PaymentRefunded)
    assert (partly.amount_fen, partly.refunded_total_fen, partly.paid_fen, partly.full) == (
        21900, 21900, 41800, False)
    assert [(line.line_id, line.sku_id, line.quantity, line.amount_fen) for line in partly.lines] == [
        ("l-1", "sku-1", 1, 21900)]
    assert (partly.refund_request_id, partly.reason, partly.method) == ("as-1", "size", "alipay")
    assert (fully.refund_id, fully.amount_fen, fully.refunded_total_fen, fully.full) == (
        last.id, 19900, 41800, True)
    assert fully.member_id == "m-1" and fully.refunded_at and fully.provider_refund_id


def test_payment_cancelled_when_the_shopper_switches_method_and_failed_when_the_trade_closed(
        payment, payment_stub, payment_orders, payment_providers):
    payment_orders.add("o-1", "m-1", 25900)
    first = payment_stub.CreatePayment(pb.CreatePaymentRequest(
        order_id="o-1", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-1")).intent
    payment_stub.CreatePayment(pb.CreatePaymentRequest(order_id="o-1", method="card"),
                               metadata=with_key("k-2"))
    [cancelled] = published(payment, "payment.cancelled", ev.PaymentCancelled)
    assert (cancelled.payment_intent_id, cancelled.order_id, cancelled.member_id) == (first.id, "o-1", "m-1")
    assert (cancelled.amount_fen, cancelled.method, cancelled.reason) == (25900, "wechat_jsapi", "superseded")

    payment_orders.add("o-2", "m-1", 5000)
    opened = payment_stub.CreatePayment(pb.CreatePaymentRequest(
        order_id="o-2", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-4")).intent
    payment_providers.wechatpay.trades[opened.out_trade_no]["trade_state"] = "CLOSED"
    assert payment_stub.ReconcilePayment(pb.ReconcilePaymentRequest(order_id="o-2"),
                                         metadata=AGENT).status == pb.FAILED
    [failed] = published(payment, "payment.failed", ev.PaymentFailed)
    assert (failed.payment_intent_id, failed.order_id, failed.amount_fen, failed.reason) == (
        opened.id, "o-2", 5000, "CLOSED")
    assert failed.method == "wechat_jsapi" and failed.failed_at


def test_the_relay_puts_payment_succeeded_on_rabbitmq_as_consumers_read_it(
        payment, payment_stub, payment_orders, payment_providers, relay_for, listen_for):
    succeeded = listen_for("payment", "payment.succeeded")
    paid = paid_with_alipay(payment_stub, payment_orders, payment_providers)
    relay_for("payment")
    envelope = assert_relayed(succeeded.next(), "payment", "payment.succeeded")
    assert envelope["data"]["paymentIntentId"] == paid.id
    assert envelope["data"]["amountFen"] == "25900"  # int64 as proto3 JSON: a string of fen


def test_the_worker_closes_the_open_intent_of_a_cancelled_order_once(
        payment, worker, payment_stub, payment_orders):
    payment_orders.add("o-1", "m-1", 19900)
    opened = payment_stub.CreatePayment(pb.CreatePaymentRequest(order_id="o-1", method="card"),
                                        metadata=with_key("k-1")).intent
    cancelled = order_events.OrderCancelled(order_id="o-1", order_no="N-1", member_id="m-1",
                                            reason="timeout")
    first = deliver(payment, "order", "order.cancelled", cancelled)
    deliver(payment, "order", "order.cancelled", cancelled)  # the same fact under another id
    intent = intent_of(payment_stub, "o-1")
    assert (intent.id, intent.status, intent.status_code) == (opened.id, pb.CANCELLED, "cancelled")
    [announced] = published(payment, "payment.cancelled", ev.PaymentCancelled)
    assert (announced.payment_intent_id, announced.reason) == (opened.id, "order_cancelled")
    deliver(payment, "order", "order.cancelled", cancelled, event_id=first["id"])  # a redelivery
    assert len(outbox_events(payment, "payment.cancelled")) == 1
    # An order without a payment is nothing to close, and no error.
    never_paid = deliver(payment, "order", "order.cancelled", order_events.OrderCancelled(
        order_id="o-never-paid", member_id="m-1", reason="member"))
    assert parked("payment", never_paid["id"]) == []
    assert len(outbox_events(payment, "payment.cancelled")) == 1


def test_the_worker_refunds_an_after_sale_request_once_through_the_provider(
        payment, worker, payment_stub, payment_orders, payment_providers):
    """support's aftersale.refund_requested as support publishes it: refunded once through Alipay
    (the original method) per line, announced as payment.refunded with its refund_request_id."""
    paid = paid_with_alipay(payment_stub, payment_orders, payment_providers, amount=41800)
    asked = support.AfterSaleRefundRequested(
        request_id="as-1", order_id="o-1", member_id="m-1", refund_request_id="aftersale:as-1",
        amount_fen=21900, reason="退货退款", requested_by="auto",
        lines=[support.AfterSaleLine(line_id="l-1", sku_id="sku-1", product_id="p-1", quantity=1,
                                     refund_fen=21900, size="75B")])
    first = deliver(payment, "support", "aftersale.refund_requested", asked)
    deliver(payment, "support", "aftersale.refund_requested", asked)   # the same request, new id
    deliver(payment, "support", "aftersale.refund_requested", asked, event_id=first["id"])
    # sent to Alipay once the handler committed
    wait_until(lambda: published(payment, "payment.refunded", ev.PaymentRefunded), timeout=15,
               message="payment.refunded of the after-sale refund")
    [refunded] = published(payment, "payment.refunded", ev.PaymentRefunded)
    assert (refunded.refund_request_id, refunded.amount_fen, refunded.full, refunded.method) == \
        ("aftersale:as-1", 21900, False, "alipay")
    assert [(x.line_id, x.quantity, x.amount_fen) for x in refunded.lines] == [("l-1", 1, 21900)]
    assert list(payment_providers.alipay.trades[paid.out_trade_no]["refunds"].values()) == [21900]
    # more than is left: refused, nothing sent, no event
    too_much = deliver(payment, "support", "aftersale.refund_requested", support.AfterSaleRefundRequested(
        request_id="as-2", order_id="o-1", member_id="m-1", refund_request_id="aftersale:as-2",
        amount_fen=30000, lines=[support.AfterSaleLine(line_id="l-2", quantity=1, refund_fen=30000)]))
    assert parked("payment", too_much["id"]) == []
    assert len(published(payment, "payment.refunded", ev.PaymentRefunded)) == 1
    assert list(payment_providers.alipay.trades[paid.out_trade_no]["refunds"].values()) == [21900]
