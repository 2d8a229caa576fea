from datetime import datetime, timedelta, timezone

from services.promotion.models import CouponTemplate, IssuedCoupon
from services.promotion.templates import TemplateSpec

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def fixed_spec(**overrides) -> TemplateSpec:
    values = dict(name="满199减30", kind="fixed_amount", amount_fen=3000, threshold_fen=19900,
                  per_member_limit=2, total_quantity=1000, scope="all",
                  valid_from=NOW, valid_until=NOW + timedelta(days=30))
    values.update(overrides)
    return TemplateSpec(**values)


def coupon(session, *, member_id="m-1", status="locked", order_id="o-1", valid_for=timedelta(days=7)):
    """A coupon in a member's wallet, written directly (there is no claim or lock RPC yet)."""
    template = session.query(CouponTemplate).first()
    if template is None:
        template = CouponTemplate(name="无门槛10元", kind="no_threshold", amount_fen=1000,
                                  per_member_limit=5, total_quantity=100, issued_count=0,
                                  scope="all", valid_days_after_claim=7, created_by="staff-1",
                                  created_at=NOW, request_fingerprint="-", category_ids=[],
                                  product_ids=[])
        session.add(template)
        session.flush()
    template.issued_count += 1
    issued = IssuedCoupon(template_id=template.id, member_id=member_id, status=status,
                          valid_from=NOW - timedelta(days=1), valid_until=NOW + valid_for,
                          claimed_at=NOW - timedelta(days=1), updated_at=NOW,
                          locked_order_id=order_id if status == "locked" else None,
                          locked_at=NOW if status == "locked" else None)
    session.add(issued)
    session.flush()
    return issued


def flash_spec(skus=("sku-1",), *, quota=100, limit=1, price=9900, weekday=0, start="", end="",
               starts_at=None, ends_at=None, name="周五秒杀"):
    from services.promotion.campaign_spec import CampaignSpec, FlashItem
    return CampaignSpec(name=name, kind="flash_sale",
                        starts_at=starts_at or NOW - timedelta(hours=1),
                        ends_at=ends_at or NOW + timedelta(days=30),
                        weekday=weekday, session_start=start, session_end=end,
                        flash_items=tuple(FlashItem(s, sale_price_fen=price, quota=quota) for s in skus),
                        per_member_limit=limit)


def ladder_spec(*, scope="all", category_ids=(), product_ids=(), rungs=((20000, 5000), (40000, 12000)),
                name="满200减50"):
    from services.promotion.campaign_spec import CampaignSpec
    return CampaignSpec(name=name, kind="threshold", starts_at=NOW - timedelta(hours=1),
                        ends_at=NOW + timedelta(days=7), rungs=tuple(rungs), scope=scope,
                        category_ids=tuple(category_ids), product_ids=tuple(product_ids))


def gift_spec(*, stock=5, threshold=30000):
    from services.promotion.campaign_spec import CampaignSpec, GiftTerms
    return CampaignSpec(name="满300赠收纳袋", kind="gift", starts_at=NOW - timedelta(hours=1),
                        ends_at=NOW + timedelta(days=7),
                        gift=GiftTerms(threshold, "sku-bag", "p-bag", "收纳袋", 1, stock))


def presale_spec(sku="sku-pre"):
    from services.promotion.campaign_spec import CampaignSpec, PresaleItemTerms, PresaleTerms
    opens = NOW + timedelta(days=1)
    return CampaignSpec(name="双11预售", kind="presale", starts_at=opens, ends_at=opens + timedelta(days=3),
                        presale=PresaleTerms((PresaleItemTerms(sku, 5000, 10000),),
                                             opens + timedelta(days=4), opens + timedelta(days=6),
                                             early_access_from=NOW - timedelta(hours=1),
                                             early_access_min_rank=3,
                                             release_at=opens + timedelta(days=5),
                                             unpaid_balance="keep_deposit"))


def everyone(member_ids):
    """`existing` for the domain's staff issue when the test is not about unknown members."""
    return member_ids
