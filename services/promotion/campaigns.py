"""Campaigns: created by staff (validated, checked against the stacking rules, announced), read,
ended early. Quotas of flash-sale SKUs and gifts are rows of `campaign_quotas`: one per SKU, or
for a weekly flash sale one per SKU and session, made by the session's first lock."""
from __future__ import annotations

from datetime import datetime, timezone

from mall.events.v1 import promotion_events_pb2 as events
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from servicekit.db import is_postgres
from servicekit.errors import FailedPrecondition, Violations
from servicekit.runtime import Runtime
from servicekit.times import parse_rfc3339, rfc3339

from . import campaign_spec, sales
from .announce import announce
from .campaign_spec import CampaignSpec, FlashItem, GiftTerms, PresaleItemTerms, PresaleTerms
from .models import Campaign, CampaignQuota
from .pricing import Window
from .requests import by_id, made_once, newest_first
from .scopes import intersects

# Kinds that set a SKU's price one at a time per SKU (a SKU has one flash or pre-sale price at
# any moment); sales may overlap them and each other, the engine giving a line its best price,
# as long as they agree on what stacks.
PRICING_KINDS = ("flash_sale", "presale")
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
            idempotency_key=idempotency_key or None, request_fingerprint=fingerprint)
        session.add(campaign)
        session.flush()
        if not (spec.kind in ("flash_sale", "sale") and spec.has_session):
            for quota in campaign_spec.quotas_of(spec):
                session.add(CampaignQuota(campaign_id=campaign.id, sku_id=quota.sku_id,
                                          session_key="", total=quota.total, taken=0))
        session.flush()
        runtime.emit(session, "campaign.created", events.CampaignCreated(
            campaign_id=str(campaign.id), kind=spec.kind, name=campaign.name,
            starts_at=rfc3339(spec.starts_at), ends_at=rfc3339(spec.ends_at),
            session=window_of(campaign).describe(), sku_ids=spec.sku_ids(), created_by=created_by))
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


def _refuse_forbidden_overlaps(session: Session, spec: CampaignSpec, now: datetime) -> None:
    """The stacking rules forbid two pricing campaigns (flash sale, pre-sale) on one SKU at
    overlapping times, and two threshold ladders over intersecting scopes at overlapping times."""
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
            Campaign.status == "active", Campaign.ends_at > now, Campaign.kind.in_(kinds))
            .order_by(Campaign.id)):
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
                "quantity_per_order": g.quantity_per_order}
    p = spec.presale
    return {"items": [{"sku_id": i.sku_id, "deposit_fen": i.deposit_fen,
                       "deposit_counts_as_fen": i.deposit_counts_as_fen} for i in p.items],
            "balance_from": rfc3339(p.balance_from), "balance_until": rfc3339(p.balance_until),
            "early_access_from": rfc3339(p.early_access_from) if p.early_access_from else "",
            "early_access_min_rank": p.early_access_min_rank}


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
                                         totals.get(t["gift_sku_id"], 0)))
    else:
        kind_terms = dict(presale=PresaleTerms(
            tuple(PresaleItemTerms(i["sku_id"], i["deposit_fen"], i["deposit_counts_as_fen"])
                  for i in t["items"]),
            parse_rfc3339(t["balance_from"]), parse_rfc3339(t["balance_until"]),
            parse_rfc3339(t["early_access_from"]) if t["early_access_from"] else None,
            t["early_access_min_rank"]))
    return CampaignSpec(name=c.name, kind=c.kind, starts_at=c.starts_at, ends_at=c.ends_at,
                        description=c.description, scope=c.scope,
                        category_ids=tuple(c.category_ids), product_ids=tuple(c.product_ids),
                        **session, **kind_terms)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"



def get(session: Session, campaign_id: str) -> Campaign:
    return by_id(session, Campaign, campaign_id, "campaign")


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
    announce(runtime, session, campaign, "ended", ended_by)
    return campaign
