"""An order's life after placing: paid, shipped, delivered, completed, cancelled, refunded —
each transition recorded with who and why, each announced once, late and repeated events harmless."""
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from mall.events.v1 import logistics_events_pb2 as shipping
from mall.events.v1 import order_events_pb2 as events
from mall.events.v1 import payment_events_pb2 as payments
from sqlalchemy import select, text

from servicekit.errors import FailedPrecondition, NotFound
from servicekit.events import Event
from servicekit.testing import outbox_events
from services.order import orders, placement, states
from services.order.models import Order, OrderStatusChange

from .orders_helpers import ADDRESS, place, priced, succeeded


def status(runtime, order_id):
    with runtime.transaction() as session:
        return session.get(Order, order_id).status


def history(runtime, order_id):
    with runtime.transaction() as session:
        return [(c.from_status, c.to_status, c.actor) for c in session.scalars(
            select(OrderStatusChange).where(OrderStatusChange.order_id == order_id)
            .order_by(OrderStatusChange.id))]


def apply(runtime, use_case, *args):
    with runtime.transaction() as session:
        return use_case(session, runtime, *args)


def with_order(runtime, order_id, use_case, **kwargs):
    with runtime.transaction() as session:
        return use_case(session, runtime, orders.lock(session, order_id), **kwargs)


def shipment(order_id, shipment_id, state, count=1):
    return shipping.ShipmentChanged(shipment_id=shipment_id, order_id=order_id, member_id="m-1",
                                    carrier="sf", waybill_no=f"SF{shipment_id}", state=state,
                                    shipment_count=count)


def test_placing_numbers_the_order_and_announces_it(runtime):
    first, second = place(runtime), place(runtime)
    with runtime.transaction() as session:
        a, b = session.get(Order, first), session.get(Order, second)
        assert (a.status, a.payable_fen, a.list_total_fen) == ("pending_payment", 43415, 45700)
        assert int(b.order_no) == int(a.order_no) + 1 and len(a.order_no) == 14
    created = outbox_events(runtime, "order.created")
    assert [e["data"]["orderId"] for e in created] == [first, second]
    assert created[0]["data"]["lines"][0]["skuLabel"] == "75B 黑色"


def test_the_address_is_sealed_at_rest(runtime):
    order_id = place(runtime)
    with runtime.engine.connect() as conn:
        raw = " ".join(str(v) for v in conn.execute(
            text("SELECT * FROM orders WHERE id = :id"), {"id": order_id}).one())
    assert "13800138000" not in raw and "林小姐" not in raw and "科技园路" not in raw
    assert "广东省" in raw  # the province stays readable for filters


def test_payment_moves_the_order_to_paid_once_and_order_paid_carries_the_shipping_facts(runtime):
    order_id = place(runtime, discreet=True)
    assert apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415)) is True
    assert apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415)) is False
    assert status(runtime, order_id) == "paid"
    [paid] = outbox_events(runtime, "order.paid")
    data = paid["data"]
    assert data["paidFen"] == "43415" and data["discreetPackaging"] is True
    # the phone travels sealed (servicekit.sealing): logistics, holding the key, reads it
    assert "phone" not in data["shippingAddress"] and ADDRESS.phone not in json.dumps(paid)
    assert Event.parse(paid, events.OrderPaid, "logistics").data.shipping_address.phone == ADDRESS.phone
    assert data["memberTierRank"] == 2 and len(data["lines"]) == 2
    # her tier benefits at checkout: logistics ships it first; exclusive service for the queues
    assert (data["priorityShipping"], data["exclusiveService"]) == (True, False)
    assert history(runtime, order_id) == [
        ("placing", "pending_payment", "member:m-1"),
        ("pending_payment", "paid", "event:payment.succeeded")]
    changed = outbox_events(runtime, "order.status_changed")
    assert changed[-1]["data"]["toStatus"] == "paid"
    assert changed[-1]["data"]["summary"] == "您的订单"  # discreet: no product names


