"""A checkout whose order-api process died mid-saga (SIGKILLed at each step boundary, in a process
of its own: crashing_placement.py) is resumed by the shopper's retry with the same idempotency key
once the dead process's lease lapsed: every step already done replays, nothing is taken twice,
and the order is placed, or undone at once when it can no longer be. A live placement is not
taken over (409 with Retry-After); two retries at once run the saga once; a placement nobody
retries is undone by the sweep, which gives back stock, coupons and points. Against the real
member, promotion and logistics servers."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import pytest
from mall.events.v1 import order_events_pb2 as order_events
from mall.logistics.v1 import logistics_pb2 as logistics
from mall.order.v1 import order_pb2
from sqlalchemy import select, update
from support_a import WAREHOUSE, announced, checkout, deliver, keyed, refusal, violations
from support_a import shop as shop  # noqa: F401 (a fixture)
from support_a import wechat as wechat  # noqa: F401 (a fixture)
from test_order_checkout import balance, coupon_status, held, nothing_held

from servicekit import service
from servicekit.errors import retry_after_from_trailers
from services.order import placement
from services.order.models import Order

CRASHER = Path(__file__).with_name("crashing_placement.py")
Code = grpc.StatusCode


@pytest.fixture
def short_lease(monkeypatch):
    """A one-second lease, for the crashing process and this one's order server alike."""
    monkeypatch.setenv("MALL_ORDER_PLACING_LEASE_SECONDS", "1")


def crash_mid_placement(shop, request: order_pb2.CheckoutRequest, key: str, boundary: str) -> Order:
    """Places `request` in a process of its own that SIGKILLs itself at `boundary`; the order it
    left behind, still `placing`."""
    done = subprocess.run(
        [sys.executable, str(CRASHER), shop.member_id, key, boundary,
         request.SerializeToString(deterministic=True).hex()],
        capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-3000:]
    left = order_of(key)
    assert left.status == "placing" and left.placing_owner
    return left


def order_of(key: str) -> Order:
    with service.runtime("order").transaction() as session:
        order = session.scalar(select(Order).where(Order.idempotency_key == key))
        session.expunge(order)
        return order


def lease_lapses(key: str) -> None:
    """Waits (the lease is a second) until the dead process's lease has run out."""
    deadline = time.monotonic() + 10
    while order_of(key).lease_until > datetime.now(timezone.utc):
        assert time.monotonic() < deadline, "the lease never lapsed"
        time.sleep(0.1)


def place(shop, request, key: str) -> order_pb2.OrderView:
    return shop.orders.PlaceOrder(request, metadata=keyed(shop.me, key))


def the_checkout(shop) -> order_pb2.CheckoutRequest:
    return checkout(("sku-75b-black", 2), coupons=[shop.coupon_id], points=500)


@pytest.mark.parametrize("boundary", ["after:Quote", "after:LockForOrder", "after:Reserve",
                                      "after:SpendPoints"])
def test_a_retry_resumes_a_placement_its_crashed_process_left_at_each_step(shop, short_lease,
                                                                           boundary):
    request = the_checkout(shop)
    left = crash_mid_placement(shop, request, "k-crash", boundary)
    lease_lapses("k-crash")

    placed = place(shop, request, "k-crash")
    assert (placed.order_id, placed.order_no, placed.status) == (left.id, left.order_no,
                                                                 "pending_payment")
    assert placed.points_used == 500 and list(placed.coupon_ids) == [shop.coupon_id]
    # the shopper's 30 minutes to pay start now, not when the dead process began
    assert datetime.fromisoformat(placed.pay_deadline) - datetime.now(timezone.utc) \
        > timedelta(minutes=29)
    # taken once, whatever the dead process had taken already
    assert held(shop)["sku-75b-black"] == {"GZ-SOUTH": 2}
    assert balance(shop) == 500 and coupon_status(shop) == "locked"
    runtime = service.runtime("order")
    assert [c.order_id for c in announced(runtime, "order.created", order_events.OrderCreated)] \
        == [left.id]
    assert announced(runtime, "order.cancelled", order_events.OrderCancelled) == []
    assert place(shop, request, "k-crash") == placed  # and a later retry is simply answered
    assert order_of("k-crash").placing_owner == ""


