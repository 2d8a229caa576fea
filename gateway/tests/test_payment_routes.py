"""Payments through the gateway against the real payment server, its provider stand-ins and a
contract stand-in for order: the shopper pays (the amount is the order's, whatever the body says),
the provider's notification passes through unchanged and is answered in its own form, staff
refund."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from services.payment import testing as payment_testing

from .helpers import bearer, token

SHOPPER = bearer(token(sub="m-1"))
STRANGER = bearer(token(sub="m-2"))
OPERATOR = bearer(token(sub="staff-1", kind="staff", roles=("operator",)))


@pytest.fixture(scope="session")
def order_standin():
    standin = payment_testing.OrderStandin()
    yield standin
    standin.stop()


@pytest.fixture
def world(gateway_with, order_standin, monkeypatch, runtime_for):
    providers = payment_testing.provider_standins()
    gateway = gateway_with("payment")
    monkeypatch.setenv("MALL_ORDER_GRPC_TARGET", f"127.0.0.1:{order_standin.port}")  # read per call
    order_standin.orders.clear()
    order_standin.add("o-1", "m-1", 25900)
    return gateway, providers


def pay_with_wechat(gateway, key="k-1", **extra):
    return gateway.post("/v1/orders/o-1/payments", headers={**SHOPPER, "Idempotency-Key": key},
                        json={"method": "wechat_jsapi", "payer_openid": "o-openid", **extra})


def test_the_shopper_gets_wx_request_payment_and_the_amount_is_the_orders(world):
    gateway, providers = world
    response = pay_with_wechat(gateway, amount_fen=1, amount=1)  # an amount in the body is ignored
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["intent"]["amount_fen"] == 25900 and body["intent"]["status_code"] == "pending"
    assert set(body["wx_request_payment"]) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert body["wx_request_payment"]["package"].startswith("prepay_id=wx")
    out_trade_no = body["intent"]["out_trade_no"]
    assert providers.wechatpay.trades[out_trade_no]["request"]["amount"]["total"] == 25900
    assert pay_with_wechat(gateway).json() == body  # the same key: the same answer


def test_bad_choices_are_400_naming_the_field_and_other_orders_are_404(world):
    gateway, _ = world
    response = gateway.post("/v1/orders/o-1/payments", headers=SHOPPER,
                            json={"method": "alipay", "installments": 24})
    assert response.status_code == 400
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("installments", "one_of")]
    assert gateway.post("/v1/orders/o-1/payments", headers=STRANGER,
                        json={"method": "alipay"}).status_code == 404
    assert gateway.post("/v1/orders/o-1/payments", json={"method": "alipay"}).status_code == 401


def wechat_paid(standin, out_trade_no) -> tuple[bytes, dict]:
    """The shopper paid at WeChat: the notification WeChat would post to the gateway."""
    standin.trades[out_trade_no].update(trade_state="SUCCESS", transaction_id="4200000123",
                                        success_time="2026-11-23T20:00:00+08:00")
    return standin.notification("TRANSACTION.SUCCESS", "transaction", standin._transaction(out_trade_no),
                                "支付成功")


def test_wechat_notifications_pass_through_unchanged_and_are_answered_as_wechat_expects(world):
    gateway, providers = world
    intent = pay_with_wechat(gateway).json()["intent"]
    body, headers = wechat_paid(providers.wechatpay, intent["out_trade_no"])
    tampered = gateway.post("/v1/payments/notify/wechatpay", content=body.replace(b"}}", b"} }"),
                            headers=headers)
    assert tampered.status_code == 401 and tampered.json() == {"code": "FAIL", "message": "失败"}
    accepted = gateway.post("/v1/payments/notify/wechatpay", content=body, headers=headers)
    assert (accepted.status_code, accepted.content) == (204, b"")
    mine = gateway.get("/v1/orders/o-1/payment", headers=SHOPPER).json()
    assert (mine["status_code"], mine["provider_transaction_id"]) == ("succeeded", "4200000123")
    assert gateway.post("/v1/payments/notify/paypal", content=b"{}").status_code == 404


def test_alipay_huabei_and_its_notification_answered_success(world):
    gateway, providers = world
    response = gateway.post("/v1/orders/o-1/payments", headers=SHOPPER,
                            json={"method": "alipay", "installments": 12, "seller_percent": 0})
    assert response.status_code == 201, response.text
    order_string = response.json()["alipay_order_string"]
    standin = providers.alipay
    standin.handle("GET", "/gateway.do", order_string, {}, b"")
    out_trade_no = response.json()["intent"]["out_trade_no"]
    trade = {**standin.trades[out_trade_no], "trade_status": "TRADE_SUCCESS", "trade_no": "2026000111",
             "gmt_payment": "2026-11-23 20:00:00"}
    form = urlencode(standin.notification(trade)).encode()
    answer = gateway.post("/v1/payments/notify/alipay", content=form,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (answer.status_code, answer.text) == (200, "success")
    assert gateway.get("/v1/orders/o-1/payment", headers=SHOPPER).json()["installment_periods"] == 12


def test_alipays_own_huabei_names_are_understood_and_checked_too(world):
    gateway, providers = world
    refused = gateway.post("/v1/orders/o-1/payments", headers=SHOPPER,
                           json={"method": "alipay", "hb_fq_num": "5", "hb_fq_seller_percent": "0"})
    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["installments"]
    response = gateway.post("/v1/orders/o-1/payments", headers=SHOPPER,
                            json={"method": "alipay", "hb_fq_num": "6", "hb_fq_seller_percent": "100"})
    assert response.status_code == 201, response.text
    assert (response.json()["intent"]["installment_periods"],
            response.json()["intent"]["seller_percent"]) == (6, 100)


def test_staff_refund_per_line_and_never_more_than_paid(world):
    gateway, providers = world
    intent = pay_with_wechat(gateway).json()["intent"]
    body, headers = wechat_paid(providers.wechatpay, intent["out_trade_no"])
    assert gateway.post("/v1/payments/notify/wechatpay", content=body, headers=headers).status_code == 204
    refund = {"refund_request_id": "rr-1", "lines": [{"line_id": "l-1", "amount_fen": 9900}], "reason": "不合身"}
    assert gateway.post("/v1/admin/orders/o-1/refunds", headers=SHOPPER, json=refund).status_code == 403
    created = gateway.post("/v1/admin/orders/o-1/refunds", headers=OPERATOR, json=refund)
    assert created.status_code == 201, created.text
    assert created.json()["amount_fen"] == 9900
    too_much = gateway.post("/v1/admin/orders/o-1/refunds", headers=OPERATOR,
                            json={"refund_request_id": "rr-2", "amount_fen": 20000})
    assert too_much.status_code == 409
    assert too_much.json()["errors"][0]["field"] == "amount_fen"
    listed = gateway.get("/v1/admin/orders/o-1/refunds", headers=OPERATOR).json()["refunds"]
    assert [r["refund_request_id"] for r in listed] == ["rr-1"]


def test_a_card_payment_and_staff_asking_the_acquirer_now(world):
    gateway, providers = world
    response = gateway.post("/v1/orders/o-1/payments", headers=SHOPPER, json={"method": "card"})
    assert response.status_code == 201, response.text
    intent = response.json()["intent"]
    assert response.json()["card_client_secret"].startswith(intent["out_trade_no"] + "_secret_")
    providers.card.intents[intent["out_trade_no"]].update(status="succeeded", amount_received=25900)
    assert gateway.post("/v1/admin/orders/o-1/payment/reconcile", headers=SHOPPER).status_code == 403
    asked = gateway.post("/v1/admin/orders/o-1/payment/reconcile", headers=OPERATOR)
    assert asked.status_code == 200 and asked.json()["status_code"] == "succeeded"
    assert gateway.get("/v1/admin/orders/o-1/payment", headers=OPERATOR).json()["amount_fen"] == 25900


def test_payment_methods_price_huabei(world):
    gateway, _ = world
    alipay = gateway.get("/v1/payment-methods", params={"amount_fen": 100000}).json()["methods"][1]
    assert [(i["periods"], i["total_fen"]) for i in alipay["installments"]] == [(3, 102300), (6, 104500), (12, 107500)]
    assert gateway.get("/v1/payment-methods", params={"amount_fen": -1}).status_code == 400
