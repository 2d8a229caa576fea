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
