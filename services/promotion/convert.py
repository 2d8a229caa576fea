"""Between the gRPC messages (mall.promotion.v1) and the domain's dataclasses and rows."""
from __future__ import annotations

from datetime import datetime, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from mall.promotion.v1 import promotion_pb2 as pb

from . import campaigns, templates
from .campaign_spec import CampaignSpec, FlashItem, GiftTerms, PresaleItemTerms, PresaleTerms
from .locks import FlashLine, LockRequest
from .models import Campaign, CampaignQuota, ChangeRecord, CouponTemplate, IssuedCoupon, OrderLock
from .pricing import CartLine, MemberProfile
from .pricing.result import Quote
from .sales import SaleItemTerms, SaleStackingTerms, SaleTerms

KIND_NAMES = {pb.FIXED_AMOUNT: "fixed_amount", pb.PERCENTAGE: "percentage",
              pb.NO_THRESHOLD: "no_threshold"}
SCOPE_NAMES = {pb.ALL: "all", pb.CATEGORIES: "categories", pb.PRODUCTS: "products"}
CAMPAIGN_KIND_NAMES = {pb.FLASH_SALE: "flash_sale", pb.THRESHOLD: "threshold", pb.GIFT: "gift",
                       pb.PRESALE: "presale", pb.SALE: "sale"}
SALE_SCOPE_NAMES = {pb.SALE_SCOPE_UNSPECIFIED: "all", pb.SALE_ALL: "all",
                    pb.SALE_CATEGORIES: "categories", pb.SALE_PRODUCTS: "products",
                    pb.SALE_SKUS: "skus"}
SALE_SCOPE_ENUMS = {"all": pb.SALE_ALL, "categories": pb.SALE_CATEGORIES,
                    "products": pb.SALE_PRODUCTS, "skus": pb.SALE_SKUS}
KIND_ENUMS = {v: k for k, v in KIND_NAMES.items()}
SCOPE_ENUMS = {v: k for k, v in SCOPE_NAMES.items()}
CAMPAIGN_KIND_ENUMS = {v: k for k, v in CAMPAIGN_KIND_NAMES.items()}


def when(message, name: str) -> datetime | None:
    """An optional Timestamp field as an aware UTC datetime (None when unset)."""
    if message is None or not message.HasField(name):
        return None
    return getattr(message, name).ToDatetime(tzinfo=timezone.utc)


def stamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def _scope_name(scope: int) -> str:
    # Unset means "all" for campaigns; an unknown number is kept visible for the violation.
    return SCOPE_NAMES.get(scope, f"unspecified({scope})")


# ---- coupon templates ----

def template_spec(spec: pb.CouponTemplateSpec) -> templates.TemplateSpec:
    validity = spec.WhichOneof("validity")
    window = spec.window if validity == "window" else None
    return templates.TemplateSpec(
        name=spec.name, description=spec.description,
        kind=KIND_NAMES.get(spec.kind, f"unspecified({spec.kind})"),
        amount_fen=spec.amount_fen, threshold_fen=spec.threshold_fen,
        percent_off=spec.percent_off, cap_fen=spec.cap_fen,
        valid_from=when(window, "valid_from"), valid_until=when(window, "valid_until"),
        valid_days_after_claim=spec.valid_days_after_claim if validity == "valid_days_after_claim"
        else None,
        per_member_limit=spec.per_member_limit, total_quantity=spec.total_quantity,
        scope=_scope_name(spec.scope), category_ids=tuple(spec.category_ids),
        product_ids=tuple(spec.product_ids), claimable=spec.claimable)


def template_message(t: CouponTemplate) -> pb.CouponTemplate:
    spec = pb.CouponTemplateSpec(
        name=t.name, description=t.description, kind=KIND_ENUMS[t.kind], amount_fen=t.amount_fen,
        threshold_fen=t.threshold_fen, percent_off=t.percent_off, cap_fen=t.cap_fen,
        per_member_limit=t.per_member_limit, total_quantity=t.total_quantity,
        scope=SCOPE_ENUMS[t.scope], category_ids=t.category_ids, product_ids=t.product_ids,
        claimable=t.claimable)
    if t.valid_days_after_claim is not None:
        spec.valid_days_after_claim = t.valid_days_after_claim
    else:
        spec.window.valid_from.CopyFrom(stamp(t.valid_from))
        spec.window.valid_until.CopyFrom(stamp(t.valid_until))
    message = pb.CouponTemplate(id=str(t.id), spec=spec, issued_count=t.issued_count,
                                created_by=t.created_by, created_at=stamp(t.created_at),
                                version=t.version or 1, retired=t.retired_at is not None,
                                retired_by=t.retired_by or "")
    if t.retired_at is not None:
        message.retired_at.CopyFrom(stamp(t.retired_at))
    return message