def test_a_payment_for_the_wrong_amount_is_refused(runtime):
    order_id = place(runtime)
    with pytest.raises(FailedPrecondition):
        apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 1))
    assert status(runtime, order_id) == "pending_payment"


def test_a_payment_after_cancellation_leaves_the_order_cancelled(runtime):
    order_id = place(runtime)
    with_order(runtime, order_id, orders.cancel, actor="member:m-1", reason="changed my mind")
    assert apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415)) is False
    assert status(runtime, order_id) == "cancelled"
    assert outbox_events(runtime, "order.paid") == []


def test_cancelling_releases_everything_through_order_cancelled(runtime):
    pricing = priced(points_used=500, coupon_ids=("c-1",))
    order_id = place(runtime, pricing=pricing)
    with_order(runtime, order_id, orders.cancel, actor="member:m-1", reason="changed my mind")
    with_order(runtime, order_id, orders.cancel, actor="member:m-1", reason="twice")  # no-op
    [cancelled] = outbox_events(runtime, "order.cancelled")
    assert cancelled["data"]["pointsUsed"] == "500" and cancelled["data"]["couponIds"] == ["c-1"]
    assert cancelled["data"]["wasPaid"] is False


def test_only_staff_cancel_a_paid_order_and_only_before_it_ships(runtime):
    order_id = place(runtime)
    apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415))
    with pytest.raises(FailedPrecondition):
        with_order(runtime, order_id, orders.cancel, actor="member:m-1", reason="too late")
    with_order(runtime, order_id, orders.cancel, actor="staff:s-1", reason="out of stock")
    [cancelled] = outbox_events(runtime, "order.cancelled")
    assert cancelled["data"]["wasPaid"] is True

    shipped = place(runtime)
    apply(runtime, orders.on_payment_succeeded, succeeded(shipped, 43415))
    apply(runtime, orders.on_shipment_changed, shipment(shipped, "s1", shipping.SHIPMENT_PICKED_UP))
    with pytest.raises(FailedPrecondition) as err:
        with_order(runtime, shipped, orders.cancel, actor="staff:s-1", reason="too late")
    assert "shipped" in str(err.value)


def test_unpaid_orders_cancel_after_their_deadline_and_only_those(runtime):
    now = datetime.now(timezone.utc)
    overdue = place(runtime, now=now - timedelta(minutes=31))
    flash = place(runtime, now=now - timedelta(minutes=16), pay_window=timedelta(minutes=15))
    fresh = place(runtime, now=now - timedelta(minutes=5))
    assert apply(runtime, orders.cancel_overdue, now) == 2
    assert [status(runtime, o) for o in (overdue, flash, fresh)] == ["cancelled", "cancelled",
                                                                     "pending_payment"]
    assert history(runtime, overdue)[-1] == ("pending_payment", "cancelled", "system:pay_timeout")
    assert apply(runtime, orders.cancel_overdue, now) == 0


def test_replicas_sweeping_at_once_cancel_each_order_once(runtime):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; make run has one worker")
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    ids = [place(runtime, now=past) for _ in range(20)]
    barrier, counts = threading.Barrier(3), []

    def sweep():
        barrier.wait(5)
        counts.append(apply(runtime, orders.cancel_overdue, datetime.now(timezone.utc), 7))

    for _ in range(3):  # each replica takes up to 7 per round, as the timer would
        threads = [threading.Thread(target=sweep) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    assert sum(counts) == 20
    assert len(outbox_events(runtime, "order.cancelled")) == 20
    assert {status(runtime, o) for o in ids} == {"cancelled"}


def test_shipments_move_the_order_forward_in_any_order(runtime):
    order_id = place(runtime)
    apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415))
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "a", shipping.SHIPMENT_CREATED, 2))
    assert status(runtime, order_id) == "paid"
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "a", shipping.SHIPMENT_IN_TRANSIT, 2))
    assert status(runtime, order_id) == "partly_shipped"
    # b is delivered before anyone heard it was picked up; a late pick-up of a changes nothing.
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "b", shipping.SHIPMENT_DELIVERED, 2))
    assert status(runtime, order_id) == "shipped"
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "a", shipping.SHIPMENT_DELIVERED, 2))
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "a", shipping.SHIPMENT_PICKED_UP, 2))
    assert status(runtime, order_id) == "delivered"
    assert [h[1] for h in history(runtime, order_id)] == [
        "pending_payment", "paid", "partly_shipped", "shipped", "delivered"]


