"""Order locks: all or nothing, idempotent by order id, released and consumed once, expired by
the timer; the per-member limit and quotas hold."""
import json
from datetime import timedelta, timezone

import pytest
from sqlalchemy import select

from servicekit.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from services.promotion import campaigns, locks
from services.promotion.locks import FlashLine, LockRequest
from services.promotion.models import CampaignQuota, IssuedCoupon, MemberQuotaUsage, OrderLock
from services.promotion.pricing.window import SHANGHAI

from .helpers import NOW, coupon, flash_spec

LATER = NOW + timedelta(minutes=1)


def flash(runtime, **spec):
    with runtime.transaction() as session:
        return str(campaigns.create(session, runtime, flash_spec(**spec), created_by="staff-1").id)


def available_coupon(runtime, member_id="m-1"):
    with runtime.transaction() as session:
        return str(coupon(session, member_id=member_id, status="available").id)


def lock(runtime, order_id, *, member_id="m-1", coupons=(), lines=(), expires=LATER + timedelta(minutes=30),
         now=LATER):
    request = LockRequest(order_id, member_id, tuple(coupons),
                          tuple(FlashLine(*line) for line in lines), expires)
    with runtime.transaction() as session:
        return locks.lock_for_order(session, runtime, request, now)


def state(runtime):
    with runtime.transaction() as session:
        return ({c.id: (c.status, c.locked_order_id) for c in session.scalars(select(IssuedCoupon))},
                {q.sku_id: q.taken for q in session.scalars(select(CampaignQuota))},
                {u.member_id: u.used for u in session.scalars(select(MemberQuotaUsage))})


def test_lock_takes_coupons_and_quota_and_a_repeat_changes_nothing(runtime):
    campaign = flash(runtime, skus=("sku-1", "sku-2"), quota=5, limit=2)
    coupon_id = available_coupon(runtime)
    first = lock(runtime, "o-1", coupons=[coupon_id], lines=[(campaign, "sku-1", 1), (campaign, "sku-2", 1)])
    again = lock(runtime, "o-1", coupons=[coupon_id], lines=[(campaign, "sku-1", 1), (campaign, "sku-2", 1)])
    assert first.status == again.status == "locked"
    assert state(runtime) == ({int(coupon_id): ("locked", "o-1")}, {"sku-1": 1, "sku-2": 1}, {"m-1": 2})
    with pytest.raises(FailedPrecondition):  # the same order asking for something else
        lock(runtime, "o-1", coupons=[coupon_id], lines=[(campaign, "sku-1", 2)])


def test_all_or_nothing_when_a_quota_is_gone(runtime):
    campaign = flash(runtime, skus=("sku-1", "sku-2"), quota=1, limit=5)
    lock(runtime, "o-0", member_id="m-0", lines=[(campaign, "sku-2", 1)])
    coupon_id = available_coupon(runtime)
    before = state(runtime)
    with pytest.raises(ResourceExhausted) as err:
        lock(runtime, "o-1", coupons=[coupon_id], lines=[(campaign, "sku-1", 1), (campaign, "sku-2", 1)])
    assert "sku-2" in err.value.message and err.value.violations[0].rule == "quota_exhausted"
    assert err.value.violations[0].field == "flash_lines[1].quantity"
    assert state(runtime) == before  # the coupon and sku-1 untouched
    with runtime.transaction() as session:
        assert session.get(OrderLock, "o-1") is None


def test_the_per_member_limit_holds_across_orders(runtime):
    campaign = flash(runtime, skus=("sku-1",), quota=10, limit=1)
    lock(runtime, "o-1", lines=[(campaign, "sku-1", 1)])
    with pytest.raises(ResourceExhausted) as err:
        lock(runtime, "o-2", lines=[(campaign, "sku-1", 1)])
    assert err.value.violations[0].rule == "per_member_limit"
    with runtime.transaction() as session:
        locks.release_for_order(session, runtime, "o-1", LATER)
    lock(runtime, "o-3", lines=[(campaign, "sku-1", 1)])  # released units count no more


def test_coupon_problems_refuse_the_lock_naming_each(runtime):
    theirs, mine, lapsed = (available_coupon(runtime, "m-2"), available_coupon(runtime),
                            available_coupon(runtime))
    lock(runtime, "o-1", coupons=[mine])
    with pytest.raises(InvalidArgument) as err:
        lock(runtime, "o-2", coupons=[theirs, mine, "999999", lapsed], now=LATER + timedelta(days=8),
             expires=LATER + timedelta(days=8, minutes=5))
    assert [(v.field, v.rule) for v in err.value.violations] == [
        ("coupon_ids[0]", "not_yours"), ("coupon_ids[1]", "not_available"),
        ("coupon_ids[2]", "not_yours"), ("coupon_ids[3]", "expired")]
    with pytest.raises(InvalidArgument) as err:
        lock(runtime, "o-3", coupons=[lapsed], now=NOW - timedelta(days=2),
             expires=NOW - timedelta(days=2) + timedelta(minutes=5))
    assert [v.rule for v in err.value.violations] == ["not_yet_valid"]
    assert state(runtime)[0][int(lapsed)] == ("available", None)