# ---- campaigns ----

def campaign_spec(spec: pb.CampaignSpec) -> CampaignSpec:
    gift = presale = None
    if spec.HasField("gift"):
        g = spec.gift
        gift = GiftTerms(g.threshold_fen, g.gift_sku_id, g.gift_product_id, g.gift_title,
                         g.quantity_per_order, g.stock, g.return_rule or "return", g.gift_value_fen)
    if spec.HasField("presale"):
        p = spec.presale
        presale = PresaleTerms(
            tuple(PresaleItemTerms(i.sku_id, i.deposit_fen, i.deposit_counts_as_fen,
                                   i.presale_price_fen) for i in p.items),
            when(p, "balance_from"), when(p, "balance_until"), when(p, "early_access_from"),
            p.early_access_min_rank, when(p, "release_at"), p.unpaid_balance)
    sale = None
    if spec.HasField("sale"):
        r = spec.sale
        sale = SaleTerms(
            scope=SALE_SCOPE_NAMES.get(r.scope, f"unspecified({r.scope})"),
            category_ids=tuple(r.category_ids), product_ids=tuple(r.product_ids),
            sku_ids=tuple(r.sku_ids), exclude_category_ids=tuple(r.exclude_category_ids),
            exclude_product_ids=tuple(r.exclude_product_ids), exclude_sku_ids=tuple(r.exclude_sku_ids),
            price_percent=r.price_percent,
            items=tuple(SaleItemTerms(i.sku_id, i.sale_price_fen, i.price_percent, i.quota)
                        for i in r.items),
            stacking=stacking_terms(r.stacking) if r.HasField("stacking") else None,
            early_access_from=when(r, "early_access_from"),
            early_access_min_rank=r.early_access_min_rank)
    return CampaignSpec(
        name=spec.name, description=spec.description, sale=sale,
        weekdays=tuple(spec.session.weekdays),
        kind=CAMPAIGN_KIND_NAMES.get(spec.kind, f"unspecified({spec.kind})"),
        starts_at=when(spec, "starts_at"), ends_at=when(spec, "ends_at"),
        weekday=spec.session.weekday, session_start=spec.session.start, session_end=spec.session.end,
        flash_items=tuple(FlashItem(i.sku_id, i.sale_price_fen, i.price_percent, i.quota)
                          for i in spec.flash_items),
        per_member_limit=spec.per_member_limit,
        rungs=tuple((r.threshold_fen, r.off_fen) for r in spec.rungs),
        scope="all" if spec.scope == pb.COUPON_SCOPE_UNSPECIFIED else _scope_name(spec.scope),
        category_ids=tuple(spec.category_ids), product_ids=tuple(spec.product_ids),
        gift=gift, presale=presale)


