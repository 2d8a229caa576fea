"""The points ledger: FIFO lots, expiry, spending for an order (idempotent, never beyond the
balance, also under concurrency on PostgreSQL), staff adjustments."""
from datetime import datetime, timedelta, timezone

import grpc
from mall.member.v1 import loyalty_pb2
from sqlalchemy import func, select

from servicekit.errors import violations_from_trailers
from services.member.loyalty import points, sweeps
from services.member.models import PointsAccount, PointsEntry

from .helpers import as_user, credit, race, rpc_error

PAST = datetime(2020, 1, 1, tzinfo=timezone.utc)


def ledger(runtime, member_id):
    with runtime.transaction() as s:
        entries = s.scalars(select(PointsEntry).where(PointsEntry.member_id == member_id)
                            .order_by(PointsEntry.id)).all()
        acct = s.get(PointsAccount, member_id)
        return entries, acct.balance if acct else 0


def assert_consistent(runtime, member_id):
    entries, balance = ledger(runtime, member_id)
    assert balance == sum(e.points for e in entries) >= 0
    assert balance == sum(e.remaining for e in entries)  # the lots hold exactly the balance
    return balance


def spend(loyalty_api, member_id, order_id, amount):
    return loyalty_api.SpendPoints(loyalty_pb2.SpendPointsRequest(
        order_id=order_id, member_id=member_id, points=amount))


def test_expiry_defaults_to_the_end_of_the_following_shanghai_year():
    rules = type("R", (), {"expire_after_years": 1})
    earned = datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc)  # 2027-01-01 00:30 in Shanghai
    assert points.expiry_for(earned, rules.expire_after_years) == \
        datetime(2028, 12, 31, 16, 0, tzinfo=timezone.utc)
    assert points.expiry_for(datetime(2026, 3, 1, tzinfo=timezone.utc), 1) == \
        datetime(2027, 12, 31, 16, 0, tzinfo=timezone.utc)
    assert points.expiry_for(earned, 0) is None


def test_debits_take_the_oldest_lots_and_expiry_takes_what_is_left(member_runtime, shopper):
    member_id, _ = shopper("fifo")
    soon = datetime.now(timezone.utc) + timedelta(days=1)
    later = soon + timedelta(days=300)
    old_lot = credit(member_runtime, member_id, 100, expires_at=later)
    first_to_expire = credit(member_runtime, member_id, 50, expires_at=soon)
    with member_runtime.transaction() as s:
        points.debit(s, member_id, points.REDEEM, 70, ref="r-1")
    with member_runtime.transaction() as s:
        lots = {e.id: e.remaining for e in s.scalars(select(PointsEntry).where(
            PointsEntry.member_id == member_id, PointsEntry.points > 0))}
    assert lots == {first_to_expire: 0, old_lot: 80}  # the soonest-expiring lot went first
    assert sweeps.expire_points(member_runtime, later + timedelta(seconds=1)) == 80
    assert sweeps.expire_points(member_runtime, later + timedelta(seconds=2)) == 0  # once
    entries, balance = ledger(member_runtime, member_id)
    assert balance == 0 and [e.kind for e in entries][-1] == "expire"
    assert_consistent(member_runtime, member_id)


def test_spend_points_is_idempotent_by_order_and_never_beyond_the_balance(loyalty_api, shopper,
                                                                          member_runtime):
    member_id, _ = shopper("spender")
    credit(member_runtime, member_id, 300)
    first = spend(loyalty_api, member_id, "o-1", 120)
    again = spend(loyalty_api, member_id, "o-1", 120)  # checkout retried
    assert first.entry.entry_id == again.entry.entry_id and again.balance == 180
    err = rpc_error(spend, loyalty_api, member_id, "o-1", 150)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = rpc_error(spend, loyalty_api, member_id, "o-2", 181)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "180" in err.details()
    err = rpc_error(spend, loyalty_api, "not-a-member", "", 0)
    assert {v.field for v in violations_from_trailers(err.trailing_metadata())} == \
        {"order_id", "member_id", "points"}
    err = rpc_error(loyalty_api.SpendPoints, loyalty_pb2.SpendPointsRequest(
        order_id="o-3", member_id=member_id, points=1),
        metadata=as_user("00000000-0000-4000-8000-0000000000ff"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED  # another shopper's points
    assert assert_consistent(member_runtime, member_id) == 180


def test_concurrent_spending_never_overdraws(loyalty_api, shopper, member_runtime):
    """30 checkouts at once, each for 10 of a 100-point balance: exactly 10 succeed."""
    member_id, _ = shopper("race")
    credit(member_runtime, member_id, 100)
    codes = race([lambda n=n: spend(loyalty_api, member_id, f"race-{n}", 10) for n in range(30)])
    assert codes.count("ok") == 10
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 20
    assert assert_consistent(member_runtime, member_id) == 0
    with member_runtime.transaction() as s:
        assert s.scalar(select(func.count()).where(PointsEntry.member_id == member_id,
                                                   PointsEntry.kind == "spend")) == 10


def test_staff_adjust_with_a_reason(loyalty_admin, shopper, member_runtime, operator_md):
    member_id, shopper_md = shopper("adjusted")
    adjust = loyalty_admin.AdjustPoints
    entry = adjust(loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=40,
                                                   reason="compensation for a late parcel"),
                   metadata=operator_md)
    assert entry.kind == "adjust" and entry.balance_after == 40 and entry.expires_at
    keyed = operator_md + [("idempotency-key", "adj-1")]
    once = adjust(loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=5, reason="retry me"),
                  metadata=keyed)
    twice = adjust(loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=5, reason="retry me"),
                   metadata=keyed)  # the console retried
    assert once.entry_id == twice.entry_id and twice.balance_after == 45
    err = rpc_error(adjust, loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=-5,
                                                            reason="other"), metadata=keyed)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = rpc_error(adjust, loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=-46,
                                                            reason="typo"), metadata=operator_md)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    err = rpc_error(adjust, loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=5),
                    metadata=operator_md)
    assert [v.field for v in violations_from_trailers(err.trailing_metadata())] == ["reason"]
    err = rpc_error(adjust, loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=5,
                                                            reason="x"), metadata=shopper_md)
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    with member_runtime.transaction() as s:
        assert s.scalar(select(PointsEntry.actor).where(PointsEntry.member_id == member_id)) == \
            "00000000-0000-4000-8000-000000000001"
    assert assert_consistent(member_runtime, member_id) == 45


def test_history_is_paged_newest_first(loyalty_api, shopper, member_runtime):
    member_id, md = shopper("history")
    for n in range(5):
        credit(member_runtime, member_id, n + 1)
    first = loyalty_api.ListPointsHistory(loyalty_pb2.ListPointsHistoryRequest(
        page={"page_size": 3}), metadata=md)
    assert [e.points for e in first.entries] == [5, 4, 3] and first.balance == 15
    second = loyalty_api.ListPointsHistory(loyalty_pb2.ListPointsHistoryRequest(
        page={"page_size": 3, "page_token": first.page.next_page_token}), metadata=md)
    assert [e.points for e in second.entries] == [2, 1] and not second.page.next_page_token
    balance = loyalty_api.GetPointsBalance(loyalty_pb2.GetPointsBalanceRequest(), metadata=md)
    assert balance.balance == 15 and balance.expiring_points == 0
