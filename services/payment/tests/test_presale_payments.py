"""A pre-sale order paid twice (定金 then 尾款): two payment intents of one order, each collecting
what order's GetPayable says is due now, each announced with its phase; when the balance window
closes unpaid, the deposit is kept or refunded by the merchant's rule, exactly once; a balance
paid after the window closed (its intent cancelled) is refunded in full."""
from mall.events.v1 import order_events_pb2 as order_events
from mall.payment.v1 import payment_pb2
from sqlalchemy import select

from servicekit.testing import deliver_in_process, wait_until
from services.payment import cancellation, intents
from services.payment.models import Refund

from .helpers import OPENID, intent, outbox, with_key

DEPOSIT, BALANCE = 5000, 20900


def pay_phase(stub, orders, providers, phase, amount, key):
    order = orders.orders.get("o-pre") or orders.add("o-pre", "m-1", amount)
    order.phase, order.payable_fen = phase, amount
    pi = stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-pre", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key(key)).intent
    assert (pi.phase, pi.amount_fen) == (phase, amount)
    assert providers.wechatpay.pay(pi.out_trade_no) == 204
    return pi


def refunds(runtime):
    with runtime.transaction() as session:
        return sorted((r.refund_request_id, r.amount_fen) for r in session.scalars(select(Refund)))


def cancelled(kept, event_id):
    message = order_events.OrderCancelled(order_id="o-pre", member_id="m-1", reason="balance_unpaid",
                                          deposit_paid_fen=DEPOSIT, deposit_kept=kept)
    deliver_in_process("payment", "order", "order.cancelled", message, event_id=event_id)


def test_deposit_and_balance_are_two_intents_each_announced_with_its_phase(
        stub, orders, providers, relay, runtime):
    deposit = pay_phase(stub, orders, providers, "deposit", DEPOSIT, "k-dep")
    balance = pay_phase(stub, orders, providers, "balance", BALANCE, "k-bal")
    assert deposit.id != balance.id
    assert intent(runtime, deposit.id).status == intent(runtime, balance.id).status == "succeeded"
    assert [(e["data"]["phase"], e["data"]["amountFen"]) for e in outbox(runtime, "payment.succeeded")] \
        == [("deposit", str(DEPOSIT)), ("balance", str(BALANCE))]


def test_an_unpaid_balance_keeps_the_deposit_when_the_merchant_says_so(
        stub, orders, providers, relay, runtime):
    pay_phase(stub, orders, providers, "deposit", DEPOSIT, "k-dep")
    cancelled(True, "e-1")
    cancelled(True, "e-1")  # redelivered
    cancelled(True, "e-2")  # replayed under a new id
    assert refunds(runtime) == []
    assert outbox(runtime, "payment.refunded") == []


def test_an_unpaid_balance_refunds_the_deposit_once_when_the_merchant_says_so(
        stub, orders, providers, relay, runtime):
    deposit = pay_phase(stub, orders, providers, "deposit", DEPOSIT, "k-dep")
    cancelled(False, "e-1")
    cancelled(False, "e-2")  # replayed under a new id: the refund it wrote is found
    assert refunds(runtime) == [("cancel:o-pre:deposit", DEPOSIT)]
    wait_until(lambda: intent(runtime, deposit.id).status == "refunded", message="deposit refunded")
    (event,) = outbox(runtime, "payment.refunded")
    assert (event["data"]["amountFen"], event["data"]["full"]) == (str(DEPOSIT), True)


def test_a_balance_paid_after_the_window_closed_is_refunded_and_the_kept_deposit_is_not(
        stub, orders, providers, relay, runtime):
    pay_phase(stub, orders, providers, "deposit", DEPOSIT, "k-dep")
    order = orders.orders["o-pre"]
    order.phase, order.payable_fen = "balance", BALANCE
    late = stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-pre", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-bal")).intent
    with runtime.transaction() as session:  # the window closed: what the worker's handler does
        intents.cancel_open_for_order(session, runtime, "o-pre")  # (its close at WeChat was lost)
        assert cancellation.refunds_of_cancelled_order(session, order_events.OrderCancelled(
            order_id="o-pre", reason="balance_unpaid", deposit_kept=True)) == []
    assert intent(runtime, late.id).status == "cancelled"
    assert providers.wechatpay.pay(late.out_trade_no) == 204  # the shopper paid anyway
    wait_until(lambda: intent(runtime, late.id).refunded_fen == BALANCE, message="late balance refunded")
    assert refunds(runtime) == [(f"auto:{late.id}", BALANCE)]
    assert outbox(runtime, "payment.succeeded")[-1]["data"]["phase"] == "deposit"  # no balance success


def test_a_balance_that_succeeded_before_the_cancel_is_refunded_with_the_deposit_kept(
        stub, orders, providers, relay, runtime):
    """The balance succeeded at the provider just as the window closed, and order's timer
    cancelled the order before it heard of it: the balance goes back, the kept deposit stays."""
    pay_phase(stub, orders, providers, "deposit", DEPOSIT, "k-dep")
    balance = pay_phase(stub, orders, providers, "balance", BALANCE, "k-bal")
    cancelled(True, "e-1")
    cancelled(True, "e-1")
    assert refunds(runtime) == [("cancel:o-pre:balance", BALANCE)]
    wait_until(lambda: intent(runtime, balance.id).status == "refunded", message="balance refunded")