def test_bad_requests_are_named(runtime):
    with pytest.raises(InvalidArgument) as err:
        lock(runtime, "", member_id="", lines=[("x", "", 0)], expires=LATER - timedelta(seconds=1))
    assert {(v.field, v.rule) for v in err.value.violations} == {
        ("order_id", "required"), ("member_id", "required"), ("expires_at", "range"),
        ("flash_lines[0].campaign_id", "format"), ("flash_lines[0].sku_id", "required"),
        ("flash_lines[0].quantity", "positive")}


def test_a_campaign_not_running_now_cannot_be_locked(runtime):
    tomorrow = LATER.astimezone(SHANGHAI).isoweekday() % 7 + 1
    weekly = flash(runtime, weekday=tomorrow, start="00:00", end="23:59")
    with pytest.raises(FailedPrecondition) as err:
        lock(runtime, "o-1", lines=[(weekly, "sku-1", 1)])
    assert err.value.violations[0].rule == "not_running"
    assert state(runtime)[1] == {}  # no session row made either


def test_release_and_consume_are_idempotent_and_exclusive(runtime):
    campaign = flash(runtime, quota=3, limit=1)
    coupon_id = available_coupon(runtime)
    lock(runtime, "o-1", coupons=[coupon_id], lines=[(campaign, "sku-1", 1)])
    with runtime.transaction() as session:
        assert locks.consume_for_order(session, runtime, "o-1", LATER).status == "consumed"
    with runtime.transaction() as session:
        assert locks.consume_for_order(session, runtime, "o-1", LATER).status == "consumed"
        assert locks.release_for_order(session, runtime, "o-1", LATER).status == "consumed"
    assert state(runtime) == ({int(coupon_id): ("used", None)}, {"sku-1": 1}, {"m-1": 1})
    lock(runtime, "o-2", member_id="m-2", lines=[(campaign, "sku-1", 1)])
    for _ in range(2):
        with runtime.transaction() as session:
            assert locks.release_for_order(session, runtime, "o-2", LATER).status == "released"
    with runtime.transaction() as session, pytest.raises(FailedPrecondition):
        locks.consume_for_order(session, runtime, "o-2", LATER)
    assert state(runtime)[1:] == ({"sku-1": 1}, {"m-1": 1, "m-2": 0})
    with runtime.transaction() as session:
        types = [json.loads(r.body)["type"] for r in session.execute(select(runtime.outbox_table))]
    assert types.count("coupon.used") == 1 and types.count("coupon.locked") == 2
    lock(runtime, "o-3", member_id="m-3")  # no coupon, no flash line: held, nothing announced
    with runtime.transaction() as session:
        assert session.get(locks.OrderLock, "o-3").status == "locked"
        types = [json.loads(r.body)["type"] for r in session.execute(select(runtime.outbox_table))]
    assert types.count("coupon.locked") == 2


def test_a_release_before_the_lock_refuses_the_late_lock(runtime):
    with runtime.transaction() as session:
        assert locks.release_for_order(session, runtime, "o-9", LATER, member_id="m-1").status == "released"
    with pytest.raises(FailedPrecondition) as err:
        lock(runtime, "o-9")
    assert err.value.violations[0].rule == "released"


def test_the_timer_releases_locks_past_their_expiry_only(runtime):
    campaign = flash(runtime, quota=5, limit=5)
    lock(runtime, "o-old", lines=[(campaign, "sku-1", 2)], expires=LATER + timedelta(minutes=1))
    lock(runtime, "o-new", lines=[(campaign, "sku-1", 1)], expires=LATER + timedelta(minutes=30))
    with runtime.transaction() as session:
        assert locks.release_expired(session, runtime, LATER + timedelta(minutes=2)) == 1
    with runtime.transaction() as session:
        assert locks.release_expired(session, runtime, LATER + timedelta(minutes=2)) == 0
        assert session.get(OrderLock, "o-old").status == "released"
        assert session.get(OrderLock, "o-new").status == "locked"
    assert state(runtime)[1:] == ({"sku-1": 1}, {"m-1": 1})


