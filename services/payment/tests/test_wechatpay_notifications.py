"""WeChat Pay notifications: the stand-in notifies as WeChat does (through a relay doing the
gateway's job); every forged, stale, replayed or mismatched one is refused or ignored, never
marks the intent succeeded, and is logged with why."""
import json
import time
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mall.payment.v1 import payment_pb2

from standins.wechatpay import WechatPayStandin

from .helpers import OPENID, intent, log_rows, outbox, with_key

FAIL = {"code": "FAIL", "message": "失败"}


@pytest.fixture
def pending(stub, orders):
    orders.add("o-1", "m-1", 25900)
    return stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-1", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-1")).intent


def notify(stub, body: bytes, headers: dict):
    return stub.HandleNotification(payment_pb2.HandleNotificationRequest(
        provider="wechatpay", headers=headers, raw_body=body))


def transaction(standin, out_trade_no, **changes):
    trade = standin.trades[out_trade_no]
    trade.update(trade_state="SUCCESS", transaction_id="4200000001", success_time="2026-11-23T20:00:00+08:00")
    data = standin._transaction(out_trade_no)
    for key, value in changes.items():
        data[key] = value
    return data


def test_the_stand_in_pays_and_the_notification_marks_the_intent_succeeded(pending, providers, relay, runtime):
    assert providers.wechatpay.pay(pending.out_trade_no) == 204
    assert relay.answers == [("wechatpay", 204, "applied")]
    paid = intent(runtime, pending.id)
    assert paid.status == "succeeded" and paid.provider_transaction_id.startswith("42")
    [event] = outbox(runtime, "payment.succeeded")
    assert event["data"] == {
        "paymentIntentId": pending.id, "orderId": "o-1", "memberId": "m-1", "amountFen": "25900",
        "currency": "CNY", "method": "wechat_jsapi", "providerTransactionId": paid.provider_transaction_id,
        "installmentPeriods": 0, "succeededAt": event["data"]["succeededAt"], "paidAt": event["data"]["paidAt"],
        "phase": "full"}
    paid_at = datetime.fromisoformat(event["data"]["paidAt"].replace("Z", "+00:00"))
    assert abs((paid_at - datetime.now(timezone.utc)).total_seconds()) < 60  # WeChat's success_time
    [entry] = log_rows(runtime)
    assert (entry.verified, entry.outcome, entry.kind, entry.payment_intent_id) == \
        (True, "applied", "TRANSACTION.SUCCESS", pending.id)


def test_a_replayed_notification_within_the_window_changes_nothing_twice(pending, providers, stub, runtime):
    body, headers = providers.wechatpay.notification(
        "TRANSACTION.SUCCESS", "transaction", transaction(providers.wechatpay, pending.out_trade_no), "支付成功")
    first, again = notify(stub, body, headers), notify(stub, body, headers)
    assert (first.http_status, first.outcome) == (204, "applied")
    assert (again.http_status, again.outcome) == (204, "duplicate")
    assert len(outbox(runtime, "payment.succeeded")) == 1