def test_a_single_delivery_report_still_leaves_a_complete_timeline(runtime):
    order_id = place(runtime)
    apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415))
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "a", shipping.SHIPMENT_DELIVERED))
    assert [h[1] for h in history(runtime, order_id)][-2:] == ["shipped", "delivered"]
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "a", shipping.SHIPMENT_EXCEPTION))
    assert status(runtime, order_id) == "delivered"


def test_confirming_receipt_completes_the_order(runtime):
    order_id = place(runtime)
    with pytest.raises(FailedPrecondition):
        with_order(runtime, order_id, orders.confirm_receipt, member_id="m-1")
    apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415))
    apply(runtime, orders.on_shipment_changed, shipment(order_id, "a", shipping.SHIPMENT_IN_TRANSIT))
    with_order(runtime, order_id, orders.confirm_receipt, member_id="m-1")
    assert [h[1] for h in history(runtime, order_id)][-2:] == ["delivered", "completed"]
    [completed] = outbox_events(runtime, "order.completed")
    assert completed["data"]["paidFen"] == "43415"


def test_delivered_orders_complete_after_seven_days(runtime):
    old, recent = place(runtime), place(runtime)
    for order_id in (old, recent):
        apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415))
        apply(runtime, orders.on_shipment_changed, shipment(order_id, f"s-{order_id}",
                                                            shipping.SHIPMENT_DELIVERED))
    with runtime.transaction() as session:
        session.get(Order, old).delivered_at -= timedelta(days=8)
    assert apply(runtime, orders.complete_overdue, datetime.now(timezone.utc)) == 1
    assert (status(runtime, old), status(runtime, recent)) == ("completed", "delivered")
    assert history(runtime, old)[-1][2] == "system:auto_complete"


def test_refunds_add_up_per_line_and_a_full_refund_closes_the_order(runtime):
    order_id = place(runtime)
    apply(runtime, orders.on_payment_succeeded, succeeded(order_id, 43415))
    line_id = f"{order_id}-2"

    def refunded(refund_id, amount, total, full=False):
        return payments.PaymentRefunded(
            order_id=order_id, refund_id=refund_id, amount_fen=amount, refunded_total_fen=total,
            paid_fen=43415, full=full, lines=[payments.PaymentRefundLine(
                line_id=line_id, sku_id="sku-m-nude", quantity=1, amount_fen=amount)])

    assert apply(runtime, orders.on_payment_refunded, refunded("r-1", 5605, 5605)) is True
    assert apply(runtime, orders.on_payment_refunded, refunded("r-1", 5605, 5605)) is False
    assert status(runtime, order_id) == "paid"
    apply(runtime, orders.on_payment_refunded, refunded("r-2", 37810, 43415, full=True))
    assert status(runtime, order_id) == "refunded"
    with runtime.transaction() as session:
        assert session.get(Order, order_id).refunded_fen == 43415
    assert [e["data"]["full"]
            for e in outbox_events(runtime, "order.refunded")] == [False, True]


def test_forbidden_transitions_say_what_is_allowed(runtime):
    order_id = place(runtime)
    with runtime.transaction() as session:
        order = orders.lock(session, order_id)
        with pytest.raises(FailedPrecondition) as err:
            states.move(session, order, "completed", actor="staff:s-1")
    assert "cancelled, deposit_paid, paid" in str(err.value)