def next_friday_evening(after):
    """The next Friday 20:30 in Beijing after `after`, as UTC."""
    local = after.astimezone(SHANGHAI).replace(hour=20, minute=30, second=0, microsecond=0)
    while local.isoweekday() != 5 or local <= after:
        local += timedelta(days=1)
    return local.astimezone(timezone.utc)


def test_a_weekly_flash_sale_has_a_fresh_quota_and_member_limit_every_session(runtime):
    campaign = flash(runtime, quota=2, limit=1, weekday=5, start="20:00", end="22:00")
    friday = next_friday_evening(LATER)
    week_later = friday + timedelta(days=7)
    expires = timedelta(minutes=15)
    for member in ("m-1", "m-2"):
        lock(runtime, f"o-{member}", member_id=member, lines=[(campaign, "sku-1", 1)], now=friday,
             expires=friday + expires)
    with pytest.raises(ResourceExhausted):  # this Friday's 2 units are gone
        lock(runtime, "o-3", member_id="m-3", lines=[(campaign, "sku-1", 1)], now=friday,
             expires=friday + expires)
    lock(runtime, "o-4", member_id="m-1", lines=[(campaign, "sku-1", 1)], now=week_later,
         expires=week_later + expires)  # next Friday: full quota, and m-1 may buy again
    with runtime.transaction() as session:
        quotas = {(q.session_key, q.taken) for q in session.scalars(select(CampaignQuota))}
        locks.release_for_order(session, runtime, "o-m-2", friday)
    first, second = (friday.astimezone(SHANGHAI).date().isoformat(),
                     week_later.astimezone(SHANGHAI).date().isoformat())
    assert quotas == {(first, 2), (second, 1)}
    with runtime.transaction() as session:  # the release went back to its own session
        assert {(q.session_key, q.taken) for q in session.scalars(select(CampaignQuota))} == \
            {(first, 1), (second, 1)}


@pytest.mark.parametrize("cancel_first", [False, True])
def test_a_paid_order_cancelled_gives_back_the_same_whichever_event_comes_first(runtime, cancel_first):
    """order.paid (consume) and order.cancelled of a paid order (staff cancel, money back) come
    on two queues: either way the coupon is the shopper's again and the quota free."""
    campaign = flash(runtime, quota=3, limit=1)
    coupon_id = available_coupon(runtime)
    lock(runtime, "o-1", coupons=[coupon_id], lines=[(campaign, "sku-1", 1)])

    def consume(session):
        try:
            locks.consume_for_order(session, runtime, "o-1", LATER)
        except FailedPrecondition:  # released first: the worker logs it and goes on
            pass

    def cancel(session):
        locks.release_for_order(session, runtime, "o-1", LATER, paid=True)

    for step in ([cancel, consume] if cancel_first else [consume, cancel]) + [cancel]:
        with runtime.transaction() as session:
            step(session)
    assert state(runtime) == ({int(coupon_id): ("available", None)}, {"sku-1": 0}, {"m-1": 0})
    with runtime.transaction() as session:
        assert session.get(OrderLock, "o-1").status == "released"
        assert session.get(IssuedCoupon, int(coupon_id)).used_order_id is None


def test_a_presale_deposit_holds_the_lock_until_the_balance_window_closed(runtime):
    """order.deposit_paid (a pre-sale order waits for its balance): the lock outlives the pay
    window, the expiry timer leaves it, and a redelivery changes nothing."""
    from mall.events.v1 import order_events_pb2 as order_events

    from servicekit.testing import deliver_in_process
    from servicekit.times import rfc3339

    campaign = flash(runtime, quota=5, limit=5)
    lock(runtime, "o-pre", lines=[(campaign, "sku-1", 1)], expires=LATER + timedelta(minutes=1))
    balance_closes = LATER + timedelta(days=9)
    event = order_events.OrderDepositPaid(order_id="o-pre", member_id="m-1",
                                          hold_until=rfc3339(balance_closes))
    deliver_in_process("promotion", "order", "order.deposit_paid", event, event_id="e-dep-1")
    deliver_in_process("promotion", "order", "order.deposit_paid", event, event_id="e-dep-1")
    with runtime.transaction() as session:
        assert locks.release_expired(session, runtime, LATER + timedelta(days=1)) == 0
        assert session.get(OrderLock, "o-pre").expires_at == balance_closes
    # an order never locked: nothing to hold
    deliver_in_process("promotion", "order", "order.deposit_paid",
                       order_events.OrderDepositPaid(order_id="o-none", hold_until=rfc3339(LATER)))
    with runtime.transaction() as session:
        assert session.get(OrderLock, "o-none") is None
        assert locks.release_expired(session, runtime, balance_closes + timedelta(seconds=1)) == 1
