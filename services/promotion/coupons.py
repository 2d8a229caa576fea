"""Issued coupons: claim, issue (staff, events), revoke, list, and the states an order moves them
through (available -> locked -> used; back to available or expired on release)."""
from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta, timezone

from mall.events.v1 import promotion_events_pb2 as events
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from servicekit import idempotency
from servicekit.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Violations,
)
from servicekit.ids import check_references, excerpt
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from . import counters, templates
from .models import COUPON_STATES, CouponTemplate, IssuedCoupon, MemberCouponCount
from .pricing import CouponOffer, Scope
from .requests import parse_id

MAX_ISSUE_BATCH = 1000
MAX_UNKNOWN_NAMED = 20  # violations named for ids that are not members (the message counts them all)


def _ids(raw_ids) -> list[int]:
    return [i for i in map(parse_id, raw_ids) if i is not None]


# ---- reading ----

# Core, not ORM, and built once: Quote reads coupons on every call (see bench/quote.py).
_coupons, _templates = IssuedCoupon.__table__, CouponTemplate.__table__
_OFFERS = select(
    _coupons.c.id, _coupons.c.member_id, _coupons.c.status, _coupons.c.valid_from,
    _coupons.c.valid_until, _templates.c.name, _templates.c.kind, _templates.c.amount_fen,
    _templates.c.threshold_fen, _templates.c.percent_off, _templates.c.cap_fen, _templates.c.scope,
    _templates.c.category_ids, _templates.c.product_ids,
).join_from(_coupons, _templates, _templates.c.id == _coupons.c.template_id).where(
    _coupons.c.id.in_(bindparam("ids", expanding=True)))


def offers(connection, coupon_ids) -> dict[str, CouponOffer]:
    """The coupons named (that exist), with their templates' terms, for the pricing engine."""
    ids = _ids(coupon_ids)
    if not ids:
        return {}
    return {str(r.id): CouponOffer(
        coupon_id=str(r.id), member_id=r.member_id, status=r.status, name=r.name, kind=r.kind,
        valid_from=r.valid_from, valid_until=r.valid_until, amount_fen=r.amount_fen,
        threshold_fen=r.threshold_fen, percent_off=r.percent_off, cap_fen=r.cap_fen,
        scope=Scope(r.scope, frozenset(r.category_ids or ()), frozenset(r.product_ids or ())))
        for r in connection.execute(_OFFERS, {"ids": ids})}


def list_mine(session: Session, member_id: str, status: str, limit: int,
              after_id: int | None) -> list[tuple[IssuedCoupon, CouponTemplate]]:
    """Newest first; `limit + 1` rows tell whether there is a next page."""
    if status and status not in COUPON_STATES:
        raise InvalidArgument.field("status", "one_of",
                                    f"status must be empty or one of {', '.join(COUPON_STATES)}")
    query = (select(IssuedCoupon, CouponTemplate)
             .join(CouponTemplate, CouponTemplate.id == IssuedCoupon.template_id)
             .where(IssuedCoupon.member_id == member_id)
             .order_by(IssuedCoupon.id.desc()).limit(limit + 1))
    if status:
        query = query.where(IssuedCoupon.status == status)
    if after_id is not None:
        query = query.where(IssuedCoupon.id < after_id)
    return [tuple(row) for row in session.execute(query)]


def all_of(session: Session, member_id: str) -> list[tuple[IssuedCoupon, CouponTemplate]]:
    """Every coupon issued to the member, in any state, oldest first (her data export)."""
    return [tuple(row) for row in session.execute(
        select(IssuedCoupon, CouponTemplate)
        .join(CouponTemplate, CouponTemplate.id == IssuedCoupon.template_id)
        .where(IssuedCoupon.member_id == member_id).order_by(IssuedCoupon.id))]