def test_an_order_still_placing_is_nobodys(runtime):
    with runtime.transaction() as session:
        order, created = placement.begin(session, member_id="m-1", idempotency_key="k-1",
                                         fingerprint="f", channel="miniprogram",
                                         now=datetime.now(timezone.utc))
    assert created
    with pytest.raises(NotFound):
        apply(runtime, orders.on_payment_succeeded, succeeded(order.id, 1))


def test_an_order_left_placing_by_a_crash_fails_and_gives_its_points_back(runtime):
    now = datetime.now(timezone.utc)
    with runtime.transaction() as session:
        stuck, _ = placement.begin(session, member_id="m-1", idempotency_key="k-stuck",
                                   fingerprint="f", channel="miniprogram",
                                   now=now - timedelta(minutes=11))
        session.get(Order, stuck.id).points_used = 300  # recorded before SpendPoints was called
        # its process died: its lease lapsed longer ago than a retry is waited for
        session.get(Order, stuck.id).lease_until = now - placement.abandoned_after() - timedelta(seconds=1)
        recent, _ = placement.begin(session, member_id="m-1", idempotency_key="k-recent",
                                    fingerprint="f", channel="miniprogram", now=now)
        lapsed, _ = placement.begin(session, member_id="m-1", idempotency_key="k-lapsed",
                                    fingerprint="f", channel="miniprogram", now=now)
        session.get(Order, lapsed.id).lease_until = now - timedelta(seconds=1)  # a retry may come
    assert apply(runtime, placement.sweep_stale, now) == 1
    assert (status(runtime, stuck.id), status(runtime, recent.id), status(runtime, lapsed.id)) \
        == ("failed", "placing", "placing")
    [cancelled] = outbox_events(runtime, "order.cancelled")
    assert cancelled["data"]["reason"] == placement.PLACEMENT_FAILED
    assert cancelled["data"]["pointsUsed"] == "300"
    with runtime.transaction() as session:  # a retry with the key learns why
        order, created = placement.begin(session, member_id="m-1", idempotency_key="k-stuck",
                                         fingerprint="f", channel="miniprogram", now=now)
        assert not created
        with pytest.raises(FailedPrecondition) as err:
            placement.replay(order)
    assert "did not finish" in str(err.value)
    with runtime.transaction() as session, pytest.raises(FailedPrecondition) as err:
        placement.begin(session, member_id="m-1", idempotency_key="k-stuck",
                        fingerprint="another cart", channel="miniprogram", now=now)
    assert [v.field for v in err.value.violations] == ["idempotency-key"]


def test_a_payment_heard_after_the_timer_cancelled_the_order_is_given_back_not_kept(runtime):
    """The unpaid-order timer cancelled the order before order heard its payment.succeeded (late:
    a worker or database was away). The order stays cancelled (no order.paid: nothing ships), and
    payment's refund of that success (services/payment/cancellation.py) is announced as
    order.refunded, so the shopper hears her money came back."""
    now = datetime.now(timezone.utc)
    order_id = place(runtime, now=now - timedelta(minutes=31))
    assert apply(runtime, orders.cancel_overdue, now) == 1
    payable = 43415
    assert apply(runtime, orders.on_payment_succeeded, succeeded(order_id, payable)) is False
    assert status(runtime, order_id) == "cancelled"
    assert outbox_events(runtime, "order.paid") == []
    refund = payments.PaymentRefunded(order_id=order_id, refund_id="r-1", amount_fen=payable,
                                      refunded_total_fen=payable, paid_fen=payable, full=True,
                                      reason="order_cancelled: timeout")
    assert apply(runtime, orders.on_payment_refunded, refund) is True
    assert status(runtime, order_id) == "cancelled"
    [announced] = outbox_events(runtime, "order.refunded")
    assert announced["data"]["orderId"] == order_id