def campaign_message(c: Campaign, quotas: list[CampaignQuota]) -> pb.Campaign:
    s = campaigns.spec_of(c, quotas)
    spec = pb.CampaignSpec(
        name=s.name, description=s.description, kind=CAMPAIGN_KIND_ENUMS[s.kind],
        starts_at=stamp(s.starts_at), ends_at=stamp(s.ends_at),
        flash_items=[pb.FlashSaleItem(sku_id=i.sku_id, sale_price_fen=i.sale_price_fen,
                                      price_percent=i.price_percent, quota=i.quota)
                     for i in s.flash_items],
        per_member_limit=s.per_member_limit,
        rungs=[pb.Rung(threshold_fen=t, off_fen=off) for t, off in s.rungs],
        scope=SCOPE_ENUMS[s.scope], category_ids=s.category_ids, product_ids=s.product_ids)
    if s.weekday or s.weekdays:
        spec.session.CopyFrom(pb.WeeklySession(weekday=s.weekday, weekdays=s.weekdays,
                                               start=s.session_start, end=s.session_end))
    if s.sale:
        r = s.sale
        rule = pb.SaleRule(
            scope=SALE_SCOPE_ENUMS[r.scope], category_ids=r.category_ids, product_ids=r.product_ids,
            sku_ids=r.sku_ids, exclude_category_ids=r.exclude_category_ids,
            exclude_product_ids=r.exclude_product_ids, exclude_sku_ids=r.exclude_sku_ids,
            price_percent=r.price_percent, early_access_min_rank=r.early_access_min_rank,
            items=[pb.FlashSaleItem(sku_id=i.sku_id, sale_price_fen=i.sale_price_fen,
                                    price_percent=i.price_percent, quota=i.quota) for i in r.items])
        if r.stacking:
            rule.stacking.CopyFrom(stacking_message(r.stacking))
        if r.early_access_from:
            rule.early_access_from.CopyFrom(stamp(r.early_access_from))
        spec.sale.CopyFrom(rule)
    if s.gift:
        g = s.gift
        spec.gift.CopyFrom(pb.GiftRule(threshold_fen=g.threshold_fen, gift_sku_id=g.gift_sku_id,
                                       gift_product_id=g.gift_product_id, gift_title=g.gift_title,
                                       quantity_per_order=g.quantity_per_order, stock=g.stock,
                                       return_rule=g.return_rule, gift_value_fen=g.gift_value_fen))
    if s.presale:
        p = s.presale
        rule = pb.PresaleRule(items=[pb.PresaleItem(sku_id=i.sku_id, deposit_fen=i.deposit_fen,
                                                    deposit_counts_as_fen=i.deposit_counts_as_fen,
                                                    presale_price_fen=i.presale_price_fen)
                                     for i in p.items],
                              balance_from=stamp(p.balance_from), balance_until=stamp(p.balance_until),
                              early_access_min_rank=p.early_access_min_rank,
                              unpaid_balance=p.unpaid_balance)
        if p.early_access_from:
            rule.early_access_from.CopyFrom(stamp(p.early_access_from))
        if p.release_at:
            rule.release_at.CopyFrom(stamp(p.release_at))
        spec.presale.CopyFrom(rule)
    return pb.Campaign(id=str(c.id), spec=spec, status=c.status, created_by=c.created_by,
                       created_at=stamp(c.created_at), version=c.version or 1,
                       quotas=[pb.QuotaUsage(sku_id=q.sku_id, total=q.total, taken=q.taken,
                                             session=q.session_key) for q in quotas])


def history_message(rows: list[ChangeRecord]) -> list[pb.HistoryEntry]:
    return [pb.HistoryEntry(id=str(r.id), action=r.action, changed_by=r.changed_by,
                            changed_at=stamp(r.changed_at), version=r.version,
                            changes=[pb.FieldChange(field=f, before=b, after=a) for f, b, a in r.changes])
            for r in rows]


def stacking_terms(m: pb.SaleStacking) -> SaleStackingTerms:
    return SaleStackingTerms(m.member_discount_on_sale_items, m.threshold_on_sale_items,
                             m.coupons_on_sale_items, m.points_on_sale_items)


def stacking_message(t) -> pb.SaleStacking:
    """From SaleStackingTerms or the engine's Stacking (the same four flags)."""
    return pb.SaleStacking(member_discount_on_sale_items=t.member_discount_on_sale_items,
                           threshold_on_sale_items=t.threshold_on_sale_items,
                           coupons_on_sale_items=t.coupons_on_sale_items,
                           points_on_sale_items=t.points_on_sale_items)


# ---- quote ----

def cart_lines(request: pb.QuoteRequest) -> tuple[CartLine, ...]:
    return tuple(CartLine(line_id=line.line_id, sku_id=line.sku_id, product_id=line.product_id,
                          quantity=line.quantity, list_price_fen=line.list_price_fen,
                          category_ids=tuple(line.category_ids), title=line.title)
                 for line in request.lines)


def member_profile(member: pb.PricingMember) -> MemberProfile:
    return MemberProfile(member_id=member.member_id, tier_code=member.tier_code,
                         tier_name=member.tier_name, tier_rank=member.tier_rank,
                         discount_percent=member.discount_percent or 100,
                         early_access_presale=member.early_access_presale,
                         free_shipping_over_fen=member.free_shipping_over_fen)


def presale_terms_message(terms) -> pb.PresaleLineTerms | None:
    if terms is None:
        return None
    message = pb.PresaleLineTerms(balance_from=stamp(terms.balance_from),
                                  balance_until=stamp(terms.balance_until),
                                  unpaid_balance=terms.unpaid_balance)
    if terms.release_at:
        message.release_at.CopyFrom(stamp(terms.release_at))
    return message