def claimable(session: Session, now: datetime, limit: int, after_id: int | None) -> list[CouponTemplate]:
    query = (select(CouponTemplate)
             .where(CouponTemplate.claimable.is_(True), CouponTemplate.retired_at.is_(None),
                    CouponTemplate.issued_count < CouponTemplate.total_quantity,
                    (CouponTemplate.valid_until.is_(None)) | (CouponTemplate.valid_until > now))
             .order_by(CouponTemplate.id.desc()).limit(limit + 1))
    if after_id is not None:
        query = query.where(CouponTemplate.id < after_id)
    return list(session.scalars(query))


# ---- issuing ----

def claim(session: Session, runtime: Runtime, member_id: str, template_id: str) -> IssuedCoupon:
    """A shopper takes a claimable coupon: within the per-member limit and the total quantity."""
    template = templates.get(session, template_id)
    if not template.claimable:
        raise FailedPrecondition(f"coupon template {template_id} is not open for claiming", [
            FieldViolation("template_id", "not_claimable", "this coupon is issued by the shop, not claimed")])
    return _issue(session, runtime, template, member_id, source="claim", source_ref=member_id,
                  enforce_member_limit=True)


def issue_to_members(session: Session, runtime: Runtime, template_id: str, member_ids: list[str], *,
                     staff_id: str, existing: Callable[[list[str]], Collection[str]],
                     idempotency_key: str = "") -> list[IssuedCoupon]:
    """Staff issue one coupon to each member of a list (a segment): all or none. A retry with the
    same idempotency key returns the coupons the first call issued. `existing(ids)` says which
    ids are live members (member's MembersExist): any other id refuses the whole list
    (`member_ids[i]`, `unknown`; a deleted member is unknown) before anything is written."""
    v = Violations()
    if v.check(1 <= len(member_ids) <= MAX_ISSUE_BATCH, "member_ids", "count",
               f"give 1..{MAX_ISSUE_BATCH} member ids; got {len(member_ids)}"):
        v.check(all(member_ids) and len(set(member_ids)) == len(member_ids), "member_ids",
                "distinct", "member ids must be distinct and non-empty")
        check_references(v, "member_ids", member_ids)
    v.raise_if_any("the members to issue to are invalid")
    live = set(existing(member_ids))
    unknown = [i for i, member_id in enumerate(member_ids) if member_id not in live]
    for i in unknown[:MAX_UNKNOWN_NAMED]:
        v.add(f"member_ids[{i}]", "unknown", f"{excerpt(member_ids[i])} is not a member")
    v.raise_if_any(f"{len(unknown)} of the {len(member_ids)} member ids are not members: "
                   "nothing was issued")
    template = templates.get(session, template_id)
    return [_issued_by_staff(session, runtime, template, member_id, staff_id, idempotency_key)
            for member_id in member_ids]


def _issued_by_staff(session: Session, runtime: Runtime, template: CouponTemplate, member_id: str,
                     staff_id: str, key: str) -> IssuedCoupon:
    """One member's coupon of a staff issue, once per idempotency key (kept on the coupon, with
    the staff member and the member); the key used for another template is refused."""
    issue_key = f"staff:{staff_id}:{key}:{member_id}" if key else None
    coupon, _ = idempotency.create_once(
        session, key=key,
        create=lambda: _issue(session, runtime, template, member_id, source="staff",
                              source_ref=staff_id, enforce_member_limit=True, issue_key=issue_key),
        find=lambda: session.scalars(select(IssuedCoupon)
                                     .where(IssuedCoupon.issue_key == issue_key)).first(),
        same=lambda done: done.template_id == template.id)
    return coupon


