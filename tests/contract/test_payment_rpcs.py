"""What payment promises its callers (the gateway, after-sales): every RPC of PaymentService
through its real gRPC server, against the provider stand-ins and a stand-in of the one call it
makes (OrderService.GetPayable), with its status codes and field violations."""
from __future__ import annotations

from urllib.parse import urlencode

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.payment.v1 import payment_pb2 as pb

from tests.contract.support_b import (
    OPENID,
    OTHER_SHOPPER,
    SHOPPER,
    assert_refused_to_strangers,
    paid_with_alipay,
    refused,
    staff,
    violations,
    with_key,
)

AGENT = staff("cs_agent")


# Short names for support_b's fixtures in this module.
@pytest.fixture
def stub(payment_stub):
    return payment_stub


@pytest.fixture
def orders(payment_orders):
    return payment_orders


@pytest.fixture
def providers(payment_providers):
    return payment_providers


def test_list_payment_methods_prices_installments_and_refuses_a_negative_amount(stub):
    reply = stub.ListPaymentMethods(pb.ListPaymentMethodsRequest(amount_fen=100000))
    assert [(m.code, m.method) for m in reply.methods] == [
        ("wechat_jsapi", pb.WECHAT_JSAPI), ("alipay", pb.ALIPAY), ("card", pb.CARD)]
    huabei = reply.methods[1].installments
    assert [(i.periods, i.fee_fen, i.total_fen) for i in huabei] == [
        (3, 2300, 102300), (6, 4500, 104500), (12, 7500, 107500)]
    assert all(i.per_period_fen * (i.periods - 1) < i.total_fen for i in huabei)
    assert stub.ListPaymentMethods(pb.ListPaymentMethodsRequest()).methods[1].installments[0].total_fen == 0
    err = refused(stub.ListPaymentMethods, pb.ListPaymentMethodsRequest(amount_fen=-1))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == {("amount_fen", "non_negative")}


def test_create_payment_takes_the_amount_from_the_order_and_a_retry_answers_the_same(stub, orders):
    orders.add("o-1", "m-1", 25900)
    request = pb.CreatePaymentRequest(order_id="o-1", method="wechat_jsapi", payer_openid=OPENID)
    first = stub.CreatePayment(request, metadata=with_key("k-1"))
    intent = first.intent
    assert (intent.order_id, intent.member_id, intent.amount_fen, intent.currency) == (
        "o-1", "m-1", 25900, "CNY")
    assert (intent.method, intent.method_code, intent.status, intent.status_code) == (
        pb.WECHAT_JSAPI, "wechat_jsapi", pb.PENDING, "pending")
    assert first.wechat.package.startswith("prepay_id=") and first.wechat.sign_type == "RSA"
    assert first.wechat.app_id and first.wechat.pay_sign and intent.out_trade_no
    again = stub.CreatePayment(request, metadata=with_key("k-1"))
    assert (again.intent.id, again.wechat.package) == (intent.id, first.wechat.package)
    err = refused(stub.CreatePayment, pb.CreatePaymentRequest(order_id="o-1", method="card"),
                  metadata=with_key("k-1"))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION  # the key names another request
    assert {f for f, _ in violations(err)} == {"idempotency-key"}

    card = stub.CreatePayment(pb.CreatePaymentRequest(order_id="o-1", method="card"),
                              metadata=with_key("k-2"))
    assert card.card_client_secret and card.intent.id != intent.id  # the WeChat intent is superseded
    alipay = stub.CreatePayment(pb.CreatePaymentRequest(
        order_id="o-1", method="alipay", installments=6, seller_percent=100), metadata=with_key("k-3"))
    assert "hb_fq_num" in alipay.alipay_order_string and alipay.intent.installment_periods == 6