def quote_message(q: Quote, priced_at: datetime) -> pb.QuoteResponse:
    ends = {line.sale_ends_at: stamp(line.sale_ends_at)  # a few sessions, many lines
            for line in q.lines if line.sale_ends_at is not None}
    return pb.QuoteResponse(
        lines=[pb.QuotedLine(
            line_id=line.line_id, sku_id=line.sku_id, product_id=line.product_id,
            quantity=line.quantity, list_price_fen=line.list_price_fen,
            list_total_fen=line.list_total_fen, sale_units=line.sale_units,
            price_after_member_and_sale_fen=line.price_after_member_and_sale_fen,
            discounts=[pb.LineDiscount(source=d.source, ref=d.ref, fen=d.fen) for d in line.discounts],
            payable_fen=line.payable_fen, presale_campaign_id=line.presale_campaign_id,
            deposit_fen=line.deposit_fen, balance_fen=line.balance_fen,
            presale=presale_terms_message(line.presale),
            sale_campaign_id=line.sale_campaign_id,
            sale_ends_at=ends.get(line.sale_ends_at),
            notes=[pb.LineNote(kind=n.kind, source=n.source, ref=n.ref, fen=n.fen, text=n.text)
                   for n in line.notes]) for line in q.lines],
        adjustments=[pb.OrderAdjustment(source=a.source, ref=a.ref, label=a.label, fen=a.fen)
                     for a in q.adjustments],
        gifts=[pb.GiftLine(campaign_id=g.campaign_id, sku_id=g.sku_id, product_id=g.product_id,
                           title=g.title, quantity=g.quantity, threshold_fen=g.threshold_fen,
                           qualifying_line_ids=[line_id for line_id, _ in g.qualifying],
                           qualifying_fen=[fen for _, fen in g.qualifying],
                           return_rule=g.return_rule, gift_value_fen=g.gift_value_fen)
               for g in q.gifts],
        quota_claims=[pb.QuotaClaim(campaign_id=c.campaign_id, sku_id=c.sku_id, quantity=c.quantity)
                      for c in q.quota_claims],
        coupon_ids=q.coupon_ids, list_total_fen=q.list_total_fen,
        discount_total_fen=q.discount_total_fen, goods_fen=q.goods_fen, points_used=q.points_used,
        points_fen=q.points_fen, shipping_fee_fen=q.shipping_fee_fen, total_fen=q.total_fen,
        explanation=q.explanation, priced_at=stamp(priced_at))


# ---- locks and coupons ----

def lock_request(request: pb.LockForOrderRequest) -> LockRequest:
    return LockRequest(order_id=request.order_id, member_id=request.member_id,
                       coupon_ids=tuple(request.coupon_ids),
                       flash_lines=tuple(FlashLine(f.campaign_id, f.sku_id, f.quantity)
                                         for f in request.flash_lines),
                       expires_at=when(request, "expires_at"))


def lock_message(lock: OrderLock | None, order_id: str) -> pb.OrderLock:
    if lock is None:
        return pb.OrderLock(order_id=order_id, status="none")
    return pb.OrderLock(order_id=lock.order_id, member_id=lock.member_id, status=lock.status,
                        coupon_ids=lock.coupon_ids, expires_at=stamp(lock.expires_at),
                        flash_lines=[pb.QuotaClaim(campaign_id=c, sku_id=s, quantity=q)
                                     for c, s, q, _session in lock.flash_lines])


def coupon_message(c: IssuedCoupon, t: CouponTemplate) -> pb.Coupon:
    return pb.Coupon(
        id=str(c.id), template_id=str(t.id), member_id=c.member_id, status=c.status, name=t.name,
        kind=KIND_ENUMS[t.kind], amount_fen=t.amount_fen, threshold_fen=t.threshold_fen,
        percent_off=t.percent_off, cap_fen=t.cap_fen, scope=SCOPE_ENUMS[t.scope],
        category_ids=t.category_ids, product_ids=t.product_ids, valid_from=stamp(c.valid_from),
        valid_until=stamp(c.valid_until), claimed_at=stamp(c.claimed_at), source=c.source,
        order_id=c.locked_order_id or c.used_order_id or "")