def _other_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def forgeries(standin: WechatPayStandin, out_trade_no: str):
    """(name, body, headers, reason fragment): each a way a notification must not pass."""
    good = transaction(standin, out_trade_no)
    body, headers = standin.notification("TRANSACTION.SUCCESS", "transaction", good, "支付成功")
    tampered = body.replace(b'"summary":"', b'"summary":"X')
    yield "tampered", tampered, headers, "signature does not verify"
    yield "stale", *standin.notification("TRANSACTION.SUCCESS", "transaction", good, "支付成功",
                                         timestamp=int(time.time()) - 600), "window"
    yield "future", *standin.notification("TRANSACTION.SUCCESS", "transaction", good, "支付成功",
                                          timestamp=int(time.time()) + 600), "window"
    yield "unknown serial", body, {**headers, "Wechatpay-Serial": "PUB_KEY_ID_0000"}, "unknown Wechatpay-Serial"
    yield "no signature", body, {k: v for k, v in headers.items() if k != "Wechatpay-Signature"}, "signature"
    impostor = WechatPayStandin(type(standin.keys)(**{**standin.keys.__dict__,
                                                     "platform_private_key": _other_key_pem()}))
    yield "signed by another key", *impostor.notification("TRANSACTION.SUCCESS", "transaction", good, "支付成功"), \
        "signature does not verify"
    wrong_apiv3 = WechatPayStandin(type(standin.keys)(**{**standin.keys.__dict__, "apiv3_key": "0" * 32}))
    yield "other APIv3 key", *wrong_apiv3.notification("TRANSACTION.SUCCESS", "transaction", good, "支付成功"), \
        "does not decrypt"
    yield "wrong amount", *standin.notification(
        "TRANSACTION.SUCCESS", "transaction", {**good, "amount": {"total": 1, "currency": "CNY"}}, "支付成功"), \
        "paid 1 CNY"
    yield "wrong currency", *standin.notification(
        "TRANSACTION.SUCCESS", "transaction", {**good, "amount": {"total": 25900, "currency": "USD"}}, "支付成功"), \
        "25900 USD"
    yield "wrong merchant", *standin.notification(
        "TRANSACTION.SUCCESS", "transaction", {**good, "mchid": "1230000109"}, "支付成功"), "merchant"
    yield "wrong appid", *standin.notification(
        "TRANSACTION.SUCCESS", "transaction", {**good, "appid": "wx-other"}, "appid"), "appid"


def test_forged_stale_and_mismatched_notifications_never_mark_the_intent_paid(pending, providers, stub, runtime):
    cases = list(forgeries(providers.wechatpay, pending.out_trade_no))
    for name, body, headers, _why in cases:
        answer = notify(stub, body, headers)
        assert answer.http_status >= 400 and json.loads(answer.body) == FAIL, name
        assert answer.outcome == "refused", name
    assert intent(runtime, pending.id).status == "pending"
    assert outbox(runtime, "payment.succeeded") == []
    rows = log_rows(runtime)
    assert len(rows) == len(cases)
    for (name, _body, _headers, why), row in zip(cases, rows, strict=True):
        assert row.outcome == "refused" and why in row.reason, (name, row.reason)
    # Signed by WeChat's platform key, but not for us or not as expected: verified, still refused.
    assert [row.verified for row in rows] == [False] * 6 + [True] * 5


def test_a_genuine_notification_for_an_unknown_trade_is_acknowledged_and_ignored(providers, stub, runtime, orders):
    standin = providers.wechatpay
    standin.trades["nope"] = {"request": {"appid": standin.keys.appid, "mchid": standin.keys.mchid,
                                          "payer": {"openid": OPENID}, "amount": {"total": 5}},
                              "trade_state": "SUCCESS", "transaction_id": "4299", "success_time": ""}
    answer = notify(stub, *standin.notification("TRANSACTION.SUCCESS", "transaction",
                                                 standin._transaction("nope"), "支付成功"))
    assert (answer.http_status, answer.outcome) == (204, "ignored")
    assert log_rows(runtime)[-1].reason.startswith("no payment intent")


def test_an_unknown_provider_is_refused():
    """No provider to answer in the format of: NOT_FOUND naming the provider (the gateway's
    404 problem body)."""
    from servicekit.errors import NotFound
    from services.payment import notifications
    with pytest.raises(NotFound) as refused:
        notifications.handle(None, "paypal", {}, b"{}")
    assert [v.field for v in refused.value.violations] == ["provider"]


def test_a_notification_that_cannot_be_applied_is_answered_500_logged_and_retried_later(
        pending, providers, stub, runtime, monkeypatch):
    from services.payment import settlement

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(settlement, "apply_trade", broken)
    body, headers = providers.wechatpay.notification(
        "TRANSACTION.SUCCESS", "transaction", transaction(providers.wechatpay, pending.out_trade_no), "支付成功")
    answer = notify(stub, body, headers)
    assert (answer.http_status, json.loads(answer.body), answer.outcome) == (500, FAIL, "error")
    [row] = log_rows(runtime)
    assert (row.verified, row.outcome) == (True, "error") and "database went away" in row.reason
    monkeypatch.undo()
    assert notify(stub, body, headers).outcome == "applied"  # WeChat's resend succeeds
    assert intent(runtime, pending.id).status == "succeeded"
