"""What promotion promises its callers: staff manage coupon templates, campaigns and issued
coupons; shoppers claim and list coupons; order's checkout prices with Quote and holds, releases
and consumes coupons and quotas per order, through the real gRPC server."""
from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pytest
from mall.common.v1 import common_pb2
from mall.promotion.v1 import promotion_pb2 as pb
from support_a import (
    NOW,
    OPERATOR,
    as_user,
    code_of,
    flash_sale,
    refusal,
    stamp,
    template_spec,
    violated_fields,
    violations,
)
from support_a import members as members  # noqa: F401 (a fixture)
from support_a import promotion as promotion  # noqa: F401 (a fixture)

Code = grpc.StatusCode
ALICE_ID = "00000000-0000-4000-8000-00000000a11c"
ALICE = as_user(ALICE_ID)


@pytest.fixture(autouse=True)
def alice(members):
    """Alice is a live member (promotion asks member before a staff issue)."""
    members(ALICE_ID)


def line(sku_id="sku-75b", quantity=1, price=19900) -> pb.QuoteLine:
    return pb.QuoteLine(line_id=sku_id, sku_id=sku_id, product_id="p-bra", quantity=quantity,
                        list_price_fen=price, title="无钢圈文胸")


def test_staff_manage_coupon_templates(promotion):
    made = promotion.CreateCouponTemplate(pb.CreateCouponTemplateRequest(spec=template_spec()),
                                          metadata=OPERATOR)
    assert made.id and made.spec.name == "满199减30" and made.created_by == "staff-operator"
    got = promotion.GetCouponTemplate(pb.GetCouponTemplateRequest(id=made.id), metadata=OPERATOR)
    assert got.spec == made.spec
    listed = promotion.ListCouponTemplates(pb.ListCouponTemplatesRequest(), metadata=OPERATOR)
    assert [t.id for t in listed.templates] == [made.id]

    err = refusal(promotion.CreateCouponTemplate, pb.CreateCouponTemplateRequest(
        spec=template_spec(name="", amount_fen=-1)), metadata=OPERATOR)
    assert err.code() == Code.INVALID_ARGUMENT
    assert {"spec.name", "spec.amount_fen"} <= violated_fields(err)
    assert code_of(promotion.GetCouponTemplate, pb.GetCouponTemplateRequest(id="999999"),
                   metadata=OPERATOR) == Code.NOT_FOUND
    assert code_of(promotion.CreateCouponTemplate, pb.CreateCouponTemplateRequest(
        spec=template_spec()), metadata=ALICE) == Code.PERMISSION_DENIED


def test_staff_run_and_end_campaigns(promotion):
    sale = flash_sale(promotion)
    assert sale.status and [(q.sku_id, q.total) for q in sale.quotas] == [("sku-75b", 2)]
    assert promotion.GetCampaign(pb.GetCampaignRequest(id=sale.id),
                                 metadata=OPERATOR).spec.name == "周五秒杀"
    assert [c.id for c in promotion.ListCampaigns(pb.ListCampaignsRequest(),
                                                  metadata=OPERATOR).campaigns] == [sale.id]
    ended = promotion.EndCampaign(pb.EndCampaignRequest(id=sale.id), metadata=OPERATOR)
    assert ended.status == "ended"
    err = refusal(promotion.CreateCampaign, pb.CreateCampaignRequest(spec=pb.CampaignSpec(
        name="坏的", kind=pb.THRESHOLD, starts_at=stamp(NOW), ends_at=stamp(NOW - timedelta(days=1)))),
        metadata=OPERATOR)
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err)
    assert code_of(promotion.GetCampaign, pb.GetCampaignRequest(id="999999"),
                   metadata=OPERATOR) == Code.NOT_FOUND
    assert code_of(promotion.ListCampaigns, pb.ListCampaignsRequest(),
                   metadata=ALICE) == Code.PERMISSION_DENIED