@pytest.mark.parametrize("fields,expected", [
    (dict(method="paypal"), {("method", "one_of")}),
    (dict(method="alipay", installments=24), {("installments", "one_of")}),
    (dict(method="wechat_jsapi"), {("payer_openid", "required")}),
    (dict(order_id="", method="card", seller_percent=100),
     {("order_id", "required"), ("seller_percent", "installments_only")}),
])
def test_create_payment_names_every_bad_field_before_asking_the_order(stub, orders, fields, expected):
    orders.add("o-1", "m-1", 25900)
    err = refused(stub.CreatePayment, pb.CreatePaymentRequest(**{"order_id": "o-1", **fields}),
                  metadata=with_key("k-bad"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and violations(err) == expected
    assert orders.calls == 0


def test_create_payment_for_an_order_that_is_not_the_callers_or_not_payable(stub, orders):
    orders.add("o-theirs", "m-2", 100)
    orders.add("o-paid", "m-1", 100, status="paid")
    for order_id, metadata, code in (("o-theirs", SHOPPER, grpc.StatusCode.NOT_FOUND),
                                     ("o-missing", SHOPPER, grpc.StatusCode.NOT_FOUND),
                                     ("o-paid", SHOPPER, grpc.StatusCode.FAILED_PRECONDITION),
                                     ("o-paid", (), grpc.StatusCode.UNAUTHENTICATED)):
        err = refused(stub.CreatePayment, pb.CreatePaymentRequest(order_id=order_id, method="card"),
                      metadata=metadata)
        assert err.code() == code, order_id


def test_get_payment_intent_for_its_owner_and_staff_only(stub, orders):
    orders.add("o-1", "m-1", 5000)
    created = stub.CreatePayment(pb.CreatePaymentRequest(order_id="o-1", method="card"),
                                 metadata=with_key("k-1")).intent
    request = pb.GetPaymentIntentRequest(order_id="o-1")
    mine = stub.GetPaymentIntent(request, metadata=SHOPPER)
    assert (mine.id, mine.amount_fen, mine.status) == (created.id, 5000, pb.PENDING)
    assert mine.created_at.seconds > 0 and not mine.HasField("succeeded_at")
    assert stub.GetPaymentIntent(request, metadata=AGENT).id == created.id
    # another shopper learns nothing, not even that the order has a payment
    assert refused(stub.GetPaymentIntent, request, metadata=OTHER_SHOPPER).code() == grpc.StatusCode.NOT_FOUND
    assert refused(stub.GetPaymentIntent, request).code() == grpc.StatusCode.UNAUTHENTICATED
    assert refused(stub.GetPaymentIntent, pb.GetPaymentIntentRequest(order_id="o-none"),
                   metadata=SHOPPER).code() == grpc.StatusCode.NOT_FOUND
    err = refused(stub.GetPaymentIntent, pb.GetPaymentIntentRequest(), metadata=SHOPPER)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and violations(err) == {("order_id", "required")}


def test_handle_notification_applies_a_genuine_payment_once_and_refuses_a_forgery(
        stub, orders, providers, payment_relay):
    paid = paid_with_alipay(stub, orders, providers)
    assert payment_relay.answers == [("alipay", 200, "applied")]  # the stand-in's notification, via the gateway's path
    assert (paid.status, paid.status_code) == (pb.SUCCEEDED, "succeeded")
    assert paid.provider_transaction_id and paid.HasField("succeeded_at")

    trade = providers.alipay.trades[paid.out_trade_no]
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    again = stub.HandleNotification(pb.HandleNotificationRequest(
        provider="alipay", headers=form, raw_body=urlencode(providers.alipay.notification(trade)).encode()))
    assert (again.http_status, again.body, again.outcome) == (200, b"success", "duplicate")

    tampered = {**providers.alipay.notification(trade), "total_amount": "0.01"}
    forged = stub.HandleNotification(pb.HandleNotificationRequest(
        provider="alipay", headers=form, raw_body=urlencode(tampered).encode()))
    assert (forged.body, forged.outcome) == (b"fail", "refused")
    unsigned = stub.HandleNotification(pb.HandleNotificationRequest(
        provider="wechatpay", headers={"Content-Type": "application/json"}, raw_body=b"{}"))
    assert unsigned.http_status in (400, 401) and unsigned.outcome == "refused"
    assert unsigned.content_type.startswith("application/json")
    unknown = refused(stub.HandleNotification,
                      pb.HandleNotificationRequest(provider="paypal", raw_body=b"x"))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND and ("provider", "known") in violations(unknown)
    assert stub.GetPaymentIntent(pb.GetPaymentIntentRequest(order_id="o-1"),
                                 metadata=SHOPPER).provider_transaction_id == paid.provider_transaction_id


def test_refunds_are_staff_only_idempotent_and_never_more_than_was_paid(stub, orders, providers):
    paid_with_alipay(stub, orders, providers, amount=41800)
    partial = stub.RefundPayment(pb.RefundPaymentRequest(
        order_id="o-1", refund_request_id="as-1", amount_fen=21900, reason="退一件",
        lines=[pb.RefundLine(line_id="l-1", sku_id="sku-1", quantity=1, amount_fen=21900)]),
        metadata=AGENT)
    assert (partial.status, partial.amount_fen, partial.refund_request_id) == ("succeeded", 21900, "as-1")
    assert [line.line_id for line in partial.lines] == ["l-1"] and partial.provider_refund_id
    retried = stub.RefundPayment(pb.RefundPaymentRequest(
        order_id="o-1", refund_request_id="as-1", amount_fen=21900, reason="退一件",
        lines=[pb.RefundLine(line_id="l-1", sku_id="sku-1", quantity=1, amount_fen=21900)]),
        metadata=AGENT)
    assert retried.id == partial.id

    err = refused(stub.RefundPayment, pb.RefundPaymentRequest(
        order_id="o-1", refund_request_id="as-2", amount_fen=20000), metadata=AGENT)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION  # 19,900 is left
    assert {f for f, _ in violations(err)} == {"amount_fen"}
    err = refused(stub.RefundPayment, pb.RefundPaymentRequest(
        order_id="o-1", refund_request_id="as-3", amount_fen=0), metadata=AGENT)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and ("amount_fen", "positive") in violations(err)
    err = refused(stub.RefundPayment, pb.RefundPaymentRequest(
        order_id="o-unpaid", refund_request_id="as-4", amount_fen=1), metadata=AGENT)
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert_refused_to_strangers(stub.RefundPayment, pb.RefundPaymentRequest(
        order_id="o-1", refund_request_id="as-5", amount_fen=1), allowed_roles=("cs_agent", "operator"))

    rest = stub.RefundPayment(pb.RefundPaymentRequest(
        order_id="o-1", refund_request_id="as-6", amount_fen=19900), metadata=staff("operator"))
    listed = stub.ListRefunds(pb.ListRefundsRequest(order_id="o-1"), metadata=AGENT).refunds
    assert [r.id for r in listed] == [rest.id, partial.id]  # newest first
    assert all(r.created_at.seconds and r.order_id == "o-1" for r in listed)
    assert_refused_to_strangers(stub.ListRefunds, pb.ListRefundsRequest(order_id="o-1"),
                                allowed_roles=("cs_agent", "operator"))
    intent = stub.GetPaymentIntent(pb.GetPaymentIntentRequest(order_id="o-1"), metadata=SHOPPER)
    assert (intent.status, intent.refunded_fen) == (pb.REFUNDED, 41800) and intent.HasField("closed_at")


def test_a_shopper_exports_her_own_payments_and_refunds(stub, orders, providers):
    paid_with_alipay(stub, orders, providers, amount=41800)
    refund = stub.RefundPayment(pb.RefundPaymentRequest(
        order_id="o-1", refund_request_id="as-1", amount_fen=1000, reason="差价"), metadata=AGENT)
    request = common_pb2.ExportMemberDataRequest(member_id="m-1")
    exported = stub.ExportMemberData(request, metadata=SHOPPER)
    assert [(p.order_id, p.amount_fen) for p in exported.payments] == [("o-1", 41800)]
    assert [r.id for r in exported.refunds] == [refund.id]
    assert stub.ExportMemberData(request, metadata=staff("admin")) == exported
    for stranger in (OTHER_SHOPPER, AGENT):
        assert refused(stub.ExportMemberData, request,
                       metadata=stranger).code() == grpc.StatusCode.PERMISSION_DENIED


def test_reconcile_payment_asks_the_provider_about_a_lost_notification(stub, orders, providers):
    orders.add("o-1", "m-1", 25900)
    pending = stub.CreatePayment(pb.CreatePaymentRequest(
        order_id="o-1", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-1")).intent
    still = stub.ReconcilePayment(pb.ReconcilePaymentRequest(order_id="o-1"), metadata=AGENT)
    assert (still.id, still.status) == (pending.id, pb.PENDING)  # not paid at WeChat yet
    # the shopper paid at WeChat, whose notification never arrived
    providers.wechatpay.trades[pending.out_trade_no].update(
        trade_state="SUCCESS", transaction_id="4200000888", success_time="2026-11-23T20:00:00+08:00")
    settled = stub.ReconcilePayment(pb.ReconcilePaymentRequest(order_id="o-1"), metadata=AGENT)
    assert (settled.status, settled.provider_transaction_id) == (pb.SUCCEEDED, "4200000888")
    assert refused(stub.ReconcilePayment, pb.ReconcilePaymentRequest(order_id="o-none"),
                   metadata=AGENT).code() == grpc.StatusCode.NOT_FOUND
    assert_refused_to_strangers(stub.ReconcilePayment, pb.ReconcilePaymentRequest(order_id="o-1"),
                                allowed_roles=("cs_agent", "operator"))