def issue_for_event(session: Session, runtime: Runtime, *, template_id: str, member_id: str,
                    source: str, source_ref: str, quantity: int = 1) -> list[IssuedCoupon]:
    """Coupons a member earned elsewhere (points mall, birthday): keyed by the source's id, so a
    redelivered or replayed event issues nothing twice. The per-member limit does not apply (the
    member paid points or it is their birthday); the total quantity does: when the template is
    unknown, ended or exhausted, `coupon.issue_failed` says so and nothing is issued (member
    gives a points-mall redemption's points back)."""
    keys = [f"{source}:{source_ref}:{n}" for n in range(max(quantity, 1))]
    done = list(session.scalars(select(IssuedCoupon).where(IssuedCoupon.issue_key.in_(keys))))
    if done:
        return done
    try:
        template = templates.get(session, template_id)
        with session.begin_nested():
            return [_issue(session, runtime, template, member_id, source=source,
                           source_ref=source_ref, enforce_member_limit=False, issue_key=key)
                    for key in keys]
    except (NotFound, ResourceExhausted, FailedPrecondition) as err:
        runtime.emit(session, "coupon.issue_failed", events.CouponIssueFailed(
            template_id=template_id, member_id=member_id, source=source, source_ref=source_ref,
            reason=_FAILURE_REASONS[type(err)], quantity=len(keys)))
        return []


# Why an event's coupon was not issued, as coupon.issue_failed says it (FailedPrecondition: the
# template's validity window is over).
_FAILURE_REASONS = {NotFound: "not_found", ResourceExhausted: "exhausted", FailedPrecondition: "ended"}


def _issue(session: Session, runtime: Runtime, template: CouponTemplate, member_id: str, *,
           source: str, source_ref: str, enforce_member_limit: bool,
           issue_key: str | None = None) -> IssuedCoupon:
    if issue_key:
        done = session.scalars(select(IssuedCoupon).where(IssuedCoupon.issue_key == issue_key)).first()
        if done is not None:
            return done
    if template.retired_at is not None:
        raise _retired(template)
    now = datetime.now(timezone.utc)
    if template.valid_days_after_claim:
        valid_from, valid_until = now, now + timedelta(days=template.valid_days_after_claim)
    else:
        valid_from, valid_until = template.valid_from, template.valid_until
        if valid_until <= now:
            raise FailedPrecondition(f"coupon template {template.id} ({template.name}) is over", [
                FieldViolation("template_id", "over", f"its validity ended at {rfc3339(valid_until)}")])
    limit = template.per_member_limit if enforce_member_limit else None
    if not counters.add_within(session, MemberCouponCount,
                               {"template_id": template.id, "member_id": member_id}, "issued", 1, limit):
        raise ResourceExhausted(
            f"member {member_id} already holds {template.per_member_limit} of coupon "
            f"{template.id} ({template.name})",
            [FieldViolation("template_id", "per_member_limit",
                        f"at most {template.per_member_limit} per member")])
    if not counters.take_within(session, CouponTemplate, {"id": template.id}, 1,
                                taken="issued_count", total="total_quantity",
                                also=[CouponTemplate.retired_at.is_(None)]):
        session.refresh(template)
        if template.retired_at is not None:  # retired while this claim was on its way
            raise _retired(template)
        raise ResourceExhausted(f"coupon {template.id} ({template.name}) is all gone", [
            FieldViolation("template_id", "exhausted",
                       f"all {template.total_quantity} coupons have been issued")])
    coupon = IssuedCoupon(template_id=template.id, member_id=member_id, status="available",
                          valid_from=valid_from, valid_until=valid_until, claimed_at=now,
                          updated_at=now, source=source, source_ref=source_ref, issue_key=issue_key)
    session.add(coupon)
    session.flush()
    runtime.emit(session, "coupon.issued", events.CouponIssued(
        coupon_id=str(coupon.id), template_id=str(template.id), member_id=member_id,
        name=template.name, source=source, source_ref=source_ref,
        valid_from=rfc3339(valid_from), valid_until=rfc3339(valid_until)))
    return coupon


