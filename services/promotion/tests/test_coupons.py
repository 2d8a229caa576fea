"""Releasing the coupons of a cancelled order."""
import json
from datetime import timedelta

from sqlalchemy import select

from services.promotion import coupons
from services.promotion.models import IssuedCoupon

from .helpers import coupon


def states(runtime):
    with runtime.transaction() as session:
        return {c.id: (c.status, c.locked_order_id) for c in session.scalars(select(IssuedCoupon))}


def test_release_gives_back_the_orders_locked_coupons_and_expires_the_lapsed(runtime):
    with runtime.transaction() as session:
        fresh = coupon(session).id
        lapsed = coupon(session, valid_for=timedelta(seconds=-1)).id
        other_order = coupon(session, order_id="o-2").id
        used = coupon(session, status="used").id
    with runtime.transaction() as session:
        released = coupons.release_for_order(session, runtime, "o-1")
    assert sorted(c.id for c in released) == sorted([fresh, lapsed])
    assert states(runtime) == {fresh: ("available", None), lapsed: ("expired", None),
                               other_order: ("locked", "o-2"), used: ("used", None)}
    with runtime.transaction() as session:
        (event,) = [json.loads(r.body) for r in session.execute(select(runtime.outbox_table))]
    assert event["type"] == "coupon.released"
    assert event["data"]["availableCouponIds"] == [str(fresh)]
    assert event["data"]["expiredCouponIds"] == [str(lapsed)]


def test_releasing_again_or_an_order_without_coupons_changes_nothing(runtime):
    with runtime.transaction() as session:
        coupon(session)
    with runtime.transaction() as session:
        coupons.release_for_order(session, runtime, "o-1")
    with runtime.transaction() as session:
        assert coupons.release_for_order(session, runtime, "o-1") == []
        assert coupons.release_for_order(session, runtime, "o-none") == []
        assert len(session.execute(select(runtime.outbox_table)).all()) == 1
