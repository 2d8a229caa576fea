"""A paid order cancelled by staff: the rest of its payment refunded through the WeChat Pay
stand-in exactly once, also when order.cancelled comes twice or a staff refund came first."""
import pytest
from mall.events.v1 import order_events_pb2 as order_events
from mall.payment.v1 import payment_pb2
from sqlalchemy import select

from servicekit.testing import wait_until
from services.payment import cancellation, refunds
from services.payment.models import Refund

from .helpers import OPENID, STAFF, intent, outbox, with_key

CANCELLED = order_events.OrderCancelled(order_id="o-1", member_id="m-1", reason="缺货",
                                        was_paid=True)


@pytest.fixture
def paid(stub, orders, providers, relay):
    orders.add("o-1", "m-1", 25900)
    pi = stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-1", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-1")).intent
    assert providers.wechatpay.pay(pi.out_trade_no) == 204
    return pi


def react(runtime, cancelled=CANCELLED):
    """What the worker's order.cancelled handler does, in a transaction of its own."""
    with runtime.transaction() as session:
        refund = cancellation.refund_cancelled_order(session, cancelled)
        if refund is not None and refund.status == "requested":
            refund_id = refund.id
            runtime.after_commit(session, lambda: refunds.submit(runtime, refund_id))
        return refund.id if refund is not None else None


def refunds_at_wechat(providers, paid):
    return [r["answer"]["amount"]["refund"] for r in providers.wechatpay.refunds.values()
            if r["answer"]["out_trade_no"] == paid.out_trade_no]


def test_the_whole_payment_is_refunded_once_however_often_the_cancel_arrives(
        runtime, paid, providers):
    first = react(runtime)
    wait_until(lambda: intent(runtime, paid.id).status == "refunded", message="refunded in full")
    assert react(runtime) == first  # a redelivery (or a replay of a parked message)
    assert refunds_at_wechat(providers, paid) == [25900]
    after = intent(runtime, paid.id)
    assert (after.status, after.refunded_fen) == ("refunded", 25900)
    [event] = outbox(runtime, "payment.refunded")
    assert (event["data"]["amountFen"], event["data"]["full"]) == ("25900", True)
    assert event["data"]["reason"].startswith(cancellation.REASON)


def test_a_staff_refund_first_leaves_only_the_rest(stub, runtime, paid, providers):
    stub.RefundPayment(payment_pb2.RefundPaymentRequest(
        order_id="o-1", refund_request_id="rr-1", amount_fen=5900, reason="差价"), metadata=STAFF)
    react(runtime)
    wait_until(lambda: intent(runtime, paid.id).status == "refunded", message="refunded in full")
    assert sorted(refunds_at_wechat(providers, paid)) == [5900, 20000]
    assert intent(runtime, paid.id).refunded_fen == 25900


def test_nothing_left_means_no_refund(stub, runtime, paid, providers):
    stub.RefundPayment(payment_pb2.RefundPaymentRequest(
        order_id="o-1", refund_request_id="rr-1", amount_fen=25900, reason="全额"), metadata=STAFF)
    assert react(runtime) is None
    assert refunds_at_wechat(providers, paid) == [25900]


def test_an_unpaid_cancellation_refunds_nothing(stub, runtime, orders, providers):
    orders.add("o-2", "m-1", 25900)
    stub.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id="o-2", method="wechat_jsapi", payer_openid=OPENID), metadata=with_key("k-2"))
    unpaid = order_events.OrderCancelled(order_id="o-2", member_id="m-1", reason="timeout")
    assert react(runtime, unpaid) is None
    with runtime.transaction() as session:
        assert session.scalars(select(Refund)).all() == []


def test_a_timer_cancellation_that_raced_the_success_refunds_it(runtime, paid, providers):
    """The unpaid-order timer cancelled the order before order heard payment.succeeded (its
    worker was away): the order is not paid, so the money goes back at once."""
    timed_out = order_events.OrderCancelled(order_id="o-1", member_id="m-1", reason="timeout",
                                            was_paid=False)
    first = react(runtime, timed_out)
    assert first is not None
    wait_until(lambda: intent(runtime, paid.id).status == "refunded", message="refunded in full")
    assert react(runtime, timed_out) == first
    assert refunds_at_wechat(providers, paid) == [25900]
    [event] = outbox(runtime, "payment.refunded")
    assert (event["data"]["amountFen"], event["data"]["full"]) == ("25900", True)


def test_a_rolled_back_handler_sends_nothing(runtime, paid, providers):
    with pytest.raises(RuntimeError):
        with runtime.transaction() as session:
            refund = cancellation.refund_cancelled_order(session, CANCELLED)
            runtime.after_commit(session, lambda: refunds.submit(runtime, refund.id))
            raise RuntimeError("the handler failed after writing the refund")
    with runtime.transaction() as session:
        assert session.scalars(select(Refund)).all() == []
    assert refunds_at_wechat(providers, paid) == []
