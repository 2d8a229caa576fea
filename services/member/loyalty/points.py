"""The points ledger: every change an appended entry, the balance kept beside it and never below
zero, credits forming lots that debits consume first-in first-out (soonest to expire first).

Every change locks the member's account row first (SELECT ... FOR UPDATE), then their lots: one
member's changes queue, different members' run side by side, and the order of locks is the same
everywhere, so two changes cannot deadlock. An entry with a reference (an order, a refund, a
redemption) exists once per kind: a retried or redelivered change finds it and does nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.errors import ResourceExhausted
from servicekit.times import SHANGHAI, shanghai_midnight, utcnow

from ..models import LoyaltySettings, PointsAccount, PointsAllocation, PointsEntry
from . import defaults

EARN, REDEEM, EXPIRE, ADJUST = "earn", "redeem", "expire", "adjust"
CLAWBACK, SPEND, RETURN = "clawback", "spend", "return"


@dataclass(frozen=True)
class Change:
    entry: PointsEntry
    applied: bool  # False: the same change was already in the ledger (a retry or redelivery)


def settings(session: Session) -> LoyaltySettings:
    found = session.get(LoyaltySettings, 1)
    if found is None:
        defaults.ensure_settings(session)
        found = session.get(LoyaltySettings, 1)
    return found


def expiry_for(earned_at: datetime, expire_after_years: int) -> datetime | None:
    """1 (the default): points earned in 2026 expire at the end of 2027, Asia/Shanghai.
    0: they never expire."""
    if expire_after_years <= 0:
        return None
    return shanghai_midnight(date(earned_at.astimezone(SHANGHAI).year + expire_after_years + 1, 1, 1))


def points_for_payment(paid_fen: int, rules: LoyaltySettings, multiplier_percent: int) -> int:
    """Whole units of `earn_unit_fen` paid, times the points per unit, times the tier's
    multiplier, rounded down: ¥259.90 with the defaults and 1.5x earns 2 × 10 × 1.5 = 30."""
    if paid_fen <= 0 or rules.earn_unit_fen <= 0:
        return 0
    return (paid_fen // rules.earn_unit_fen) * rules.earn_points_per_unit * multiplier_percent // 100


def account(session: Session, member_id: str) -> PointsAccount:
    """The member's account, locked for this transaction (created at zero on first use)."""
    session.execute(dialect_insert(session, PointsAccount.__table__).values(
        member_id=member_id, balance=0, earned_total=0, updated_at=utcnow())
        .on_conflict_do_nothing())
    return session.scalars(select(PointsAccount).where(PointsAccount.member_id == member_id)
                           .with_for_update().execution_options(populate_existing=True)).one()


def balance(session: Session, member_id: str) -> int:
    return session.scalar(select(PointsAccount.balance)
                          .where(PointsAccount.member_id == member_id)) or 0


def existing(session: Session, kind: str, ref: str) -> PointsEntry | None:
    return session.scalar(select(PointsEntry).where(PointsEntry.kind == kind, PointsEntry.ref == ref))


def credit(session: Session, member_id: str, kind: str, points: int, *, ref: str | None = None,
           reason: str = "", actor: str = "", expires_at: datetime | None = None,
           now: datetime | None = None) -> Change:
    """Adds a lot of `points` (> 0)."""
    acct = account(session, member_id)
    if ref is not None and (done := existing(session, kind, ref)) is not None:
        return Change(done, False)
    acct.balance += points
    if kind == EARN:
        acct.earned_total += points
    entry = _append(session, acct, kind, points, ref, reason, actor, now, expires_at=expires_at,
                    remaining=points)
    return Change(entry, True)


def debit(session: Session, member_id: str, kind: str, points: int, *, ref: str | None = None,
          reason: str = "", actor: str = "", clamp: bool = False, first_lot: int | None = None,
          now: datetime | None = None) -> Change:
    """Takes `points` (> 0) from the oldest lots (`first_lot` first, when given). Beyond the
    balance: RESOURCE_EXHAUSTED and nothing taken, or with `clamp` whatever is there."""
    acct = account(session, member_id)
    if ref is not None and (done := existing(session, kind, ref)) is not None:
        return Change(done, False)
    if points > acct.balance:
        if not clamp:
            raise ResourceExhausted(f"points: {points} asked, the balance is {acct.balance}; "
                                    f"use at most {acct.balance}")
        points = acct.balance
    acct.balance -= points
    if kind == CLAWBACK:
        acct.earned_total -= points
    entry = _append(session, acct, kind, -points, ref, reason, actor, now)
    _consume_lots(session, member_id, entry, points, first_lot)
    return Change(entry, True)


