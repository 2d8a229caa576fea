"""Both phases of a pre-sale order reach analytics: order.deposit_paid is a fact and a count of
its own (once, however often delivered), order.paid comes once the balance is paid."""
from mall.events.v1 import order_events_pb2 as order_events

from servicekit.testing import deliver_in_process
from services.analytics import queries


def test_the_deposit_and_the_full_payment_are_counted_once_each(runtime):
    deposit = order_events.OrderDepositPaid(order_id="o-pre", member_id="m-1", deposit_fen=5000,
                                            balance_fen=19900, status_seq=2)
    first = deliver_in_process("analytics", "order", "order.deposit_paid", deposit)
    deliver_in_process("analytics", "order", "order.deposit_paid", deposit, event_id=first["id"])
    deliver_in_process("analytics", "order", "order.paid", order_events.OrderPaid(
        order_id="o-pre", member_id="m-1", paid_fen=24900, deposit_fen=5000, status_seq=4))
    with runtime.transaction() as session:
        assert queries.count_events(session, "order.deposit_paid") == 1
        assert queries.count_events(session, "order.paid") == 1