def test_staff_edit_campaigns_and_read_their_history(promotion):
    sale = flash_sale(promotion, quota=2)
    spec = pb.CampaignSpec()
    spec.CopyFrom(sale.spec)
    spec.name, spec.flash_items[0].quota = "周五秒杀 加量", 5
    edited = promotion.UpdateCampaign(pb.UpdateCampaignRequest(id=sale.id, version=sale.version,
                                                               spec=spec), metadata=OPERATOR)
    assert (edited.version, edited.spec.name, edited.quotas[0].total) == (2, "周五秒杀 加量", 5)
    stale = refusal(promotion.UpdateCampaign, pb.UpdateCampaignRequest(
        id=sale.id, version=1, spec=spec), metadata=OPERATOR)
    assert stale.code() == Code.ABORTED and violations(stale) == {("version", "stale")}
    spec.flash_items[0].sale_price_fen = 100
    repriced = refusal(promotion.UpdateCampaign, pb.UpdateCampaignRequest(
        id=sale.id, version=2, spec=spec), metadata=OPERATOR)
    assert repriced.code() == Code.INVALID_ARGUMENT
    assert violations(repriced) == {("spec.flash_items[0].sale_price_fen", "running")}
    promotion.EndCampaign(pb.EndCampaignRequest(id=sale.id), metadata=OPERATOR)
    assert code_of(promotion.UpdateCampaign, pb.UpdateCampaignRequest(
        id=sale.id, version=3, spec=edited.spec), metadata=OPERATOR) == Code.FAILED_PRECONDITION
    history = promotion.ListCampaignHistory(pb.ListHistoryRequest(id=sale.id), metadata=OPERATOR)
    assert [(e.action, e.version, e.changed_by) for e in history.entries] == [
        ("ended", 3, "staff-operator"), ("updated", 2, "staff-operator"),
        ("created", 1, "staff-operator")]
    assert {(c.field, c.before, c.after) for c in history.entries[1].changes} == {
        ("name", "周五秒杀", "周五秒杀 加量"), ("flash_items[0].quota", "2", "5")}
    assert code_of(promotion.ListCampaignHistory, pb.ListHistoryRequest(id="999999"),
                   metadata=OPERATOR) == Code.NOT_FOUND


def test_staff_edit_and_retire_coupon_templates(promotion):
    made = promotion.CreateCouponTemplate(pb.CreateCouponTemplateRequest(spec=template_spec()),
                                          metadata=OPERATOR)
    assert (made.version, made.retired) == (1, False)
    promotion.ClaimCoupon(pb.ClaimCouponRequest(template_id=made.id), metadata=ALICE)  # in use now
    richer = template_spec(amount_fen=9000, threshold_fen=19900)
    err = refusal(promotion.UpdateCouponTemplate, pb.UpdateCouponTemplateRequest(
        id=made.id, version=1, spec=richer), metadata=OPERATOR)
    assert err.code() == Code.INVALID_ARGUMENT and violations(err) == {("spec.amount_fen", "in_use")}
    bigger = promotion.UpdateCouponTemplate(pb.UpdateCouponTemplateRequest(
        id=made.id, version=1, spec=template_spec(total_quantity=300, name="满199减30 加量")),
        metadata=OPERATOR)
    assert (bigger.version, bigger.spec.total_quantity) == (2, 300)
    retired = promotion.RetireCouponTemplate(pb.RetireCouponTemplateRequest(id=made.id),
                                             metadata=OPERATOR)
    assert (retired.retired, retired.retired_by, retired.version) == (True, "staff-operator", 3)
    assert promotion.RetireCouponTemplate(pb.RetireCouponTemplateRequest(id=made.id),
                                          metadata=OPERATOR) == retired
    err = refusal(promotion.ClaimCoupon, pb.ClaimCouponRequest(template_id=made.id),
                  metadata=as_user(str(uuid.uuid4())))
    assert err.code() == Code.FAILED_PRECONDITION and violations(err) == {("template_id", "retired")}
    history = promotion.ListCouponTemplateHistory(pb.ListHistoryRequest(id=made.id),
                                                  metadata=OPERATOR)
    assert [e.action for e in history.entries] == ["retired", "updated", "created"]
    assert code_of(promotion.RetireCouponTemplate, pb.RetireCouponTemplateRequest(id="999999"),
                   metadata=OPERATOR) == Code.NOT_FOUND