def _retired(template: CouponTemplate) -> FailedPrecondition:
    return FailedPrecondition(
        f"coupon {template.id} ({template.name}) is retired: no new coupons are issued",
        [FieldViolation("template_id", "retired", "this coupon is no longer offered; coupons "
                                                  "already issued stay valid")])


def revoke(session: Session, runtime: Runtime, coupon_id: str, *, reason: str,
           staff_id: str) -> IssuedCoupon:
    """Staff take back an available coupon (a locked one first needs its order released)."""
    ids = _ids([coupon_id])
    coupon = session.get(IssuedCoupon, ids[0], with_for_update=True) if ids else None
    if coupon is None:
        raise NotFound(f"there is no coupon {coupon_id!r}")
    if coupon.status != "available":
        raise FailedPrecondition(f"coupon {coupon_id} is {coupon.status}; only an available coupon "
                                 "can be revoked")
    coupon.status, coupon.revoked_reason = "revoked", reason[:200]
    coupon.updated_at = datetime.now(timezone.utc)
    runtime.emit(session, "coupon.revoked", events.CouponRevoked(
        coupon_id=coupon_id, member_id=coupon.member_id, reason=reason[:200], revoked_by=staff_id))
    return coupon


def revoke_all_of(session: Session, runtime: Runtime, member_id: str, *, reason: str) -> int:
    """Every available coupon of a member whose account is gone is revoked (used and locked ones
    stay with their orders, which are kept anonymised)."""
    held = list(session.scalars(select(IssuedCoupon).where(
        IssuedCoupon.member_id == member_id, IssuedCoupon.status == "available")
        .order_by(IssuedCoupon.id).with_for_update()))
    now = datetime.now(timezone.utc)
    for coupon in held:
        coupon.status, coupon.revoked_reason, coupon.updated_at = "revoked", reason, now
        runtime.emit(session, "coupon.revoked", events.CouponRevoked(
            coupon_id=str(coupon.id), member_id=member_id, reason=reason, revoked_by="member.deleted"))
    return len(held)


# ---- order transitions ----

def lock(session: Session, member_id: str, coupon_ids: list[str], order_id: str,
         now: datetime) -> None:
    """available -> locked for `order_id`, every coupon or none (the caller's transaction rolls
    back on the error). Each coupon must be the member's, available and valid now."""
    ids = _ids(coupon_ids)
    rows = {str(c.id): c for c in session.scalars(
        select(IssuedCoupon).where(IssuedCoupon.id.in_(ids)).order_by(IssuedCoupon.id)
        .with_for_update())} if ids else {}
    v = Violations()
    for i, coupon_id in enumerate(coupon_ids):
        coupon = rows.get(coupon_id)
        at = f"coupon_ids[{i}]"
        if not v.check(coupon is not None and coupon.member_id == member_id, at, "not_yours",
                       f"coupon {coupon_id} is not in member {member_id}'s wallet"):
            continue
        if not v.check(coupon.status == "available", at, "not_available",
                       f"coupon {coupon_id} is {coupon.status}; only an available coupon can be used"):
            continue
        if v.check(now >= coupon.valid_from, at, "not_yet_valid",
                   f"coupon {coupon_id} can be used from {rfc3339(coupon.valid_from)}"):
            v.check(now < coupon.valid_until, at, "expired",
                    f"coupon {coupon_id} expired at {rfc3339(coupon.valid_until)}")
    v.raise_if_any("coupons cannot be locked for this order")
    for coupon_id in coupon_ids:
        coupon = rows[coupon_id]
        coupon.status, coupon.locked_order_id, coupon.locked_at, coupon.updated_at = \
            "locked", order_id, now, now


