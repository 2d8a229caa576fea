"""Coupon templates: what a coupon is worth, to whom, for how long and how many.

Kinds: fixed_amount (满减, amount off once the eligible subtotal reaches the threshold),
percentage (折扣, percent off, never more than the cap, optionally from a threshold) and
no_threshold (无门槛, amount off whatever the subtotal).

Staff edit a template (one nobody holds yet, whose window has not opened, freely; one in use only
its text, a bigger total, a later end) and retire it (no new claims or issues; coupons already
issued stay valid and usable). Every change is versioned, written to the history and announced
(coupon.template_changed).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from mall.events.v1 import promotion_events_pb2 as events
from sqlalchemy.orm import Session

from servicekit.db import row_by_id
from servicekit.errors import FailedPrecondition, FieldViolation, Violations
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from . import history
from .models import KINDS, CouponTemplate
from .requests import check_name, check_version, fingerprint, made_once, newest_first
from .scopes import check_scope

MAX_VALID_DAYS = 365
MAX_TOTAL_QUANTITY = 10_000_000


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    kind: str
    per_member_limit: int
    total_quantity: int
    scope: str
    description: str = ""
    amount_fen: int = 0
    threshold_fen: int = 0
    percent_off: int = 0
    cap_fen: int = 0
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days_after_claim: int | None = None
    category_ids: tuple[str, ...] = field(default_factory=tuple)
    product_ids: tuple[str, ...] = field(default_factory=tuple)
    claimable: bool = False

    def fingerprint(self) -> str:
        return fingerprint(self)


def validate(spec: TemplateSpec, now: datetime) -> None:
    """Every problem of the spec at once, as field violations (paths as in CouponTemplateSpec)."""
    v = Violations()
    check_name(v, spec.name, spec.description, "满199减30")
    if v.check(spec.kind in KINDS, "spec.kind", "one_of",
               f"kind must be one of {', '.join(KINDS)}"):
        _check_value(v, spec)
    _check_validity(v, spec, now)
    v.check(1 <= spec.total_quantity <= MAX_TOTAL_QUANTITY, "spec.total_quantity", "range",
            f"total_quantity must be 1..{MAX_TOTAL_QUANTITY}; got {spec.total_quantity}")
    if v.check(spec.per_member_limit >= 1, "spec.per_member_limit", "positive",
               f"per_member_limit must be at least 1; got {spec.per_member_limit}"):
        v.check(spec.per_member_limit <= max(spec.total_quantity, 1), "spec.per_member_limit",
                "within_total", "per_member_limit cannot exceed total_quantity "
                f"({spec.total_quantity})")
    check_scope(v, spec)
    v.raise_if_any("the coupon template is invalid")


def _check_value(v: Violations, spec: TemplateSpec) -> None:
    if spec.kind in ("fixed_amount", "no_threshold"):
        v.check(spec.amount_fen > 0, "spec.amount_fen", "positive",
                f"amount_fen must be more than 0 fen; got {spec.amount_fen}")
        v.check(spec.percent_off == 0, "spec.percent_off", "unused",
                f"percent_off is for percentage coupons; leave it 0 for {spec.kind}")
        v.check(spec.cap_fen == 0, "spec.cap_fen", "unused",
                f"cap_fen is for percentage coupons; leave it 0 for {spec.kind}")
    if spec.kind == "fixed_amount":
        v.check(spec.threshold_fen >= spec.amount_fen, "spec.threshold_fen", "at_least_amount",
                f"threshold_fen must be at least amount_fen ({spec.amount_fen}): a coupon takes "
                f"off no more than the spend it asks for; got {spec.threshold_fen}")
    if spec.kind == "no_threshold":
        v.check(spec.threshold_fen == 0, "spec.threshold_fen", "unused",
                "a no_threshold coupon has no threshold: leave threshold_fen 0, or use fixed_amount")
    if spec.kind == "percentage":
        v.check(1 <= spec.percent_off <= 99, "spec.percent_off", "range",
                f"percent_off must be 1..99 (15 means 15% off); got {spec.percent_off}")
        v.check(spec.cap_fen > 0, "spec.cap_fen", "positive",
                f"cap_fen, the most one coupon takes off, must be more than 0; got {spec.cap_fen}")
        v.check(spec.amount_fen == 0, "spec.amount_fen", "unused",
                "amount_fen is for fixed_amount and no_threshold coupons; leave it 0")
        v.check(spec.threshold_fen >= 0, "spec.threshold_fen", "non_negative",
                f"threshold_fen must be 0 or more; got {spec.threshold_fen}")


def _check_validity(v: Violations, spec: TemplateSpec, now: datetime) -> None:
    window = spec.valid_from is not None or spec.valid_until is not None
    days = spec.valid_days_after_claim is not None
    if not v.check(window != days, "spec.validity", "exactly_one",
                   "give either a window (valid_from, valid_until) or valid_days_after_claim"):
        return
    if days:
        v.check(1 <= spec.valid_days_after_claim <= MAX_VALID_DAYS,
                "spec.valid_days_after_claim", "range",
                f"valid_days_after_claim must be 1..{MAX_VALID_DAYS}; got {spec.valid_days_after_claim}")
        return
    has_from = v.check(spec.valid_from is not None, "spec.window.valid_from", "required",
                       "the window needs valid_from")
    has_until = v.check(spec.valid_until is not None, "spec.window.valid_until", "required",
                        "the window needs valid_until")
    if not (has_from and has_until):
        return
    if v.check(spec.valid_until > spec.valid_from, "spec.window.valid_until", "after_start",
               f"valid_until ({rfc3339(spec.valid_until)}) must be after valid_from "
               f"({rfc3339(spec.valid_from)})"):
        v.check(spec.valid_until > now, "spec.window.valid_until", "future",
                f"valid_until ({rfc3339(spec.valid_until)}) has already passed: "
                "no one could ever use this coupon")


def create(session: Session, runtime: Runtime, spec: TemplateSpec, *, created_by: str,
           idempotency_key: str = "") -> CouponTemplate:
    """Creates the template and announces it (coupon.template_created) in one transaction.
    A retry with the same idempotency key returns the template it made."""
    now = datetime.now(timezone.utc)
    fingerprint = spec.fingerprint()

    def insert() -> CouponTemplate:
        validate(spec, now)
        template = CouponTemplate(
            name=spec.name.strip(), description=spec.description, kind=spec.kind,
            amount_fen=spec.amount_fen, threshold_fen=spec.threshold_fen,
            percent_off=spec.percent_off, cap_fen=spec.cap_fen, valid_from=spec.valid_from,
            valid_until=spec.valid_until, valid_days_after_claim=spec.valid_days_after_claim,
            per_member_limit=spec.per_member_limit, total_quantity=spec.total_quantity,
            issued_count=0, scope=spec.scope, category_ids=list(spec.category_ids),
            product_ids=list(spec.product_ids), claimable=spec.claimable, created_by=created_by,
            created_at=now, idempotency_key=idempotency_key or None,
            request_fingerprint=fingerprint, version=1, retired_by="")
        session.add(template)
        session.flush()
        runtime.emit(session, "coupon.template_created", template_created_event(template))
        _record(session, template, "created", created_by, now, {})
        announce(runtime, session, template, "created", created_by)
        return template

    template, _ = made_once(session, CouponTemplate, created_by=created_by, key=idempotency_key,
                            fingerprint=fingerprint, create=insert)
    return template


def get(session: Session, template_id: str) -> CouponTemplate:
    return row_by_id(session, CouponTemplate, template_id, "coupon template")


def list_page(session: Session, limit: int, after_id: int | None) -> list[CouponTemplate]:
    return newest_first(session, CouponTemplate, limit, after_id)


def template_created_event(t: CouponTemplate) -> events.CouponTemplateCreated:
    return events.CouponTemplateCreated(
        template_id=str(t.id), name=t.name, kind=t.kind, amount_fen=t.amount_fen,
        threshold_fen=t.threshold_fen, percent_off=t.percent_off, cap_fen=t.cap_fen,
        valid_from=rfc3339(t.valid_from), valid_until=rfc3339(t.valid_until),
        valid_days_after_claim=t.valid_days_after_claim or 0,
        per_member_limit=t.per_member_limit, total_quantity=t.total_quantity, scope=t.scope,
        category_ids=t.category_ids, product_ids=t.product_ids, created_by=t.created_by,
        claimable=t.claimable)


# ---- editing and retiring ----

def spec_of(t: CouponTemplate) -> TemplateSpec:
    return TemplateSpec(
        name=t.name, kind=t.kind, per_member_limit=t.per_member_limit,
        total_quantity=t.total_quantity, scope=t.scope, description=t.description,
        amount_fen=t.amount_fen, threshold_fen=t.threshold_fen, percent_off=t.percent_off,
        cap_fen=t.cap_fen, valid_from=t.valid_from, valid_until=t.valid_until,
        valid_days_after_claim=t.valid_days_after_claim, category_ids=tuple(t.category_ids),
        product_ids=tuple(t.product_ids), claimable=t.claimable)


def in_use(t: CouponTemplate, now: datetime) -> bool:
    """Someone holds one of its coupons, or its validity window has opened."""
    return t.issued_count > 0 or (t.valid_from is not None and t.valid_from <= now)


def update(session: Session, runtime: Runtime, template_id: str, version: int, spec: TemplateSpec,
           *, updated_by: str) -> CouponTemplate:
    """Replaces a template's spec with `spec`, made on `version` (else ABORTED). A template not in
    use takes any spec create would accept; one in use keeps what its coupons are worth, to whom
    and from when (rule `in_use`): only its name, description, whether shoppers may claim it, a
    total not below what is issued, a later valid_until or more valid_days_after_claim. Coupons
    already issued keep their own validity. A retired template is FAILED_PRECONDITION."""
    now = datetime.now(timezone.utc)
    template = get(session, template_id)
    session.refresh(template, with_for_update=True)
    if template.retired_at is not None:
        raise FailedPrecondition(f"coupon template {template_id} is retired; it cannot be edited",
                                 [FieldViolation("id", "retired", "the template is retired")])
    check_version(version, template.version, f"coupon template {template_id}")
    before = spec_of(template)
    spec = replace(spec, name=spec.name.strip())
    if spec == before:
        return template
    validate(spec, now)
    if in_use(template, now):
        _refuse_revaluing(before, spec, template)
    was = _fields(template)
    for name in ("name", "description", "kind", "amount_fen", "threshold_fen", "percent_off",
                 "cap_fen", "valid_from", "valid_until", "valid_days_after_claim",
                 "per_member_limit", "total_quantity", "scope", "claimable"):
        setattr(template, name, getattr(spec, name))
    template.category_ids, template.product_ids = list(spec.category_ids), list(spec.product_ids)
    template.version += 1
    session.flush()
    _record(session, template, "updated", updated_by, now, was)
    announce(runtime, session, template, "updated", updated_by)
    return template


def _refuse_revaluing(before: TemplateSpec, after: TemplateSpec, t: CouponTemplate) -> None:
    v = Violations()
    for name in ("kind", "amount_fen", "threshold_fen", "percent_off", "cap_fen", "per_member_limit",
                 "scope", "category_ids", "product_ids", "valid_from"):
        v.check(getattr(before, name) == getattr(after, name), f"spec.{name}", "in_use",
                f"{name} cannot change once the template is in use (coupons hold its terms); "
                "retire it and create another")
    v.check(after.total_quantity >= t.issued_count, "spec.total_quantity", "below_issued",
            f"{t.issued_count} coupons are already issued; the total cannot go below that")
    if before.valid_days_after_claim is not None:
        v.check(after.valid_days_after_claim is not None
                and after.valid_days_after_claim >= before.valid_days_after_claim,
                "spec.valid_days_after_claim", "in_use",
                f"valid_days_after_claim can only grow once in use (now {before.valid_days_after_claim})")
    else:
        v.check(after.valid_until is not None and after.valid_until >= before.valid_until,
                "spec.window.valid_until", "in_use",
                f"valid_until can only move later once in use (now {rfc3339(before.valid_until)})")
    v.raise_if_any("a coupon template in use cannot be revalued")


def retire(session: Session, runtime: Runtime, template_id: str, *, retired_by: str) -> CouponTemplate:
    """No new claims or issues from now on; coupons already issued stay valid and usable.
    Retiring a retired template changes nothing."""
    template = get(session, template_id)
    session.refresh(template, with_for_update=True)
    if template.retired_at is not None:
        return template
    now = datetime.now(timezone.utc)
    template.retired_at, template.retired_by = now, retired_by
    template.version += 1
    session.flush()
    history.record(session, subject="coupon_template", subject_id=template.id, action="retired",
                   version=template.version, by=retired_by, at=now,
                   changes=[("retired", "false", "true")])
    announce(runtime, session, template, "retired", retired_by)
    return template


def announce(runtime: Runtime, session: Session, t: CouponTemplate, change: str, by: str) -> None:
    """coupon.template_changed: the whole template as it now is, with its version."""
    from .convert import template_message  # convert reads this module: imported when needed

    runtime.emit(session, "coupon.template_changed", events.CouponTemplateChanged(
        template=template_message(t), change=change, changed_by=by, version=t.version))


def _fields(t: CouponTemplate) -> dict[str, str]:
    from .convert import template_message

    return history.fields_of(template_message(t).spec)


def _record(session: Session, t: CouponTemplate, action: str, by: str, now: datetime,
            was: dict[str, str]) -> None:
    history.record(session, subject="coupon_template", subject_id=t.id, action=action,
                   version=t.version, by=by, at=now, changes=history.diff(was, _fields(t)))
