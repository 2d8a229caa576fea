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


def test_300_attempts_by_150_members_lock_exactly_100_and_nobody_twice(runtime):
    with runtime.transaction() as session:
        campaign = str(campaigns.create(session, runtime, flash_spec(("sku-hot",), quota=100, limit=1),
                                        created_by="staff-1").id)
    now = NOW + timedelta(seconds=1)

    def buy(attempt: int) -> str:
        member = f"m-{attempt % 150}"
        request = LockRequest(f"o-{attempt}", member, (), (FlashLine(campaign, "sku-hot", 1),),
                              now + timedelta(minutes=15))
        try:
            with runtime.transaction() as session:
                locks.lock_for_order(session, runtime, request, now)
            return "locked"
        except ResourceExhausted as err:
            return err.violations[0].rule

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(buy, range(300)))
    assert outcomes.count("locked") == 100
    assert set(outcomes) == {"locked", "quota_exhausted", "per_member_limit"}
    with runtime.transaction() as session:
        assert session.scalar(select(CampaignQuota.taken)) == 100
        assert session.scalar(select(func.max(MemberQuotaUsage.used))) == 1
        holders = session.scalars(select(OrderLock.member_id).where(OrderLock.status == "locked")).all()
    assert len(holders) == len(set(holders)) == 100
