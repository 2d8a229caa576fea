"""Alipay with Huabei through the real server and the Alipay stand-in: the signed order string,
notifications verified RSA2 and checked against the intent, answers `success`/`fail`, query and
refund; yuan strings only at this edge."""
import base64
import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import given
from hypothesis import strategies as st
from mall.payment.v1 import payment_pb2

from services.payment import credentials, reconcile
from services.payment.providers.alipay import fen, yuan
from standins.alipay import signing_string

from .helpers import STAFF, intent, log_rows, outbox, with_key


def alipay_request(installments=6, seller_percent=100):
    return payment_pb2.CreatePaymentRequest(order_id="o-1", method="alipay", installments=installments,
                                            seller_percent=seller_percent)


@pytest.fixture
def opened(stub, orders):
    orders.add("o-1", "m-1", 25900)
    return stub.CreatePayment(alipay_request(), metadata=with_key("k-ali"))


def test_the_order_string_is_signed_rsa2_and_carries_huabei(opened, providers):
    params = dict(parse_qsl(opened.alipay_order_string))
    biz = json.loads(params["biz_content"])
    assert (params["method"], params["sign_type"], params["app_id"]) == \
        ("alipay.trade.wap.pay", "RSA2", providers.alipay.keys.app_id)
    assert (biz["total_amount"], biz["out_trade_no"]) == ("259.00", opened.intent.out_trade_no)
    assert biz["extend_params"] == {"hb_fq_num": "6", "hb_fq_seller_percent": "100"}
    assert params["notify_url"].endswith("/v1/payments/notify/alipay")
    app_public = serialization.load_pem_public_key(
        (credentials.key_dir() / "alipay_app_public.pem").read_bytes())
    app_public.verify(base64.b64decode(params["sign"]), signing_string(params, without=("sign",)).encode(),
                      padding.PKCS1v15(), hashes.SHA256())  # raises if it does not verify
    assert (opened.intent.installment_periods, opened.intent.seller_percent) == (6, 100)


def test_paying_through_the_stand_in_marks_the_intent_succeeded(opened, providers, relay, runtime):
    payment = providers.alipay.handle("POST", "/standin/pay", "", {},
                                      json.dumps({"order_string": opened.alipay_order_string}).encode())
    assert json.loads(payment.body) == {"notified": 200}
    assert relay.answers == [("alipay", 200, "applied")]
    paid = intent(runtime, opened.intent.id)
    assert paid.status == "succeeded" and paid.provider_transaction_id.startswith("2026")
    [event] = outbox(runtime, "payment.succeeded")
    assert (event["data"]["method"], event["data"]["installmentPeriods"]) == ("alipay", 6)


def notify(stub, params: dict):
    return stub.HandleNotification(payment_pb2.HandleNotificationRequest(
        provider="alipay", headers={"content-type": "application/x-www-form-urlencoded"},
        raw_body=urlencode(params).encode()))


def test_forged_and_mismatched_notifications_answer_fail_and_change_nothing(opened, providers, stub, runtime):
    standin = providers.alipay
    standin.handle("GET", "/gateway.do", opened.alipay_order_string, {}, b"")  # the shopper opens it
    trade = {**standin.trades[opened.intent.out_trade_no], "trade_status": "TRADE_SUCCESS",
             "trade_no": "2026000000000001", "gmt_payment": "2026-11-23 20:00:00"}
    good = standin.notification(trade)
    cases = [
        ("tampered amount", {**good, "total_amount": "1.00"}, "RSA2 signature does not verify"),
        ("unsigned", {k: v for k, v in good.items() if k != "sign"}, "no sign"),
        ("RSA1", {**good, "sign_type": "RSA"}, "expected RSA2"),
        ("wrong seller", standin.notification(trade, seller_id="2088999999999999"), "seller_id"),
        ("wrong app", standin.notification(trade, app_id="2021999999999999"), "app_id"),
        ("wrong amount", standin.notification(trade, total_amount="1.00"), "paid 100 CNY"),
        ("not an amount", standin.notification(trade, total_amount="2.5900"), "paid -1 CNY"),
    ]
    for name, params, _why in cases:
        answer = notify(stub, params)
        assert (answer.http_status, answer.body, answer.outcome) == (200, b"fail", "refused"), name
    waiting = notify(stub, standin.notification({**trade, "trade_status": "WAIT_BUYER_PAY"}))
    assert (waiting.http_status, waiting.body, waiting.outcome) == (200, b"success", "ignored")
    assert intent(runtime, opened.intent.id).status == "pending"
    assert outbox(runtime, "payment.succeeded") == []
    rows = log_rows(runtime)
    for (name, _params, why), row in zip(cases, rows[:len(cases)], strict=True):
        assert why in row.reason, (name, row.reason)
    finished = notify(stub, standin.notification({**trade, "trade_status": "TRADE_FINISHED"}))
    assert (finished.body, finished.outcome) == (b"success", "applied")


def test_refund_through_alipay_is_synchronous(opened, providers, stub, runtime):
    providers.alipay.handle("POST", "/standin/pay", "", {},
                            json.dumps({"order_string": opened.alipay_order_string}).encode())
    refund = stub.RefundPayment(payment_pb2.RefundPaymentRequest(
        order_id="o-1", refund_request_id="ali-r1", amount_fen=25900, reason="退货"), metadata=STAFF)
    assert refund.status == "succeeded" and refund.provider_refund_id
    assert intent(runtime, opened.intent.id).status == "refunded"
    [event] = outbox(runtime, "payment.refunded")
    assert (event["data"]["amountFen"], event["data"]["full"]) == ("25900", True)
    assert providers.alipay.trades[opened.intent.out_trade_no]["refunds"] == {refund.id: 25900}


def test_a_lost_alipay_notification_is_found_by_alipay_trade_query(opened, providers, runtime):
    standin = providers.alipay
    standin.handle("GET", "/gateway.do", opened.alipay_order_string, {}, b"")
    standin.trades[opened.intent.out_trade_no].update(trade_status="TRADE_SUCCESS", trade_no="2026777",
                                                      gmt_payment="2026-11-23 20:00:00")
    assert reconcile.run(runtime, older_than=timedelta(0)).settled == [opened.intent.id]
    assert intent(runtime, opened.intent.id).provider_transaction_id == "2026777"


def test_huabei_rules_are_the_stand_ins_too(providers):
    """The stand-in refuses what Alipay refuses, so the adapter's validation is not the only guard."""
    assert providers.alipay._order_problem({"total_amount": "1.00", "out_trade_no": "x",
                                            "extend_params": {"hb_fq_num": "24", "hb_fq_seller_percent": "0"}})
    assert providers.alipay._order_problem({"total_amount": "1.00", "out_trade_no": "x",
                                            "extend_params": {"hb_fq_num": "3", "hb_fq_seller_percent": "50"}})


@given(st.integers(min_value=0, max_value=10**13))
def test_yuan_strings_round_trip_every_fen_amount(amount):
    assert fen(yuan(amount)) == amount


@pytest.mark.parametrize("text", ["", "1.234", "-1.00", "1e3", " 1.00", "01.00", "1.", "¥1.00", "NaN"])
def test_anything_but_a_plain_yuan_amount_is_refused(text):
    with pytest.raises(ValueError):
        fen(text)
