"""Flash quota under concurrency on PostgreSQL: many buyers at once, a quota and a per-member
limit that hold exactly (threads, each its own transaction, like the server's)."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from servicekit.errors import ResourceExhausted
from services.promotion import campaigns, locks
from services.promotion.locks import FlashLine, LockRequest
from services.promotion.models import CampaignQuota, MemberQuotaUsage, OrderLock

from .helpers import NOW, flash_spec

NOW_PLUS = NOW + timedelta(seconds=1)


def rush(runtime, attempts: int, members: int) -> tuple[list[str], int, int, list[str]]:
    """`attempts` concurrent LockForOrder calls by `members` members for a 100-unit quota, limit 1:
    (outcomes, units taken, the most one member holds, the members holding a lock)."""
    with runtime.transaction() as session:
        campaign = str(campaigns.create(session, runtime, flash_spec(("sku-hot",), quota=100, limit=1),
                                        created_by="staff-1").id)

    def buy(attempt: int) -> str:
        request = LockRequest(f"o-{attempt}", f"m-{attempt % members}", (),
                              (FlashLine(campaign, "sku-hot", 1),), NOW_PLUS + timedelta(minutes=15))
        try:
            with runtime.transaction() as session:
                locks.lock_for_order(session, runtime, request, NOW_PLUS)
            return "locked"
        except ResourceExhausted as err:
            return err.violations[0].rule

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(buy, range(attempts)))
    with runtime.transaction() as session:
        taken = session.scalar(select(CampaignQuota.taken))
        most = session.scalar(select(func.max(MemberQuotaUsage.used)))
        holders = session.scalars(select(OrderLock.member_id).where(OrderLock.status == "locked")).all()
    return outcomes, taken, most, holders


def test_300_buyers_for_100_units_lock_exactly_100(runtime):
    outcomes, taken, most, holders = rush(runtime, attempts=300, members=300)
    assert outcomes.count("locked") == taken == len(holders) == 100
    assert set(outcomes) == {"locked", "quota_exhausted"} and most == 1


def test_60_members_tapping_5_times_each_hold_one_unit_each(runtime):
    outcomes, taken, most, holders = rush(runtime, attempts=300, members=60)
    assert outcomes.count("locked") == taken == 60 and most == 1
    assert sorted(holders) == sorted(f"m-{n}" for n in range(60))
    assert outcomes.count("per_member_limit") == 240
