"""What an order holds: its coupons and its flash-sale/gift quota units, taken all or nothing by
LockForOrder, spent by ConsumeForOrder (the order was paid), given back by ReleaseForOrder (the
order was cancelled, failed mid-saga, or its lock expired). Every call is idempotent by order id."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from mall.events.v1 import promotion_events_pb2 as events
from sqlalchemy import select
from sqlalchemy.orm import Session

from servicekit import idempotency
from servicekit.db import dialect_insert
from servicekit.errors import FailedPrecondition, FieldViolation, ResourceExhausted, Violations
from servicekit.ids import excerpt, try_int_id
from servicekit.runtime import Runtime
from servicekit.times import parse_rfc3339, rfc3339

from . import campaigns, counters, coupons
from .models import Campaign, CampaignQuota, MemberQuotaUsage, OrderLock

MAX_LOCK = timedelta(days=1)
RELEASED_BEFORE_LOCK = "released-before-lock"


@dataclass(frozen=True)
class FlashLine:
    campaign_id: str
    sku_id: str
    quantity: int


@dataclass(frozen=True)
class LockRequest:
    order_id: str
    member_id: str
    coupon_ids: tuple[str, ...]
    flash_lines: tuple[FlashLine, ...]
    expires_at: datetime | None

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([self.member_id, list(self.coupon_ids),
                                          [list(vars(f).values()) for f in self.flash_lines]])
                              .encode()).hexdigest()


def _validate(request: LockRequest, now: datetime) -> None:
    v = Violations()
    v.check(0 < len(request.order_id) <= 64, "order_id", "required", "order_id is required (up to 64 characters)")
    v.check(0 < len(request.member_id) <= 64, "member_id", "required", "member_id is required")
    if v.check(request.expires_at is not None, "expires_at", "required", "expires_at is required"):
        v.check(now < request.expires_at <= now + MAX_LOCK, "expires_at", "range",
                f"expires_at must be in the next {MAX_LOCK}; got {rfc3339(request.expires_at)}")
    seen = set()
    for i, line in enumerate(request.flash_lines):
        at = f"flash_lines[{i}]"
        v.check(try_int_id(line.campaign_id) is not None, f"{at}.campaign_id",
                "format", f"campaign_id {excerpt(line.campaign_id)} is not a campaign id")
        v.check(bool(line.sku_id), f"{at}.sku_id", "required", "sku_id is required")
        v.check(line.quantity >= 1, f"{at}.quantity", "positive",
                f"quantity must be at least 1; got {line.quantity}")
        v.check((line.campaign_id, line.sku_id) not in seen, at, "unique",
                "each campaign and SKU once; add the quantities up")
        seen.add((line.campaign_id, line.sku_id))
    v.check(len(set(request.coupon_ids)) == len(request.coupon_ids), "coupon_ids", "distinct",
            "each coupon once")
    v.raise_if_any("the lock request is invalid")


def lock_for_order(session: Session, runtime: Runtime, request: LockRequest, now: datetime) -> OrderLock:
    _validate(request, now)
    fingerprint = request.fingerprint()
    if session.get(OrderLock, request.order_id) is not None:
        return _replay(session, request, fingerprint)
    # A fixed order of rows, so two orders taking the same quotas never deadlock.
    order = sorted(range(len(request.flash_lines)),
                   key=lambda i: (int(request.flash_lines[i].campaign_id), request.flash_lines[i].sku_id))
    quotas = {i: _quota_of(session, request.flash_lines[i], f"flash_lines[{i}]", now) for i in order}
    # Plain reads before writing anything: once a flash sale is sold out, its many late buyers are
    # refused at the cost of a read, without queueing for the quota row's lock. The conditional
    # UPDATE in _take stays the real guard.
    for i, quota in quotas.items():
        if quota.left() < request.flash_lines[i].quantity:
            quota.gone()
    # The row next: a concurrent call for the same order waits here, then replays.
    inserted = session.execute(dialect_insert(session, OrderLock).values(
        order_id=request.order_id, member_id=request.member_id, status="locked",
        coupon_ids=list(request.coupon_ids),
        flash_lines=[],  # filled with what was taken, and from which session
        expires_at=request.expires_at, created_at=now, updated_at=now,
        request_fingerprint=fingerprint).on_conflict_do_nothing().returning(OrderLock.order_id)).scalar()
    if inserted is None:
        return _replay(session, request, fingerprint)
    coupons.lock(session, request.member_id, list(request.coupon_ids), request.order_id, now)
    for quota in quotas.values():
        quota.take(request.member_id)
    session.get(OrderLock, request.order_id).flash_lines = [  # what a release gives back
        [q.line.campaign_id, q.line.sku_id, q.line.quantity, q.session_key] for q in quotas.values()]
    if request.coupon_ids or quotas:  # most orders hold nothing here: nothing to announce
        runtime.emit(session, "coupon.locked", events.OrderPromotionsLocked(
            order_id=request.order_id, member_id=request.member_id,
            coupon_ids=list(request.coupon_ids), expires_at=rfc3339(request.expires_at)))
    return session.get(OrderLock, request.order_id)


def _replay(session: Session, request: LockRequest, fingerprint: str) -> OrderLock:
    done = session.get(OrderLock, request.order_id, with_for_update=True)
    if done.request_fingerprint == RELEASED_BEFORE_LOCK:
        raise FailedPrecondition(f"order {request.order_id} was released before it locked anything",
                                 [FieldViolation("order_id", "released", "the order is over; "
                                                 "a new attempt needs a new order")])
    return idempotency.replay(done, key=request.order_id, field="order_id",
                              same=done.request_fingerprint == fingerprint)


@dataclass
class _Quota:
    """One flash line's quota: its running campaign and the session its units count in."""
    session: Session
    campaign: Campaign
    line: FlashLine
    at: str
    session_key: str

    @property
    def key(self) -> dict:
        return {"campaign_id": self.campaign.id, "sku_id": self.line.sku_id,
                "session_key": self.session_key}

    @property
    def counted(self) -> bool:
        """Whether the SKU has a quota (a sale's SKU without one only counts the member limit)."""
        return self.campaign.kind != "sale" or bool(
            campaigns.quota_total(self.campaign, self.line.sku_id))

    def left(self) -> int:
        """Units left as last committed (a weekly session nobody bought from yet: all of them)."""
        if not self.counted:
            return self.line.quantity
        left = self.session.scalar(select(CampaignQuota.total - CampaignQuota.taken)
                                   .filter_by(**self.key))
        if left is None and self.session_key:
            return campaigns.quota_total(self.campaign, self.line.sku_id) or 0
        return left or 0

    def gone(self) -> None:
        c, line = self.campaign, self.line
        raise ResourceExhausted(
            f"{self.at}: the quota of SKU {line.sku_id} in campaign {c.id} ({c.name}) is gone",
            [FieldViolation(f"{self.at}.quantity", "quota_exhausted",
                            f"not {line.quantity} unit(s) of {line.sku_id} left in campaign {c.id}")])

    def take(self, member_id: str) -> None:
        """The member's units (within the per-member limit), then the quota's (within its total)."""
        c, line = self.campaign, self.line
        if self.session_key and self.counted:  # a weekly session's quota starts full at its first lock
            self.session.execute(dialect_insert(self.session, CampaignQuota).values(
                **self.key, total=campaigns.quota_total(c, line.sku_id), taken=0)
                .on_conflict_do_nothing())
        limited = c.kind == "flash_sale" or (c.kind == "sale" and c.per_member_limit > 0)
        if limited and not counters.add_within(
                self.session, MemberQuotaUsage,
                {"campaign_id": c.id, "member_id": member_id, "session_key": self.session_key},
                "used", line.quantity, c.per_member_limit):
            raise ResourceExhausted(
                f"{self.at}: member {member_id} may buy at most {c.per_member_limit} in campaign "
                f"{c.id} ({c.name})",
                [FieldViolation(f"{self.at}.quantity", "per_member_limit",
                                f"at most {c.per_member_limit} per member in this campaign")])
        if self.counted and not counters.take_within(self.session, CampaignQuota, self.key,
                                                     line.quantity, taken="taken", total="total"):
            self.gone()