def test_staff_read_and_set_the_stacking_rules(promotion):
    assert promotion.GetStackingRules(pb.GetStackingRulesRequest(), metadata=OPERATOR).is_default
    rules = pb.StackingRules(on_sale_items=pb.SaleStacking(coupons_on_sale_items=True),
                             floor_percent=50)
    set_to = promotion.SetStackingRules(pb.SetStackingRulesRequest(rules=rules), metadata=OPERATOR)
    assert set_to.floor_percent == 50 and set_to.on_sale_items.coupons_on_sale_items
    assert not promotion.GetStackingRules(pb.GetStackingRulesRequest(),
                                          metadata=OPERATOR).is_default
    err = refusal(promotion.SetStackingRules, pb.SetStackingRulesRequest(
        rules=pb.StackingRules(floor_percent=-1)), metadata=OPERATOR)
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err) == {"rules.floor_percent"}


def test_shoppers_claim_coupons_and_staff_issue_and_revoke_them(promotion, members):
    template = promotion.CreateCouponTemplate(pb.CreateCouponTemplateRequest(
        spec=template_spec(per_member_limit=1)), metadata=OPERATOR)
    claimable = promotion.ListClaimableCoupons(pb.ListClaimableCouponsRequest(), metadata=ALICE)
    assert [t.id for t in claimable.templates] == [template.id]
    claimed = promotion.ClaimCoupon(pb.ClaimCouponRequest(template_id=template.id), metadata=ALICE)
    assert (claimed.member_id, claimed.status, claimed.amount_fen) == (ALICE_ID, "available", 3000)
    assert code_of(promotion.ClaimCoupon, pb.ClaimCouponRequest(template_id=template.id),
                   metadata=ALICE) == Code.RESOURCE_EXHAUSTED  # one per member
    assert code_of(promotion.ClaimCoupon, pb.ClaimCouponRequest(template_id=template.id)) == \
        Code.UNAUTHENTICATED

    (bob,) = members(str(uuid.uuid4()))
    (issued,) = promotion.IssueCoupons(pb.IssueCouponsRequest(
        template_id=template.id, member_ids=[bob]), metadata=OPERATOR).coupons
    assert issued.member_id == bob
    assert code_of(promotion.IssueCoupons, pb.IssueCouponsRequest(
        template_id=template.id, member_ids=[bob]), metadata=ALICE) == Code.PERMISSION_DENIED
    revoked = promotion.RevokeCoupon(pb.RevokeCouponRequest(coupon_id=issued.id, reason="误发"),
                                     metadata=OPERATOR)
    assert revoked.status == "revoked"
    assert code_of(promotion.RevokeCoupon, pb.RevokeCouponRequest(coupon_id="999999"),
                   metadata=OPERATOR) == Code.NOT_FOUND

    mine = promotion.ListMyCoupons(pb.ListMyCouponsRequest(), metadata=ALICE)
    assert [c.id for c in mine.coupons] == [claimed.id]

    (carol,) = members(str(uuid.uuid4()), deleted=True)
    unknown = refusal(promotion.IssueCoupons, pb.IssueCouponsRequest(
        template_id=template.id, member_ids=[bob, str(uuid.uuid4()), carol]), metadata=OPERATOR)
    assert unknown.code() == Code.INVALID_ARGUMENT
    assert violated_fields(unknown) == {"member_ids[1]", "member_ids[2]"}  # unknown, deleted
    assert code_of(promotion.ListMyCoupons, pb.ListMyCouponsRequest(
        page=common_pb2.PageRequest(page_token="forged")), metadata=ALICE) == Code.INVALID_ARGUMENT


