"""Staff cancel a paid order: allowed until a parcel leaves (then 409 naming after-sales), a
second cancel changes nothing, the refund that follows keeps the order cancelled, and the
parcels' stop (cancelled / returning) shows on the order whatever order the events come in."""
import pytest
from mall.events.v1 import logistics_events_pb2 as shipping
from mall.events.v1 import payment_events_pb2 as payments

from servicekit.errors import FailedPrecondition
from servicekit.testing import outbox_events
from services.order import orders, views

from .orders_helpers import place, succeeded
from .test_lifecycle import apply, shipment, status, with_order

PAID = 43415


def paid_order(runtime):
    order_id = place(runtime)
    apply(runtime, orders.on_payment_succeeded, succeeded(order_id, PAID))
    return order_id


def refunded_in_full(order_id):
    return payments.PaymentRefunded(order_id=order_id, refund_id="r-1", amount_fen=PAID,
                                    refunded_total_fen=PAID, paid_fen=PAID, full=True,
                                    reason="order_cancelled")


def shown_shipments(runtime, order_id):
    with runtime.transaction() as session:
        view = views.order_view(session, orders.lock(session, order_id, for_update=False), detail=True)
        return [(s.shipment_id, s.state) for s in view.shipments]


def test_staff_cancel_a_paid_order_once_and_the_refund_keeps_it_cancelled(runtime):
    order_id = paid_order(runtime)
    with_order(runtime, order_id, orders.cancel, actor="staff:s-1", reason="缺货")
    with_order(runtime, order_id, orders.cancel, actor="staff:s-1", reason="again")  # no-op
    [cancelled] = outbox_events(runtime, "order.cancelled")
    assert cancelled["data"]["wasPaid"] is True
    assert apply(runtime, orders.on_payment_refunded, refunded_in_full(order_id)) is True
    assert apply(runtime, orders.on_payment_refunded, refunded_in_full(order_id)) is False
    assert status(runtime, order_id) == "cancelled"
    [refunded] = outbox_events(runtime, "order.refunded")
    assert (refunded["data"]["full"], refunded["data"]["refundedFen"]) == (True, str(PAID))


@pytest.mark.parametrize("picked", [1, 2])
def test_a_parcel_that_left_refuses_the_cancel_naming_after_sales(runtime, picked):
    order_id = paid_order(runtime)
    for n in range(picked):
        apply(runtime, orders.on_shipment_changed,
              shipment(order_id, f"s{n}", shipping.SHIPMENT_PICKED_UP, count=2))
    before = status(runtime, order_id)
    with pytest.raises(FailedPrecondition) as err:
        with_order(runtime, order_id, orders.cancel, actor="staff:s-1", reason="too late")
    assert "after-sales" in str(err.value) and before in str(err.value)
    assert status(runtime, order_id) == before
    assert outbox_events(runtime, "order.cancelled") == []


def test_a_stopped_parcel_stays_stopped_whatever_comes_late(runtime):
    order_id = paid_order(runtime)
    with_order(runtime, order_id, orders.cancel, actor="staff:s-1", reason="缺货")
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "s1", shipping.SHIPMENT_CANCELLED))
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "s1", shipping.SHIPMENT_PICKED_UP))
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "s1", shipping.SHIPMENT_PICKED_UP))
    assert shown_shipments(runtime, order_id) == [("s1", "cancelled")]
    assert status(runtime, order_id) == "cancelled"


def test_a_returning_parcel_reported_before_its_pick_up_is_shown_returning(runtime):
    order_id = paid_order(runtime)
    apply(runtime, orders.on_payment_refunded, refunded_in_full(order_id))
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "s1", shipping.SHIPMENT_RETURNING))
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "s1", shipping.SHIPMENT_IN_TRANSIT))
    assert shown_shipments(runtime, order_id) == [("s1", "returning")]
    assert status(runtime, order_id) == "refunded"