def use_for_order(session: Session, runtime: Runtime, order_id: str, member_id: str,
                  now: datetime) -> list[IssuedCoupon]:
    """locked -> used for the coupons `order_id` holds; a repeat finds none and changes nothing."""
    locked = list(session.scalars(select(IssuedCoupon).where(
        IssuedCoupon.locked_order_id == order_id, IssuedCoupon.status == "locked")
        .order_by(IssuedCoupon.id).with_for_update()))
    for coupon in locked:
        coupon.status, coupon.used_order_id, coupon.used_at = "used", order_id, now
        coupon.locked_order_id, coupon.locked_at, coupon.updated_at = None, None, now
    if locked:
        runtime.emit(session, "coupon.used", events.CouponsUsed(
            order_id=order_id, member_id=member_id or locked[0].member_id,
            coupon_ids=[str(c.id) for c in locked], used_at=rfc3339(now)))
    return locked


def release_for_order(session: Session, runtime: Runtime, order_id: str, member_id: str = "",
                      now: datetime | None = None, *, used_too: bool = False) -> list[IssuedCoupon]:
    """The coupons `order_id` locked go back to their owner: available again, or expired when
    their validity ended while they were locked. Coupons already used (unless `used_too`: a paid
    order cancelled and refunded) or revoked are untouched, so a late or repeated cancellation
    changes nothing."""
    now = now or datetime.now(timezone.utc)
    held = (IssuedCoupon.locked_order_id == order_id) & (IssuedCoupon.status == "locked")
    if used_too:
        held = held | ((IssuedCoupon.used_order_id == order_id) & (IssuedCoupon.status == "used"))
    locked = list(session.scalars(select(IssuedCoupon).where(held)
                                  .order_by(IssuedCoupon.id).with_for_update()))
    if not locked:
        return []
    for coupon in locked:
        coupon.status = "expired" if coupon.valid_until <= now else "available"
        coupon.locked_order_id, coupon.locked_at, coupon.updated_at = None, None, now
        coupon.used_order_id, coupon.used_at = None, None
    runtime.emit(session, "coupon.released", events.CouponsReleased(
        order_id=order_id, member_id=member_id or locked[0].member_id,
        available_coupon_ids=[str(c.id) for c in locked if c.status == "available"],
        expired_coupon_ids=[str(c.id) for c in locked if c.status == "expired"]))
    return locked


# ---- timers ----

REMIND_BEFORE = timedelta(days=3)


def expire_due(session: Session, runtime: Runtime, now: datetime, batch: int = 500) -> int:
    """available coupons past their validity -> expired (SKIP LOCKED: replicas share the work)."""
    due = list(session.scalars(select(IssuedCoupon).where(
        IssuedCoupon.status == "available", IssuedCoupon.valid_until <= now)
        .order_by(IssuedCoupon.id).limit(batch).with_for_update(skip_locked=True)))
    for coupon in due:
        coupon.status, coupon.updated_at = "expired", now
        runtime.emit(session, "coupon.expired", events.CouponExpired(
            coupon_id=str(coupon.id), member_id=coupon.member_id, template_id=str(coupon.template_id)))
    return len(due)


def remind_expiring(session: Session, runtime: Runtime, now: datetime, batch: int = 500) -> int:
    """One `coupon.expiring` per available coupon, once, within three days of its end."""
    due = session.execute(select(IssuedCoupon, CouponTemplate).join(
        CouponTemplate, CouponTemplate.id == IssuedCoupon.template_id).where(
        IssuedCoupon.status == "available", IssuedCoupon.reminded_at.is_(None),
        IssuedCoupon.valid_until > now, IssuedCoupon.valid_until <= now + REMIND_BEFORE)
        .order_by(IssuedCoupon.id).limit(batch).with_for_update(of=IssuedCoupon, skip_locked=True)).all()
    for coupon, template in due:
        coupon.reminded_at = now
        runtime.emit(session, "coupon.expiring", events.CouponExpiring(
            coupon_id=str(coupon.id), member_id=coupon.member_id, template_id=str(template.id),
            name=template.name, valid_until=rfc3339(coupon.valid_until),
            amount_fen=template.amount_fen, percent_off=template.percent_off))
    return len(due)