def test_a_shopper_exports_every_coupon_of_hers_in_any_state(promotion):
    template = promotion.CreateCouponTemplate(pb.CreateCouponTemplateRequest(
        spec=template_spec(per_member_limit=2)), metadata=OPERATOR)
    claimed = promotion.ClaimCoupon(pb.ClaimCouponRequest(template_id=template.id), metadata=ALICE)
    (issued,) = promotion.IssueCoupons(pb.IssueCouponsRequest(
        template_id=template.id, member_ids=[ALICE_ID]), metadata=OPERATOR).coupons
    promotion.RevokeCoupon(pb.RevokeCouponRequest(coupon_id=issued.id, reason="误发"),
                           metadata=OPERATOR)
    request = common_pb2.ExportMemberDataRequest(member_id=ALICE_ID)
    exported = promotion.ExportMemberData(request, metadata=ALICE)
    assert [(c.id, c.status) for c in exported.coupons] == [(claimed.id, "available"),
                                                           (issued.id, "revoked")]
    assert promotion.ExportMemberData(request, metadata=as_user("s-1", "admin")) == exported
    for stranger in (OPERATOR, as_user(str(uuid.uuid4()))):
        assert code_of(promotion.ExportMemberData, request,
                       metadata=stranger) == Code.PERMISSION_DENIED


def test_a_quote_prices_lines_with_sales_and_coupons(promotion):
    flash_sale(promotion)
    template = promotion.CreateCouponTemplate(pb.CreateCouponTemplateRequest(
        spec=template_spec()), metadata=OPERATOR)
    (coupon,) = promotion.IssueCoupons(pb.IssueCouponsRequest(
        template_id=template.id, member_ids=[ALICE_ID]), metadata=OPERATOR).coupons
    quote = promotion.Quote(pb.QuoteRequest(
        lines=[line("sku-75b"), line("sku-80b", 2)], coupon_ids=[coupon.id],
        member=pb.PricingMember(member_id=ALICE_ID, tier_code="standard", discount_percent=100),
        address=common_pb2.Address(province="广东省")))
    assert quote.list_total_fen == 3 * 19900
    assert [c.sku_id for c in quote.quota_claims] == ["sku-75b"]  # the flash sale's price
    assert list(quote.coupon_ids) == [coupon.id]
    assert quote.goods_fen == 9900 + 2 * 19900 - 3000
    assert quote.total_fen == quote.goods_fen + quote.shipping_fee_fen and quote.explanation
    err = refusal(promotion.Quote, pb.QuoteRequest(lines=[line(quantity=0)]))
    assert err.code() == Code.INVALID_ARGUMENT and violated_fields(err)