def _quota_of(session: Session, line: FlashLine, at: str, now: datetime) -> _Quota:
    campaign = session.get(Campaign, int(line.campaign_id))
    # A sale over a scope prices SKUs it does not name: the quote decided that from the line's
    # product and categories; only a SKU it names can have a quota.
    if campaign is None or campaign.kind not in ("flash_sale", "gift", "sale") or (
            campaign.kind != "sale" and line.sku_id not in campaigns.sku_ids_of(campaign)):
        raise FailedPrecondition(f"{at}: campaign {line.campaign_id} has no quota for SKU {line.sku_id}",
                                 [FieldViolation(at, "unknown", "quote again: no such campaign quota")])
    if campaign.status != "active" or not _open(campaign, now):
        raise FailedPrecondition(f"{at}: campaign {campaign.id} ({campaign.name}) is not running now",
                                 [FieldViolation(at, "not_running", "quote again: the campaign is over")])
    return _Quota(session, campaign, line, at, campaigns.session_key(campaign, now))


def _open(campaign: Campaign, now: datetime) -> bool:
    """Running now (a sale open early to some tiers: from its early opening; which tier may buy
    was the quote's to say)."""
    if campaigns.window_of(campaign).contains(now):
        return True
    early = campaign.terms.get("early_access_from") if campaign.kind == "sale" else ""
    return bool(early) and parse_rfc3339(early) <= now < campaign.starts_at


