"""CreatePayment through the real server: the amount from the order, WeChat Pay's prepay at the
stand-in, idempotency keys, superseding, and bad input refused before anything happens."""
import threading

import grpc
import pytest
from mall.payment.v1 import payment_pb2
from sqlalchemy import func, select

from servicekit.errors import violations_from_trailers
from services.payment.models import PaymentIntent
from services.payment.providers import registry
from services.payment.providers import wechatpay_protocol as protocol

from .helpers import OPENID, SHOPPER, intent, outbox, with_key


def wechat(order_id="o-1", **extra):
    return payment_pb2.CreatePaymentRequest(order_id=order_id, method="wechat_jsapi",
                                            payer_openid=OPENID, **extra)


def count_intents(runtime):
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(PaymentIntent))


def test_wechat_prepay_takes_the_amount_from_the_order_and_signs_request_payment(stub, orders, providers,
                                                                                  runtime):
    orders.add("o-1", "m-1", 25900)
    reply = stub.CreatePayment(wechat(), metadata=with_key("k-1"))
    pi = reply.intent
    assert (pi.amount_fen, pi.status_code, pi.method_code) == (25900, "pending", "wechat_jsapi")
    trade = providers.wechatpay.trades[pi.out_trade_no]["request"]
    assert trade["amount"] == {"total": 25900, "currency": "CNY"}
    assert trade["payer"] == {"openid": OPENID} and trade["notify_url"].endswith("/v1/payments/notify/wechatpay")
    params = reply.wechat
    assert params.package == "prepay_id=" + providers.wechatpay.trades[pi.out_trade_no]["prepay_id"]
    assert (params.app_id, params.sign_type) == (providers.wechatpay.keys.appid, "RSA")
    merchant_public = protocol.load_public_key(providers.wechatpay.keys.merchant_public_key)
    message = f"{params.app_id}\n{params.time_stamp}\n{params.nonce_str}\n{params.package}\n"
    assert protocol.verify(merchant_public, message, params.pay_sign)
    assert not protocol.verify(merchant_public, message.replace("prepay_id", "prepay_ix"), params.pay_sign)


def test_the_same_idempotency_key_answers_the_same_intent_and_parameters(stub, orders, providers):
    orders.add("o-1", "m-1", 25900)
    first = stub.CreatePayment(wechat(), metadata=with_key("k-same"))
    prepays = len(providers.wechatpay.requests)
    again = stub.CreatePayment(wechat(), metadata=with_key("k-same"))
    assert again == first
    assert len(providers.wechatpay.requests) == prepays  # WeChat was not asked twice
    with pytest.raises(grpc.RpcError) as err:
        stub.CreatePayment(payment_pb2.CreatePaymentRequest(order_id="o-1", method="alipay"),
                           metadata=with_key("k-same"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert violations_from_trailers(err.value.trailing_metadata())[0].field == "idempotency-key"
    orders.orders["o-1"].status = "paid"  # the shopper paid; the client retries anyway
    assert stub.CreatePayment(wechat(), metadata=with_key("k-same")) == first


def test_another_method_cancels_the_open_intent_and_closes_it_at_wechat(stub, orders, providers, runtime):
    orders.add("o-1", "m-1", 25900)
    first = stub.CreatePayment(wechat(), metadata=with_key("k-a")).intent
    second = stub.CreatePayment(payment_pb2.CreatePaymentRequest(order_id="o-1", method="alipay",
                                                                 installments=3),
                                metadata=with_key("k-b")).intent
    assert second.id != first.id and second.status_code == "pending"
    assert intent(runtime, first.id).status == "cancelled"
    assert providers.wechatpay.trades[first.out_trade_no]["trade_state"] == "CLOSED"
    cancelled = outbox(runtime, "payment.cancelled")
    assert [(e["data"]["paymentIntentId"], e["data"]["reason"]) for e in cancelled] == [(first.id, "superseded")]
    # Choosing the same method again, without a key, hands out the open intent again.
    assert stub.CreatePayment(payment_pb2.CreatePaymentRequest(order_id="o-1", method="alipay",
                                                               installments=3),
                              metadata=SHOPPER).intent.id == second.id


@pytest.mark.parametrize("request_fields,violations", [
    (dict(method="paypal"), {("method", "one_of")}),
    (dict(method="alipay", installments=24), {("installments", "one_of")}),
    (dict(method="alipay", installments=6, seller_percent=50), {("seller_percent", "one_of")}),
    (dict(method="alipay", seller_percent=100), {("seller_percent", "installments_only")}),
    (dict(method="wechat_jsapi", installments=3, payer_openid=OPENID), {("installments", "alipay_only")}),
    (dict(method="wechat_jsapi"), {("payer_openid", "required")}),
    (dict(order_id="", method="card"), {("order_id", "required")}),
])
def test_bad_input_is_refused_with_its_fields_before_the_order_is_asked(stub, orders, runtime,
                                                                        request_fields, violations):
    orders.add("o-1", "m-1", 25900)
    fields = {"order_id": "o-1", **request_fields}
    with pytest.raises(grpc.RpcError) as err:
        stub.CreatePayment(payment_pb2.CreatePaymentRequest(**fields), metadata=with_key("k-bad"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {(v.field, v.rule) for v in violations_from_trailers(err.value.trailing_metadata())} == violations
    assert orders.calls == 0 and count_intents(runtime) == 0


def test_someone_elses_order_a_paid_order_and_no_sign_in_are_refused(stub, orders, runtime):
    orders.add("o-theirs", "m-2", 100)
    orders.add("o-paid", "m-1", 100, status="paid")
    for order_id, metadata, code in (("o-theirs", SHOPPER, grpc.StatusCode.NOT_FOUND),
                                     ("o-missing", SHOPPER, grpc.StatusCode.NOT_FOUND),
                                     ("o-paid", SHOPPER, grpc.StatusCode.FAILED_PRECONDITION),
                                     ("o-paid", (), grpc.StatusCode.UNAUTHENTICATED)):
        with pytest.raises(grpc.RpcError) as err:
            stub.CreatePayment(wechat(order_id), metadata=metadata)
        assert err.value.code() == code, order_id
    assert count_intents(runtime) == 0


@pytest.fixture
def wechat_unreachable(monkeypatch):
    monkeypatch.setenv("MALL_PAYMENT_WECHATPAY_API_BASE", "http://127.0.0.1:9")
    registry.reset()
    yield
    monkeypatch.undo()
    registry.reset()


def test_wechat_unreachable_is_unavailable_and_leaves_nothing_behind(stub, orders, runtime,
                                                                     wechat_unreachable):
    orders.add("o-1", "m-1", 25900)
    with pytest.raises(grpc.RpcError) as err:
        stub.CreatePayment(wechat(), metadata=with_key("k-retry"), timeout=30)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert count_intents(runtime) == 0
    assert outbox(runtime) == []


def test_concurrent_creates_for_one_order_leave_one_open_intent(stub, orders, runtime):
    orders.add("o-1", "m-1", 25900)
    codes = []

    def pay(key):
        try:
            stub.CreatePayment(wechat(), metadata=with_key(key))
            codes.append("ok")
        except grpc.RpcError as err:
            codes.append(err.code().name)

    threads = [threading.Thread(target=pay, args=(f"k-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "ok" in codes and set(codes) <= {"ok", "FAILED_PRECONDITION"}
    with runtime.transaction() as session:
        open_count = session.scalar(select(func.count()).select_from(PaymentIntent)
                                    .where(PaymentIntent.status.in_(("created", "pending"))))
    assert open_count == 1