def test_an_order_holds_coupons_and_quota_until_released_or_consumed(promotion):
    sale = flash_sale(promotion, quota=1)
    template = promotion.CreateCouponTemplate(pb.CreateCouponTemplateRequest(
        spec=template_spec()), metadata=OPERATOR)
    (coupon,) = promotion.IssueCoupons(pb.IssueCouponsRequest(
        template_id=template.id, member_ids=[ALICE_ID]), metadata=OPERATOR).coupons
    claim = pb.QuotaClaim(campaign_id=sale.id, sku_id="sku-75b", quantity=1)

    def lock(order_id, member_id=ALICE_ID, coupons=(), claims=()):
        return promotion.LockForOrder(pb.LockForOrderRequest(
            order_id=order_id, member_id=member_id, coupon_ids=list(coupons),
            flash_lines=list(claims), expires_at=stamp(NOW + timedelta(minutes=30))))

    held = lock("o-1", coupons=[coupon.id], claims=[claim])
    assert held.status == "locked" and list(held.coupon_ids) == [coupon.id]
    assert lock("o-1", coupons=[coupon.id], claims=[claim]).status == "locked"  # a retry
    assert code_of(lock, "o-2", member_id=str(uuid.uuid4()), claims=[claim]) == \
        Code.RESOURCE_EXHAUSTED  # the quota of one is held by o-1
    assert code_of(lock, "o-1", coupons=[coupon.id]) == Code.FAILED_PRECONDITION  # not as before
    taken = refusal(lock, "o-3", coupons=[coupon.id])
    assert taken.code() == Code.INVALID_ARGUMENT and violated_fields(taken) == {"coupon_ids[0]"}
    assert promotion.ReleaseForOrder(pb.ReleaseForOrderRequest(order_id="o-1")).status == \
        "released"
    assert lock("o-4", coupons=[coupon.id], claims=[claim]).status == "locked"  # free again
    consumed = promotion.ConsumeForOrder(pb.ConsumeForOrderRequest(order_id="o-4"))
    assert consumed.status == "consumed"
    (mine,) = promotion.ListMyCoupons(pb.ListMyCouponsRequest(), metadata=ALICE).coupons
    assert (mine.status, mine.order_id) == ("used", "o-4")
    assert violated_fields(refusal(promotion.ReleaseForOrder, pb.ReleaseForOrderRequest())) == \
        {"order_id"}
    assert code_of(promotion.ConsumeForOrder, pb.ConsumeForOrderRequest(order_id="o-1")) == \
        Code.FAILED_PRECONDITION  # released


# --- who may call what ------------------------------------------------------------------------

STAFFS = [  # staff only
    ("CreateCouponTemplate", pb.CreateCouponTemplateRequest()),
    ("GetCouponTemplate", pb.GetCouponTemplateRequest(id="1")),
    ("ListCouponTemplates", pb.ListCouponTemplatesRequest()),
    ("CreateCampaign", pb.CreateCampaignRequest()),
    ("GetCampaign", pb.GetCampaignRequest(id="1")),
    ("ListCampaigns", pb.ListCampaignsRequest()),
    ("EndCampaign", pb.EndCampaignRequest(id="1")),
    ("UpdateCampaign", pb.UpdateCampaignRequest(id="1", version=1)),
    ("ListCampaignHistory", pb.ListHistoryRequest(id="1")),
    ("UpdateCouponTemplate", pb.UpdateCouponTemplateRequest(id="1", version=1)),
    ("RetireCouponTemplate", pb.RetireCouponTemplateRequest(id="1")),
    ("ListCouponTemplateHistory", pb.ListHistoryRequest(id="1")),
    ("GetStackingRules", pb.GetStackingRulesRequest()),
    ("SetStackingRules", pb.SetStackingRulesRequest()),
    ("IssueCoupons", pb.IssueCouponsRequest(template_id="1", member_ids=[ALICE_ID])),
    ("RevokeCoupon", pb.RevokeCouponRequest(coupon_id="1")),
]
SHOPPERS_OWN = [  # a signed-in shopper's
    ("ClaimCoupon", pb.ClaimCouponRequest(template_id="1")),
    ("ListMyCoupons", pb.ListMyCouponsRequest()),
    ("ListClaimableCoupons", pb.ListClaimableCouponsRequest()),
]


@pytest.mark.parametrize("rpc, request_", STAFFS, ids=[r for r, _ in STAFFS])
def test_staff_rpcs_refuse_a_shopper(promotion, rpc, request_):
    assert code_of(getattr(promotion, rpc), request_, metadata=ALICE) == Code.PERMISSION_DENIED


@pytest.mark.parametrize("rpc, request_", SHOPPERS_OWN, ids=[r for r, _ in SHOPPERS_OWN])
def test_shopper_rpcs_need_a_signed_in_caller(promotion, rpc, request_):
    assert code_of(getattr(promotion, rpc), request_) == Code.UNAUTHENTICATED