def release_for_order(session: Session, runtime: Runtime, order_id: str, now: datetime,
                      member_id: str = "", paid: bool = False) -> OrderLock:
    """Gives back what `order_id` holds. Releasing an order that locked nothing (yet) leaves a
    tombstone, so a lock that arrives late for a cancelled order is refused. `paid`: a paid
    order cancelled (its money goes back): what its payment consumed comes back too, so the end
    is the same whether order.paid or order.cancelled was heard first."""
    lock = session.get(OrderLock, order_id, with_for_update=True)
    if lock is None:
        session.execute(dialect_insert(session, OrderLock).values(
            order_id=order_id, member_id=member_id, status="released", coupon_ids=[], flash_lines=[],
            expires_at=now, created_at=now, updated_at=now,
            request_fingerprint=RELEASED_BEFORE_LOCK).on_conflict_do_nothing())
        coupons.release_for_order(session, runtime, order_id, member_id, now)  # older direct locks
        return session.get(OrderLock, order_id, with_for_update=True)
    if lock.status == "locked" or (paid and lock.status == "consumed"):
        _give_back(session, runtime, lock, now)
    return lock


def _give_back(session: Session, runtime: Runtime, lock: OrderLock, now: datetime) -> None:
    for campaign_id, sku_id, quantity, session_key in sorted(lock.flash_lines,
                                                             key=lambda f: (int(f[0]), f[1])):
        counters.give_back(session, CampaignQuota, {"campaign_id": int(campaign_id), "sku_id": sku_id,
                                                    "session_key": session_key}, "taken", quantity)
        counters.give_back(session, MemberQuotaUsage,
                           {"campaign_id": int(campaign_id), "member_id": lock.member_id,
                            "session_key": session_key}, "used", quantity)
    coupons.release_for_order(session, runtime, lock.order_id, lock.member_id, now,
                              used_too=lock.status == "consumed")
    lock.status, lock.updated_at = "released", now


def consume_for_order(session: Session, runtime: Runtime, order_id: str, now: datetime,
                      member_id: str = "") -> OrderLock | None:
    """The order was paid: its coupons are used, its quota units sold. Repeats change nothing;
    an order whose lock was already released is FAILED_PRECONDITION."""
    lock = session.get(OrderLock, order_id, with_for_update=True)
    if lock is None:
        return None
    if lock.status == "released":
        raise FailedPrecondition(f"order {order_id}'s promotions were released at "
                                 f"{rfc3339(lock.updated_at)}; they cannot be consumed")
    if lock.status == "locked":
        coupons.use_for_order(session, runtime, order_id, member_id or lock.member_id, now)
        lock.status, lock.updated_at = "consumed", now
    return lock


def hold_until(session: Session, order_id: str, until: datetime) -> OrderLock | None:
    """A pre-sale order's deposit was paid (order.deposit_paid): its lock is held until its
    balance window closed (`until`), never shortened, so the expiry timer does not give its
    coupons back while it waits for the balance. A lock already given back stays so."""
    lock = session.get(OrderLock, order_id, with_for_update=True)
    if lock is not None and lock.status == "locked" and lock.expires_at < until:
        lock.expires_at = until
    return lock


def release_expired(session: Session, runtime: Runtime, now: datetime, batch: int = 100) -> int:
    """Locks past expires_at (the order crashed mid-saga or was never paid nor cancelled) are
    released. SKIP LOCKED: several worker replicas share the work without waiting on each other."""
    due = list(session.scalars(select(OrderLock).where(
        OrderLock.status == "locked", OrderLock.expires_at <= now)
        .order_by(OrderLock.expires_at).limit(batch).with_for_update(skip_locked=True)))
    for lock in due:
        _give_back(session, runtime, lock, now)
    return len(due)
