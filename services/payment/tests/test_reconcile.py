"""Reconciliation: a lost notification does not leave a paid order unpaid; refunds that could not
reach the provider are sent again; the worker's timer does it on its own."""
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from mall.payment.v1 import payment_pb2

from servicekit.testing import wait_until
from services.payment import reconcile
from services.payment.models import PaymentIntent, Refund
from services.payment.providers import registry

from .helpers import OPENID, STAFF, intent, outbox, with_key


@pytest.fixture
def pending(stub, orders):
    orders.add("o-1", "m-1", 25900)
    return stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-1", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-1")).intent


def paid_without_notifying(standin, out_trade_no):
    standin.trades[out_trade_no].update(trade_state="SUCCESS", transaction_id="4200000777",
                                        success_time="2026-11-23T20:00:00+08:00")


def test_a_pending_intent_paid_at_wechat_is_settled_by_asking(pending, providers, runtime):
    assert reconcile.run(runtime).checked == 0  # not old enough yet (5 minutes by default)
    paid_without_notifying(providers.wechatpay, pending.out_trade_no)
    report = reconcile.run(runtime, older_than=timedelta(0))
    assert (report.checked, report.settled) == (1, [pending.id])
    assert intent(runtime, pending.id).provider_transaction_id == "4200000777"
    assert len(outbox(runtime, "payment.succeeded")) == 1
    assert reconcile.run(runtime, older_than=timedelta(0)).checked == 0  # nothing pending any more


def test_a_trade_closed_at_wechat_fails_the_intent(pending, providers, runtime):
    providers.wechatpay.trades[pending.out_trade_no]["trade_state"] = "CLOSED"
    reconcile.run(runtime, older_than=timedelta(0))
    assert intent(runtime, pending.id).status == "failed"
    [event] = outbox(runtime, "payment.failed")
    assert event["data"]["reason"] == "CLOSED"


def test_an_intent_still_open_at_wechat_stays_pending_and_is_not_asked_again_at_once(pending, providers, runtime):
    assert reconcile.run(runtime, older_than=timedelta(0)).checked == 1
    assert intent(runtime, pending.id).status == "pending"
    with runtime.transaction() as session:  # checked just now: the next run waits its turn
        assert session.get(PaymentIntent, pending.id).last_checked_at is not None
    assert reconcile.run(runtime, older_than=timedelta(minutes=1)).checked == 0


def test_a_refund_that_could_not_reach_wechat_is_sent_again(pending, providers, runtime, stub, relay, monkeypatch):
    providers.wechatpay.pay(pending.out_trade_no)
    monkeypatch.setenv("MALL_PAYMENT_WECHATPAY_API_BASE", "http://127.0.0.1:9")
    registry.reset()
    try:
        waiting = stub.RefundPayment(payment_pb2.RefundPaymentRequest(
            order_id="o-1", refund_request_id="rr-1", amount_fen=900), metadata=STAFF, timeout=30)
    finally:
        monkeypatch.undo()
        registry.reset()
    assert waiting.status == "requested"
    assert reconcile.resubmit_refunds(runtime, datetime.now(timezone.utc) + timedelta(seconds=1)) == 1

    def status():
        with runtime.transaction() as session:
            return session.get(Refund, waiting.id).status
    wait_until(lambda: status() == "succeeded", message="the refund went through")


def test_the_worker_timer_settles_a_lost_notification(pending, providers, runtime, worker_process):
    paid_without_notifying(providers.wechatpay, pending.out_trade_no)
    worker = worker_process("payment", {"MALL_PAYMENT_RECONCILE_INTERVAL_SECONDS": "0.5",
                                        "MALL_PAYMENT_RECONCILE_AFTER_MINUTES": "0"})
    wait_until(lambda: intent(runtime, pending.id).status == "succeeded", timeout=20,
               message="the timer asked WeChat Pay")
    assert "Traceback" not in worker.log()


def test_staff_can_ask_now(pending, providers, stub):
    paid_without_notifying(providers.wechatpay, pending.out_trade_no)
    with pytest.raises(grpc.RpcError) as err:
        stub.ReconcilePayment(payment_pb2.ReconcilePaymentRequest(order_id="o-1"),
                              metadata=(("x-mall-user-id", "m-1"),))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    answer = stub.ReconcilePayment(payment_pb2.ReconcilePaymentRequest(order_id="o-1"), metadata=STAFF)
    assert answer.status_code == "succeeded"


def test_a_refund_whose_notification_was_lost_is_settled_by_asking(pending, providers, runtime, stub, monkeypatch):
    providers.wechatpay.pay(pending.out_trade_no)
    monkeypatch.setenv("MALL_PAYMENT_NOTIFY_BASE_URL", "http://127.0.0.1:9")  # REFUND.SUCCESS gets lost
    registry.reset()
    try:
        started = stub.RefundPayment(payment_pb2.RefundPaymentRequest(
            order_id="o-1", refund_request_id="rr-lost", amount_fen=900), metadata=STAFF)
        assert started.status == "processing"
        wait_until(lambda: providers.wechatpay.refunds[started.id]["answer"]["status"] == "SUCCESS",
                   message="WeChat finished the refund")
        with runtime.transaction() as session:
            assert session.get(Refund, started.id).status == "processing"
        assert reconcile.check_processing_refunds(runtime, datetime.now(timezone.utc) + timedelta(seconds=1)) == 1
    finally:
        monkeypatch.undo()
        registry.reset()
    with runtime.transaction() as session:
        assert session.get(Refund, started.id).status == "succeeded"
    assert outbox(runtime, "payment.refunded")[0]["data"]["amountFen"] == "900"
