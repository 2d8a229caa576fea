"""Campaigns: created by staff (validated, checked against the stacking rules, announced), read,
edited (a scheduled one freely, a running one without repricing), ended early; every change
versioned, written to the history and announced (campaign.changed). Quotas of flash-sale SKUs
and gifts are rows of `campaign_quotas`: one per SKU, or for a weekly flash sale one per SKU and
session, made by the session's first lock."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from mall.events.v1 import promotion_events_pb2 as events
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from servicekit.db import is_postgres, row_by_id
from servicekit.errors import FailedPrecondition, FieldViolation, Violations
from servicekit.runtime import Runtime
from servicekit.times import parse_rfc3339, rfc3339

from . import campaign_spec, history, sales
from .announce import announce
from .campaign_spec import CampaignSpec, FlashItem, GiftTerms, PresaleItemTerms, PresaleTerms
from .models import Campaign, CampaignQuota
from .pricing import Window
from .requests import check_version, made_once, newest_first
from .scopes import intersects

# Kinds that set a SKU's price one at a time per SKU (a SKU has one flash or pre-sale price at
# any moment); sales may overlap them and each other, the engine giving a line its best price,
# as long as they agree on what stacks.
SALE_KINDS = ("flash_sale", "presale", "sale")


def create(session: Session, runtime: Runtime, spec: CampaignSpec, *, created_by: str,
           idempotency_key: str = "") -> Campaign:
    now = datetime.now(timezone.utc)
    fingerprint = spec.fingerprint()

    def insert() -> Campaign:
        campaign_spec.validate(spec, now)
        _serialize_creates(session)
        _refuse_forbidden_overlaps(session, spec, now)
        campaign = Campaign(
            kind=spec.kind, name=spec.name.strip(), description=spec.description, status="active",
            starts_at=spec.starts_at, ends_at=spec.ends_at,
            weekday=spec.session_days()[0] if spec.has_session else 0,
            weekdays=list(spec.session_days()) if spec.has_session else [],
            session_start_minute=spec.session_minutes()[0] if spec.has_session else 0,
            session_end_minute=spec.session_minutes()[1] if spec.has_session else 0,
            per_member_limit=spec.per_member_limit, scope=spec.scope,
            category_ids=list(spec.category_ids), product_ids=list(spec.product_ids),
            terms=_terms(spec), created_by=created_by, created_at=now, updated_at=now,
            idempotency_key=idempotency_key or None, request_fingerprint=fingerprint, version=1)
        session.add(campaign)
        session.flush()
        _add_quotas(session, campaign, spec)
        session.flush()
        runtime.emit(session, "campaign.created", events.CampaignCreated(
            campaign_id=str(campaign.id), kind=spec.kind, name=campaign.name,
            starts_at=rfc3339(spec.starts_at), ends_at=rfc3339(spec.ends_at),
            session=window_of(campaign).describe(), sku_ids=spec.sku_ids(), created_by=created_by))
        _record(session, campaign, "created", created_by, now, {})
        announce(runtime, session, campaign, "created", created_by)
        return campaign

    campaign, _ = made_once(session, Campaign, created_by=created_by, key=idempotency_key,
                            fingerprint=fingerprint, create=insert)
    return campaign


def _serialize_creates(session: Session) -> None:
    """Two overlapping campaigns created at the same moment must not both pass the overlap check:
    creates take turns (PostgreSQL: a transaction-scoped advisory lock; SQLite writers already
    queue behind BEGIN IMMEDIATE)."""
    if is_postgres(session.get_bind()):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('promotion.campaign_create'))"))


def _add_quotas(session: Session, campaign: Campaign, spec: CampaignSpec) -> None:
    if not (spec.kind in ("flash_sale", "sale") and spec.has_session):  # made per session
        for quota in campaign_spec.quotas_of(spec):
            session.add(CampaignQuota(campaign_id=campaign.id, sku_id=quota.sku_id,
                                      session_key="", total=quota.total, taken=0))


def _refuse_forbidden_overlaps(session: Session, spec: CampaignSpec, now: datetime,
                               excluding: int | None = None) -> None:
    """The stacking rules forbid two pricing campaigns (flash sale, pre-sale) on one SKU at
    overlapping times, and two threshold ladders over intersecting scopes at overlapping times
    (an edited campaign is compared with the others, not with itself)."""
    if spec.kind not in SALE_KINDS + ("threshold",):
        return
    kinds = SALE_KINDS if spec.kind in SALE_KINDS else ("threshold",)
    start, end = _minutes(spec)
    window = Window(spec.starts_at, spec.ends_at, 0, start, end, weekdays=spec.session_days())
    if spec.kind == "presale" and spec.presale.early_access_from:
        window = Window(spec.presale.early_access_from, spec.ends_at)
    if spec.kind == "sale" and spec.sale.early_access_from:
        window = Window(spec.sale.early_access_from, spec.ends_at)
    v = Violations()
    for other in session.scalars(select(Campaign).where(
            Campaign.status == "active", Campaign.ends_at > now, Campaign.kind.in_(kinds),
            Campaign.id != (excluding or 0)).order_by(Campaign.id)):
        if not window.overlaps(window_of(other, with_early_access=True)):
            continue
        if spec.kind == "threshold":
            v.check(not intersects(spec, other), "spec.scope", "overlaps",
                    f"threshold campaign {other.id} ({other.name}) covers the same items at "
                    "overlapping times; threshold ladders do not stack on one item")
            continue
        if spec.kind == "sale" or other.kind == "sale":
            _refuse_conflicting_stacking(v, spec, other)
            continue
        shared = sorted(set(spec.sku_ids()) & set(sku_ids_of(other)))
        v.check(not shared, "spec.sku_ids", "overlaps",
                f"SKU(s) {', '.join(shared)} are already in {other.kind} campaign {other.id} "
                f"({other.name}) at overlapping times; a SKU has one sale price at a time")
    v.raise_if_any("the campaign overlaps one the stacking rules forbid")


def _refuse_conflicting_stacking(v: Violations, spec: CampaignSpec, other: Campaign) -> None:
    """Two sales (or a sale and a flash sale or pre-sale) may price the same SKU at the same
    time (the line takes the better price), but only if the same discounts stack on both:
    otherwise which coupons a shopper may use would depend on which sale happened to win."""
    mine = spec.sale.stacking.flags() if spec.kind == "sale" and spec.sale.stacking else None
    theirs = other.terms.get("stacking") if other.kind == "sale" else None
    if mine == (tuple(theirs) if theirs else None):
        return
    my_terms = _terms(spec)
    if not sales.may_share(sales.reach_of(spec.kind, my_terms, spec.sku_ids()),
                           sales.reach_of(other.kind, other.terms, sku_ids_of(other))):
        return
    v.add("spec.sale.stacking", "conflicts",
          f"{other.kind} campaign {other.id} ({other.name}) may price the same SKUs at overlapping "
          f"times with other stacking rules ({_describe_stacking(theirs)} there, "
          f"{_describe_stacking(mine)} here); give both the same stacking or keep them apart")


def _describe_stacking(flags) -> str:
    if not flags:
        return "the merchant's rules"
    names = [name.replace("_on_sale_items", "") for name, on in zip(sales.STACK_FLAGS, flags, strict=True) if on]
    return "stacking " + (", ".join(names) or "nothing")


def _minutes(spec: CampaignSpec) -> tuple[int, int]:
    return spec.session_minutes() if spec.has_session else (0, 0)


def window_of(c: Campaign, with_early_access: bool = False) -> Window:
    starts_at = c.starts_at
    early = c.terms.get("early_access_from") if c.kind in ("presale", "sale") else None
    if with_early_access and early:
        return Window(parse_rfc3339(early), c.ends_at)
    return Window(starts_at, c.ends_at, 0, c.session_start_minute, c.session_end_minute,
                  weekdays=c.session_days())


def session_key(c: Campaign, moment: datetime) -> str:
    """The quota session `moment` counts in: a weekly flash sale's or sale's session, else ""."""
    return window_of(c).session_key(moment) if c.kind in ("flash_sale", "sale") else ""


def quota_total(c: Campaign, sku_id: str) -> int | None:
    """A flash-sale (or sale) SKU's quota per session, from the campaign's terms (None or 0:
    no quota)."""
    return next((i["quota"] for i in c.terms.get("items", ()) if i["sku_id"] == sku_id), None)


def sku_ids_of(c: Campaign) -> list[str]:
    if c.kind == "gift":
        return [c.terms["gift_sku_id"]]
    if c.kind == "sale":
        return list(dict.fromkeys([*c.terms.get("sku_ids", ()),
                                   *(i["sku_id"] for i in c.terms["items"])]))
    return [item["sku_id"] for item in c.terms.get("items", ())]


def _terms(spec: CampaignSpec) -> dict:
    if spec.kind == "flash_sale":
        return {"items": [{"sku_id": i.sku_id, "sale_price_fen": i.sale_price_fen,
                           "price_percent": i.price_percent, "quota": i.quota}
                          for i in spec.flash_items]}
    if spec.kind == "threshold":
        return {"rungs": [[t, off] for t, off in spec.rungs]}
    if spec.kind == "sale":
        return sales.to_terms(spec.sale)
    if spec.kind == "gift":
        g = spec.gift
        return {"threshold_fen": g.threshold_fen, "gift_sku_id": g.gift_sku_id,
                "gift_product_id": g.gift_product_id, "gift_title": g.gift_title,
                "quantity_per_order": g.quantity_per_order, "return_rule": g.return_rule,
                "gift_value_fen": g.gift_value_fen}
    p = spec.presale
    return {"items": [{"sku_id": i.sku_id, "deposit_fen": i.deposit_fen,
                       "deposit_counts_as_fen": i.deposit_counts_as_fen,
                       "presale_price_fen": i.presale_price_fen} for i in p.items],
            "balance_from": rfc3339(p.balance_from), "balance_until": rfc3339(p.balance_until),
            "early_access_from": rfc3339(p.early_access_from) if p.early_access_from else "",
            "early_access_min_rank": p.early_access_min_rank,
            "release_at": rfc3339(p.release_at) if p.release_at else "",
            "unpaid_balance": p.unpaid_balance}


def spec_of(c: Campaign, quotas: list[CampaignQuota]) -> CampaignSpec:
    """The spec a stored campaign was made from (for reading it back)."""
    totals = {q.sku_id: q.total for q in quotas}
    totals.update({i["sku_id"]: i["quota"] for i in c.terms.get("items", ()) if "quota" in i})
    t = c.terms
    days = c.session_days()
    session = dict(weekday=days[0] if len(days) == 1 else 0,
                   weekdays=days if len(days) > 1 else (),
                   session_start=_clock(c.session_start_minute) if days else "",
                   session_end=_clock(c.session_end_minute) if days else "")
    kind_terms: dict = {}
    if c.kind == "flash_sale":
        kind_terms = dict(per_member_limit=c.per_member_limit, flash_items=tuple(
            FlashItem(i["sku_id"], i["sale_price_fen"], i["price_percent"], totals.get(i["sku_id"], 0))
            for i in t["items"]))
    elif c.kind == "sale":
        kind_terms = dict(per_member_limit=c.per_member_limit, sale=sales.from_terms(t))
    elif c.kind == "threshold":
        kind_terms = dict(rungs=tuple((r[0], r[1]) for r in t["rungs"]))
    elif c.kind == "gift":
        kind_terms = dict(gift=GiftTerms(t["threshold_fen"], t["gift_sku_id"], t["gift_product_id"],
                                         t["gift_title"], t["quantity_per_order"],
                                         totals.get(t["gift_sku_id"], 0),
                                         t.get("return_rule", "return"), t.get("gift_value_fen", 0)))
    else:
        kind_terms = dict(presale=PresaleTerms(
            tuple(PresaleItemTerms(i["sku_id"], i["deposit_fen"], i["deposit_counts_as_fen"],
                                   i.get("presale_price_fen", 0))
                  for i in t["items"]),
            parse_rfc3339(t["balance_from"]), parse_rfc3339(t["balance_until"]),
            parse_rfc3339(t["early_access_from"]) if t["early_access_from"] else None,
            t["early_access_min_rank"],
            parse_rfc3339(t["release_at"]) if t.get("release_at") else None,
            t.get("unpaid_balance", "")))
    return CampaignSpec(name=c.name, kind=c.kind, starts_at=c.starts_at, ends_at=c.ends_at,
                        description=c.description, scope=c.scope,
                        category_ids=tuple(c.category_ids), product_ids=tuple(c.product_ids),
                        **session, **kind_terms)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"



def get(session: Session, campaign_id: str) -> Campaign:
    return row_by_id(session, Campaign, campaign_id, "campaign")


def quotas(session: Session, campaign_ids: list[int]) -> dict[int, list[CampaignQuota]]:
    found: dict[int, list[CampaignQuota]] = {i: [] for i in campaign_ids}
    for q in session.scalars(select(CampaignQuota).where(CampaignQuota.campaign_id.in_(campaign_ids))
                             .order_by(CampaignQuota.campaign_id, CampaignQuota.session_key,
                                       CampaignQuota.sku_id)):
        found[q.campaign_id].append(q)
    return found


def list_page(session: Session, limit: int, after_id: int | None) -> list[Campaign]:
    return newest_first(session, Campaign, limit, after_id)


def end(session: Session, runtime: Runtime, campaign_id: str, *, ended_by: str) -> Campaign:
    """Stops a campaign now. Units already locked by orders stay theirs until paid or released."""
    campaign = get(session, campaign_id)
    session.refresh(campaign, with_for_update=True)
    if campaign.status == "ended":
        raise FailedPrecondition(f"campaign {campaign_id} has already ended")
    now = datetime.now(timezone.utc)
    campaign.status, campaign.updated_at = "ended", now
    campaign.version += 1
    runtime.emit(session, "campaign.ended", events.CampaignEnded(
        campaign_id=str(campaign.id), ended_by=ended_by, ended_at=rfc3339(now)))
    history.record(session, subject="campaign", subject_id=campaign.id, action="ended",
                   version=campaign.version, by=ended_by, at=now,
                   changes=[("status", "active", "ended")])
    announce(runtime, session, campaign, "ended", ended_by)
    return campaign


# ---- editing ----

def started(c: Campaign, quotas: list[CampaignQuota], now: datetime) -> bool:
    """Whether shoppers may already have bought at its terms: its window (or a pre-sale's early
    access) has opened, or some of its quota is taken."""
    opens = window_of(c, with_early_access=True).starts_at
    return now >= opens or any(q.taken for q in quotas)


def update(session: Session, runtime: Runtime, campaign_id: str, version: int, spec: CampaignSpec,
           *, updated_by: str) -> Campaign:
    """Replaces a campaign's spec with `spec`, made on `version` (else ABORTED: someone changed it
    meanwhile). A scheduled campaign takes any spec create would accept (the same rules, overlaps
    checked against the others); a running one only a new name, description or gift title, a new
    end (not past) and new quotas (never below what is taken): whatever would reprice what shoppers
    buy is refused with the rule `running`, so orders already placed keep their price. An ended
    campaign is FAILED_PRECONDITION. An edit that changes nothing changes no version."""
    now = datetime.now(timezone.utc)
    campaign = get(session, campaign_id)
    _serialize_creates(session)  # overlaps are checked against creates and other edits in turn
    session.refresh(campaign, with_for_update=True)
    if campaign.status == "ended" or campaign.ends_at <= now:
        raise FailedPrecondition(f"campaign {campaign_id} has ended; an ended campaign cannot be "
                                 "edited (create a new one)",
                                 [FieldViolation("id", "ended", "the campaign has ended")])
    check_version(version, campaign.version, f"campaign {campaign_id}")
    held = list(session.scalars(select(CampaignQuota).where(CampaignQuota.campaign_id == campaign.id)
                                .order_by(CampaignQuota.sku_id, CampaignQuota.session_key)
                                .with_for_update()))
    before = spec_of(campaign, held)
    spec = replace(spec, name=spec.name.strip())
    if spec == before:
        return campaign
    campaign_spec.validate(spec, now)
    running = started(campaign, held, now)
    if running:
        _refuse_repricing(before, spec, campaign, held, now)
    _refuse_forbidden_overlaps(session, spec, now, excluding=campaign.id)
    was = _fields(campaign, held)
    campaign.kind, campaign.name, campaign.description = spec.kind, spec.name, spec.description
    campaign.starts_at, campaign.ends_at = spec.starts_at, spec.ends_at
    campaign.weekday = spec.session_days()[0] if spec.has_session else 0
    campaign.weekdays = list(spec.session_days()) if spec.has_session else []
    campaign.session_start_minute, campaign.session_end_minute = _minutes(spec)
    campaign.per_member_limit, campaign.scope = spec.per_member_limit, spec.scope
    campaign.category_ids, campaign.product_ids = list(spec.category_ids), list(spec.product_ids)
    campaign.terms = _terms(spec)
    if running:
        _resize_quotas(campaign, spec, held, now)
    else:  # nothing is taken: the quota rows are made again from the new spec
        session.execute(delete(CampaignQuota).where(CampaignQuota.campaign_id == campaign.id))
        _add_quotas(session, campaign, spec)
    campaign.version += 1
    campaign.updated_at = now
    session.flush()
    _record(session, campaign, "updated", updated_by, now, was)
    announce(runtime, session, campaign, "updated", updated_by)
    return campaign


def _refuse_repricing(before: CampaignSpec, after: CampaignSpec, c: Campaign,
                      held: list[CampaignQuota], now: datetime) -> None:
    """What a running campaign may not change: every violation named, rule `running` (or
    `below_taken` for a quota under what orders already hold)."""
    v = Violations()

    def same(field: str, old, new, what: str) -> bool:
        return v.check(old == new, f"spec.{field}", "running",
                       f"{what} cannot change while the campaign is running (orders hold its "
                       "terms); end it and create another")

    same("kind", before.kind, after.kind, "the kind")
    v.raise_if_any("a running campaign cannot be repriced")  # the kinds' terms are not comparable
    same("starts_at", before.starts_at, after.starts_at, "the start")
    same("session", (before.session_days(), before.session_start, before.session_end),
         (after.session_days(), after.session_start, after.session_end), "the weekly session")
    same("per_member_limit", before.per_member_limit, after.per_member_limit,
         "the per-member limit")
    same("scope", (before.scope, before.category_ids, before.product_ids),
         (after.scope, after.category_ids, after.product_ids), "the scope")
    same("rungs", before.rungs, after.rungs, "the ladder's rungs")
    taken = _taken_now(c, held, now)
    if before.kind == "flash_sale":
        skus = [i.sku_id for i in before.flash_items]
        if same("flash_items", skus, [i.sku_id for i in after.flash_items], "the SKUs on sale"):
            for n, (old, new) in enumerate(zip(before.flash_items, after.flash_items, strict=True)):
                same(f"flash_items[{n}].sale_price_fen", old.sale_price_fen, new.sale_price_fen,
                     "the sale price")
                same(f"flash_items[{n}].price_percent", old.price_percent, new.price_percent,
                     "the price percentage")
                _check_quota(v, f"spec.flash_items[{n}].quota", new.quota, taken.get(new.sku_id, 0))
    if before.kind == "sale" and before.sale and after.sale:
        old_s, new_s = before.sale, after.sale
        same("sale", replace(old_s, items=()), replace(new_s, items=()),
             "the sale's scope, exclusions, percentage, stacking and early access")
        if same("sale.items", [i.sku_id for i in old_s.items], [i.sku_id for i in new_s.items],
                "the SKUs priced by the sale"):
            for n, (old_i, new_i) in enumerate(zip(old_s.items, new_s.items, strict=True)):
                same(f"sale.items[{n}].sale_price_fen", old_i.sale_price_fen,
                     new_i.sale_price_fen, "the sale price")
                same(f"sale.items[{n}].price_percent", old_i.price_percent, new_i.price_percent,
                     "the price percentage")
                if new_i.quota:
                    _check_quota(v, f"spec.sale.items[{n}].quota", new_i.quota,
                                 taken.get(new_i.sku_id, 0))
    if before.kind == "gift" and before.gift and after.gift:
        old, new = before.gift, after.gift
        for name in ("threshold_fen", "gift_sku_id", "gift_product_id", "quantity_per_order"):
            same(f"gift.{name}", getattr(old, name), getattr(new, name), f"the gift's {name}")
        _check_quota(v, "spec.gift.stock", new.stock, taken.get(new.gift_sku_id, 0))
    if before.kind == "presale" and before.presale and after.presale:
        old_p, new_p = before.presale, after.presale
        same("presale.items", old_p.items, new_p.items, "the pre-sale's SKUs and deposits")
        for name in ("balance_from", "balance_until", "early_access_from", "early_access_min_rank"):
            same(f"presale.{name}", getattr(old_p, name), getattr(new_p, name),
                 f"the pre-sale's {name}")
    v.raise_if_any("a running campaign cannot be repriced")


def _check_quota(v: Violations, field: str, total: int, taken: int) -> None:
    v.check(total >= taken, field, "below_taken",
            f"{taken} units are already taken by orders; the quota cannot go below that")


def _taken_now(c: Campaign, held: list[CampaignQuota], now: datetime) -> dict[str, int]:
    """Units taken per SKU in the quota that counts now (a weekly sale's current session)."""
    key = session_key(c, now)
    return {q.sku_id: q.taken for q in held if q.session_key == key}


def _resize_quotas(c: Campaign, spec: CampaignSpec, held: list[CampaignQuota], now: datetime) -> None:
    """A running campaign's new quota totals: the quota that counts now (every later session of a
    weekly sale starts from the terms); past sessions keep theirs."""
    totals = {q.sku_id: q.total for q in campaign_spec.quotas_of(spec)}
    key = session_key(c, now)
    for q in held:
        if q.session_key == key and q.sku_id in totals:
            q.total = totals[q.sku_id]


def _fields(c: Campaign, quotas: list[CampaignQuota]) -> dict[str, str]:
    from . import convert  # convert reads this module: imported when first needed
    return history.fields_of(convert.campaign_message(c, quotas).spec)


def _record(session: Session, c: Campaign, action: str, by: str, now: datetime,
            was: dict[str, str]) -> None:
    now_fields = _fields(c, quotas(session, [c.id])[c.id])
    history.record(session, subject="campaign", subject_id=c.id, action=action,
                   version=c.version, by=by, at=now, changes=history.diff(was, now_fields))
