"""order.refunded gives the order's coupon back by the merchant's rule
(MALL_PROMOTION_COUPON_BACK_ON_REFUND): by default only when the whole order is refunded and the
coupon is still valid; exactly once, also redelivered or under a new event id; a coupon spent
again on another order stays there."""
from datetime import timedelta

import pytest
from mall.events.v1 import order_events_pb2 as order_events

from servicekit.testing import deliver_in_process, outbox_events
from services.promotion import refund_coupons
from services.promotion.models import IssuedCoupon

from .helpers import NOW, coupon


def used_coupon(runtime, order_id="o-1", valid_for=timedelta(days=7)) -> int:
    with runtime.transaction() as session:
        issued = coupon(session, status="used", valid_for=valid_for)
        issued.used_order_id, issued.used_at = order_id, NOW
        return issued.id


def refunded(full, order_id="o-1", event_id="e-1"):
    deliver_in_process("promotion", "order", "order.refunded", order_events.OrderRefunded(
        order_id=order_id, member_id="m-1", refund_id="r-1", refunded_fen=18905, paid_fen=43415,
        full=full), event_id=event_id)


def state(runtime, coupon_id):
    with runtime.transaction() as session:
        row = session.get(IssuedCoupon, coupon_id)
        return row.status, row.used_order_id


def test_a_partial_refund_keeps_the_coupon_used_by_default(runtime):
    coupon_id = used_coupon(runtime)
    refunded(False)
    assert state(runtime, coupon_id) == ("used", "o-1")
    assert outbox_events(runtime, "coupon.released") == []


def test_the_whole_order_refunded_gives_it_back_once(runtime):
    coupon_id = used_coupon(runtime)
    refunded(False, event_id="e-1")
    refunded(True, event_id="e-2")
    refunded(True, event_id="e-2")   # redelivered
    refunded(True, event_id="e-3")   # announced again
    assert state(runtime, coupon_id) == ("available", None)
    [released] = outbox_events(runtime, "coupon.released")
    assert released["data"]["availableCouponIds"] == [str(coupon_id)]


def test_an_expired_coupon_stays_used(runtime):
    coupon_id = used_coupon(runtime, valid_for=-timedelta(hours=1))
    refunded(True)
    assert state(runtime, coupon_id) == ("used", "o-1")
    assert outbox_events(runtime, "coupon.released") == []


def test_a_coupon_spent_again_elsewhere_is_not_taken_back(runtime):
    coupon_id = used_coupon(runtime)
    refunded(True, event_id="e-1")
    with runtime.transaction() as session:   # spent on the next order
        row = session.get(IssuedCoupon, coupon_id)
        row.status, row.used_order_id = "used", "o-2"
    refunded(True, event_id="e-9")            # the first order's refund announced again
    assert state(runtime, coupon_id) == ("used", "o-2")


@pytest.mark.parametrize("rule, full, expected", [
    ("any_refund", False, ("available", None)),
    ("never", True, ("used", "o-1")),
    ("whole_order", True, ("available", None)),
])
def test_the_merchants_rule(runtime, monkeypatch, rule, full, expected):
    monkeypatch.setenv("MALL_PROMOTION_COUPON_BACK_ON_REFUND", rule)
    coupon_id = used_coupon(runtime)
    refunded(full)
    assert state(runtime, coupon_id) == expected


def test_an_unknown_rule_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("MALL_PROMOTION_COUPON_BACK_ON_REFUND", "sometimes")
    with pytest.raises(ValueError, match="COUPON_BACK_ON_REFUND"):
        refund_coupons.rule()