def test_a_live_placement_is_not_taken_over_and_its_retry_is_told_when_to_come_back(shop,
                                                                                   monkeypatch):
    monkeypatch.setenv("MALL_ORDER_PLACING_LEASE_SECONDS", "30")
    request = the_checkout(shop)
    left = crash_mid_placement(shop, request, "k-live", "after:LockForOrder")

    err = refusal(place, shop, request, "k-live")
    assert err.code() == Code.FAILED_PRECONDITION
    assert "still being placed" in err.details() and "k-live" in err.details()
    assert violations(err) == {("idempotency-key", "in_progress")}
    assert 1 <= retry_after_from_trailers(err.trailing_metadata()) <= 30
    assert order_of("k-live").placing_owner == left.placing_owner  # still the first request's

    with service.runtime("order").transaction() as session:  # time passes: its lease lapses
        session.execute(update(Order).where(Order.id == left.id)
                        .values(lease_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert place(shop, request, "k-live").status == "pending_payment"
    assert held(shop)["sku-75b-black"] == {"GZ-SOUTH": 2} and balance(shop) == 500


def test_retries_at_once_run_the_saga_once(shop, short_lease):
    request = the_checkout(shop)
    left = crash_mid_placement(shop, request, "k-race", "after:Reserve")
    lease_lapses("k-race")

    answers: list[object] = []

    def retry():
        try:
            answers.append(place(shop, request, "k-race"))
        except grpc.RpcError as err:
            answers.append(err)
    retries = [threading.Thread(target=retry) for _ in range(4)]
    for thread in retries:
        thread.start()
    for thread in retries:
        thread.join(60)

    placed = [a for a in answers if isinstance(a, order_pb2.OrderView)]
    refused = [a for a in answers if isinstance(a, grpc.RpcError)]
    assert len(answers) == 4 and placed and {p.order_id for p in placed} == {left.id}
    assert all(e.code() == Code.FAILED_PRECONDITION and violations(e) == {
        ("idempotency-key", "in_progress")} for e in refused)
    assert place(shop, request, "k-race").status == "pending_payment"
    assert held(shop)["sku-75b-black"] == {"GZ-SOUTH": 2} and balance(shop) == 500
    runtime = service.runtime("order")
    assert len(announced(runtime, "order.created", order_events.OrderCreated)) == 1


def test_a_resumed_placement_that_cannot_finish_is_undone_at_once(shop, short_lease):
    request = checkout(("sku-75b-black", 2), coupons=[shop.coupon_id])
    left = crash_mid_placement(shop, request, "k-gone", "after:LockForOrder")
    assert coupon_status(shop) == "locked"
    for warehouse, units in (("GZ-SOUTH", 3), ("SH-EAST", 2)):  # meanwhile the stock is gone
        shop.stock.AdjustStock(logistics.AdjustStockRequest(
            warehouse_code=warehouse, sku_id="sku-75b-black", kind=logistics.DAMAGE,
            delta=-units, reason="water damage"), metadata=WAREHOUSE)
    lease_lapses("k-gone")

    err = refusal(place, shop, request, "k-gone")
    assert err.code() == Code.RESOURCE_EXHAUSTED
    # undone by the retry itself, not 10 minutes later: the coupon is back now
    assert order_of("k-gone").status == "failed" and coupon_status(shop) == "available"
    (cancelled,) = announced(service.runtime("order"), "order.cancelled",
                             order_events.OrderCancelled)
    assert (cancelled.order_id, cancelled.reason) == (left.id, placement.PLACEMENT_FAILED)
    err = refusal(place, shop, request, "k-gone")
    assert err.code() == Code.FAILED_PRECONDITION and "was not placed" in err.details()


def test_the_sweep_undoes_an_abandoned_placement_and_everything_comes_back(shop):
    request = the_checkout(shop)
    left = crash_mid_placement(shop, request, "k-abandoned", "after:SpendPoints")
    assert (balance(shop), coupon_status(shop)) == (500, "locked") and not nothing_held(shop)
    runtime = service.runtime("order")
    with runtime.transaction() as session:
        assert placement.sweep_stale(session, runtime, datetime.now(timezone.utc)) == 0  # leased
    later = datetime.now(timezone.utc) + placement.lease() + placement.abandoned_after()
    with runtime.transaction() as session:
        assert placement.sweep_stale(session, runtime, later + timedelta(seconds=1)) == 1

    (cancelled,) = announced(runtime, "order.cancelled", order_events.OrderCancelled)
    assert (cancelled.order_id, cancelled.reason, cancelled.points_used) == (
        left.id, placement.PLACEMENT_FAILED, 500)
    for consumer in ("logistics", "promotion", "member"):  # each worker's handler of it
        deliver(consumer, "order", "order.cancelled", cancelled)
    assert nothing_held(shop) and coupon_status(shop) == "available" and balance(shop) == 1000
    err = refusal(place, shop, request, "k-abandoned")
    assert err.code() == Code.FAILED_PRECONDITION and "did not finish" in err.details()


def test_a_request_whose_placement_was_taken_over_stops_and_answers_what_the_new_owner_did(shop):
    """A request too slow for its lease (presumed dead) finds at its next step that a retry took
    the placement over and placed the order: it takes and undoes nothing, and answers that order."""
    from services.order.checkout import Checkout, Downstream

    request = the_checkout(shop)
    runtime = service.runtime("order")
    taken_over: list[order_pb2.OrderView] = []

    class StallingDownstream(Downstream):
        """Stalls before Reserve past its lease, while the shopper's retry places the order."""

        def _stub(self, service_name, stub_class):
            stub = super()._stub(service_name, stub_class)
            if service_name != "logistics" or taken_over:
                return stub

            class Stalling:
                def __getattr__(self, name):
                    call = getattr(stub, name)
                    if name != "Reserve" or taken_over:
                        return call

                    def stalled(reserve_request, *args, **kwargs):
                        with runtime.transaction() as session:  # time passes: the lease lapses
                            session.execute(update(Order).where(Order.idempotency_key == "k-slow")
                                            .values(lease_until=datetime.now(timezone.utc)
                                                    - timedelta(seconds=1)))
                        taken_over.append(place(shop, request, "k-slow"))
                        return call(reserve_request, *args, **kwargs)
                    return stalled
            return Stalling()

    answered = Checkout(runtime, StallingDownstream()).place(shop.member_id, request, "k-slow")
    (placed,) = taken_over
    assert placed.status == "pending_payment"
    assert (answered.id, answered.status) == (placed.order_id, "pending_payment")
    assert held(shop)["sku-75b-black"] == {"GZ-SOUTH": 2}
    assert balance(shop) == 500 and coupon_status(shop) == "locked"
    assert announced(runtime, "order.cancelled", order_events.OrderCancelled) == []
    assert len(announced(runtime, "order.created", order_events.OrderCreated)) == 1
