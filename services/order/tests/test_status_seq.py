"""Every order event carries the order's position in its own status history (status_seq), so a
consumer orders an order's events by what happened, not by when they arrive (issue 14)."""
from mall.events.v1 import payment_events_pb2 as payments

from servicekit.testing import outbox_events
from services.order import orders

from .orders_helpers import place, succeeded


def apply(runtime, use_case, *args):
    with runtime.transaction() as session:
        return use_case(session, runtime, *args)


def seqs(runtime, event_type):
    return [int(e["data"].get("statusSeq", 0)) for e in outbox_events(runtime, event_type)]


def test_events_carry_the_position_in_the_status_history(runtime):
    order_id = place(runtime)
    apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415))

    def refunded(refund_id, amount, total, full=False):
        return payments.PaymentRefunded(order_id=order_id, refund_id=refund_id, amount_fen=amount,
                                        refunded_total_fen=total, paid_fen=43415, full=full)

    apply(runtime, orders.on_payment_refunded, refunded("r-1", 5605, 5605))
    apply(runtime, orders.on_payment_refunded, refunded("r-2", 43415 - 5605, 43415, full=True))
    assert seqs(runtime, "order.created") == [1]  # placing → pending_payment
    assert seqs(runtime, "order.paid") == [2]
    assert seqs(runtime, "order.status_changed") == [2, 3]  # paid, refunded
    assert seqs(runtime, "order.refunded") == [2, 3]  # the partial one while paid, then the full one


def test_a_cancellation_carries_its_position(runtime):
    order_id = place(runtime)
    with runtime.transaction() as session:
        orders.cancel(session, runtime, orders.lock(session, order_id), actor="member:m-1",
                      reason="member")
    assert seqs(runtime, "order.cancelled") == [2]


def test_a_refund_heard_before_its_payment_ends_as_in_order(runtime):
    """payment.refunded and payment.succeeded come on two queues: a full refund handled first
    is kept, and the payment then moves the order to paid and on to refunded (it used to be
    refused, pending_payment → refunded, and parked)."""
    order_id = place(runtime)
    refund = payments.PaymentRefunded(order_id=order_id, refund_id="r-1", amount_fen=43415,
                                      refunded_total_fen=43415, paid_fen=43415, full=True)
    assert apply(runtime, orders.on_payment_refunded, refund) is True
    assert apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415)) is True
    with runtime.transaction() as session:
        order = orders.lock(session, order_id, for_update=False)
        assert (order.status, order.paid_fen, order.refunded_fen) == ("refunded", 43415, 43415)
    assert seqs(runtime, "order.status_changed") == [2, 3]  # paid, then refunded
    [refunded] = outbox_events(runtime, "order.refunded")
    assert refunded["data"]["full"] is True and refunded["data"]["paidFen"] == "43415"