def give_back(session: Session, spent: PointsEntry, *, reason: str,
              now: datetime | None = None) -> Change:
    """Returns a debit (a cancelled order's points) to the lots it came from, each keeping its
    own expiry: points past their date go back only to expire at the next sweep."""
    acct = account(session, spent.member_id)
    if (done := existing(session, RETURN, spent.ref)) is not None:
        return Change(done, False)
    allocations = session.scalars(select(PointsAllocation)
                                  .where(PointsAllocation.debit_id == spent.id)).all()
    lots = {lot.id: lot for lot in session.scalars(
        select(PointsEntry).where(PointsEntry.id.in_([a.lot_id for a in allocations]))
        .with_for_update())}
    for allocation in allocations:
        lots[allocation.lot_id].remaining += allocation.points
    acct.balance += -spent.points
    entry = _append(session, acct, RETURN, -spent.points, spent.ref, reason, "", now)
    return Change(entry, True)


def expire_due(session: Session, member_id: str, now: datetime) -> int:
    """Writes an expire entry for each of the member's lots past its date; returns the points."""
    acct = account(session, member_id)
    lots = session.scalars(select(PointsEntry).where(
        PointsEntry.member_id == member_id, PointsEntry.remaining > 0,
        PointsEntry.expires_at <= now).order_by(PointsEntry.expires_at, PointsEntry.id)
        .with_for_update()).all()
    total = 0
    for lot in lots:
        points, lot.remaining = lot.remaining, 0
        acct.balance -= points
        total += points
        _append(session, acct, EXPIRE, -points, None,
                f"lot {lot.id} ({lot.kind} {lot.created_at.date().isoformat()}) expired", "", now)
    return total


def members_with_points_due(session: Session, now: datetime, limit: int) -> list[str]:
    return list(session.scalars(select(PointsEntry.member_id).where(
        PointsEntry.remaining > 0, PointsEntry.expires_at <= now).distinct().limit(limit)))


def next_expiry(session: Session, member_id: str) -> tuple[int, datetime | None]:
    """How many points expire first, and when."""
    first = session.scalar(select(func.min(PointsEntry.expires_at)).where(
        PointsEntry.member_id == member_id, PointsEntry.remaining > 0))
    if first is None:
        return 0, None
    due = session.scalar(select(func.sum(PointsEntry.remaining)).where(
        PointsEntry.member_id == member_id, PointsEntry.remaining > 0,
        PointsEntry.expires_at == first))
    return int(due or 0), first


def _consume_lots(session: Session, member_id: str, entry: PointsEntry, points: int,
                  first_lot: int | None) -> None:
    lots = list(session.scalars(select(PointsEntry).where(
        PointsEntry.member_id == member_id, PointsEntry.remaining > 0)
        .order_by(PointsEntry.expires_at.is_(None), PointsEntry.expires_at, PointsEntry.id)
        .with_for_update()))
    lots.sort(key=lambda lot: lot.id != first_lot)  # stable: the preferred lot, then FIFO
    for lot in lots:
        if points == 0:
            break
        take = min(points, lot.remaining)
        lot.remaining -= take
        points -= take
        session.add(PointsAllocation(debit_id=entry.id, lot_id=lot.id, points=take))
    if points:  # the balance said there was enough: the lots must agree
        raise RuntimeError(f"points lots of {member_id} short by {points}: ledger inconsistent")


def _append(session: Session, acct: PointsAccount, kind: str, points: int, ref: str | None,
            reason: str, actor: str, now: datetime | None, *, expires_at: datetime | None = None,
            remaining: int = 0) -> PointsEntry:
    now = now or utcnow()
    acct.updated_at = now
    entry = PointsEntry(member_id=acct.member_id, kind=kind, points=points,
                        balance_after=acct.balance, ref=ref, reason=reason[:200], actor=actor,
                        expires_at=expires_at, remaining=remaining, created_at=now)
    session.add(entry)
    session.flush()  # the id, for allocations; and the CHECK on the balance, now
    return entry
