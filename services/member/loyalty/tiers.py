"""Membership tiers: the ladder staff configure, and each member's place on it.

A member holds the highest-ranked tier whose threshold they reach: `spend` tiers by qualifying
spend (completed orders' paid amount minus their refunds, over MALL_MEMBER_TIER_SPEND_WINDOW_DAYS,
0 = all time), `points` tiers by lifetime earned points (earned minus clawed back). Re-evaluated on
order.completed and order.refunded, and for everyone once a year (a ladder changed by staff
applies to each member at their next event, or at the yearly review).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from mall.events.v1 import member_events_pb2
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from servicekit.config import env_int
from servicekit.errors import FailedPrecondition, NotFound, Violations
from servicekit.runtime import Runtime
from servicekit.times import rfc3339, utcnow

from ..models import MemberOrder, MemberTier, PointsAccount, Tier
from . import defaults

SPEND, POINTS = "spend", "points"
CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
REASONS = ("order_completed", "refund", "yearly", "staff")


@dataclass(frozen=True)
class Standing:
    tier: Tier
    spend_fen: int
    earned_points: int
    next_tier: Tier | None

    @property
    def to_next(self) -> int:
        if self.next_tier is None:
            return 0
        have = self.spend_fen if self.next_tier.threshold_kind == SPEND else self.earned_points
        return max(self.next_tier.threshold - have, 0)


def ladder(session: Session) -> list[Tier]:
    tiers = list(session.scalars(select(Tier).order_by(Tier.rank)))
    if not tiers:  # never configured (staff cannot delete the rank-0 tier)
        defaults.ensure_tiers(session)
        tiers = list(session.scalars(select(Tier).order_by(Tier.rank)))
    return tiers


def entry_tier(tiers: list[Tier]) -> Tier:
    if not tiers or tiers[0].rank != 0:
        raise FailedPrecondition("no rank-0 tier is configured: staff must create one")
    return tiers[0]


def qualifying_spend(session: Session, member_id: str, now: datetime) -> int:
    refunded = func.max(MemberOrder.refunded_fen, MemberOrder.completed_refunded_fen) \
        if session.get_bind().dialect.name == "sqlite" \
        else func.greatest(MemberOrder.refunded_fen, MemberOrder.completed_refunded_fen)
    query = select(func.coalesce(func.sum(MemberOrder.paid_fen - refunded), 0)).where(
        MemberOrder.member_id == member_id, MemberOrder.completed_at.is_not(None))
    window = env_int("TIER_SPEND_WINDOW_DAYS", 0, "member")
    if window > 0:
        query = query.where(MemberOrder.completed_at >= now - timedelta(days=window))
    return max(int(session.scalar(query)), 0)


def standing(session: Session, member_id: str, now: datetime | None = None) -> Standing:
    now = now or utcnow()
    tiers = ladder(session)
    spend = qualifying_spend(session, member_id, now)
    earned = session.scalar(select(PointsAccount.earned_total)
                            .where(PointsAccount.member_id == member_id)) or 0
    reached = entry_tier(tiers)
    for tier in tiers:
        if (spend if tier.threshold_kind == SPEND else earned) >= tier.threshold:
            reached = tier
    higher = [t for t in tiers if t.rank > reached.rank]
    return Standing(reached, spend, earned, higher[0] if higher else None)


def held(session: Session, member_id: str) -> Tier:
    """The tier the member holds now (the entry tier until a re-evaluation placed them)."""
    row = session.get(MemberTier, member_id)
    tier = session.get(Tier, row.tier_code) if row is not None else None
    return tier or entry_tier(ladder(session))


def reevaluate(runtime: Runtime, session: Session, member_id: str, reason: str,
               now: datetime | None = None) -> Tier:
    """Places the member on the ladder; a move publishes member.tier_changed."""
    now = now or utcnow()
    row = session.get(MemberTier, member_id, with_for_update=True)
    before = held(session, member_id)
    after = standing(session, member_id, now).tier
    if row is None:
        row = MemberTier(member_id=member_id, tier_code=after.code, changed_at=now)
        session.add(row)
    row.evaluated_at = now
    if after.code != before.code:
        row.tier_code, row.changed_at = after.code, now
        runtime.emit(session, "member.tier_changed", member_events_pb2.TierChanged(
            member_id=member_id, from_tier=before.code, to_tier=after.code,
            from_rank=before.rank, to_rank=after.rank, reason=reason, changed_at=rfc3339(now)))
    return after


def put(session: Session, tier: Tier) -> Tier:
    """Creates or replaces the tier `tier.code`, keeping the ladder consistent."""
    v = Violations()
    v.check(bool(CODE.match(tier.code)), "code", "format",
            "2 to 32 of a-z, 0-9 and _, starting with a letter, e.g. gold")
    v.check(0 < len(tier.name.strip()) <= 32, "name", "required", "1 to 32 characters, e.g. 金卡会员")
    v.check(0 <= tier.rank <= 99, "rank", "range", "0 (the entry tier) to 99")
    v.check(tier.threshold_kind in (SPEND, POINTS), "threshold_kind", "known_kind",
            "spend (fen of completed orders) or points (lifetime earned)")
    v.check(tier.threshold >= 0, "threshold", "not_negative", "0 or more (fen or points)")
    if tier.rank == 0:
        v.check(tier.threshold == 0, "threshold", "entry_tier",
                "the rank-0 tier is where every member starts: its threshold must be 0")
    v.check(1 <= tier.discount_percent <= 100, "discount_percent", "range",
            "1..100: 95 means 95折 (5% off), 100 no discount")
    v.check(100 <= tier.points_multiplier_percent <= 1000, "points_multiplier_percent", "range",
            "100..1000: 150 means 1.5x points")
    v.check(tier.free_shipping_threshold_fen >= 0, "free_shipping_threshold_fen", "not_negative",
            "0 (no tier benefit) or the order amount in fen from which shipping is free")
    v.raise_if_any()
    others = [t for t in ladder(session) if t.code != tier.code]
    for other in others:
        if other.rank == tier.rank:
            v.add("rank", "unique", f"rank {tier.rank} is already {other.code} ({other.name}); "
                                    "each tier needs its own rank")
        elif other.threshold_kind == tier.threshold_kind and tier.rank > 0 and other.rank > 0 and (
                (other.rank < tier.rank and other.threshold >= tier.threshold)
                or (other.rank > tier.rank and other.threshold <= tier.threshold)):
            v.add("threshold", "ascending",
                  f"{other.code} (rank {other.rank}) needs {other.threshold}: thresholds of the "
                  "same kind must grow with the rank")
    v.raise_if_any()
    tier.name = tier.name.strip()
    tier.updated_at = utcnow()
    return session.merge(tier)


def delete(session: Session, code: str) -> None:
    tier = session.get(Tier, code)
    if tier is None:
        raise NotFound(f"no tier {code!r}")
    if tier.rank == 0:
        raise FailedPrecondition("the rank-0 tier cannot be deleted: every member starts there")
    holders = session.scalar(select(func.count()).select_from(MemberTier)
                             .where(MemberTier.tier_code == code))
    if holders:
        raise FailedPrecondition(f"{holders} members hold {code}: change its thresholds instead, "
                                 "or delete it once the yearly review has moved them")
    session.delete(tier)
