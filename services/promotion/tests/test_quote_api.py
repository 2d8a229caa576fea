"""Quote over the stored rules, through the real gRPC server on PostgreSQL."""
from datetime import timedelta

import grpc
import pytest
from mall.common.v1 import common_pb2
from sqlalchemy import select

from services.promotion.models import CampaignQuota, IssuedCoupon

from .grpc_helpers import OPERATOR, pb, rpc_error, stamp, violations
from .helpers import NOW

LATER = NOW + timedelta(minutes=10)  # after the coupons issued by the test
GOLD = pb.PricingMember(member_id="m-1", tier_code="gold", tier_name="金卡", tier_rank=2,
                        discount_percent=95)


@pytest.fixture(autouse=True)
def known_members(members):
    members("m-1", "m-2")  # coupons are issued to members that exist


def campaign(stub, **spec):
    spec.setdefault("starts_at", stamp(NOW - timedelta(hours=1)))
    spec.setdefault("ends_at", stamp(NOW + timedelta(days=7)))
    return stub.CreateCampaign(pb.CreateCampaignRequest(spec=pb.CampaignSpec(**spec)), metadata=OPERATOR)


def coupon_for(stub, member_id="m-1", **template):
    values = dict(name="满100减30", kind=pb.FIXED_AMOUNT, amount_fen=3000, threshold_fen=10000,
                  per_member_limit=5, total_quantity=100, scope=pb.ALL, valid_days_after_claim=7)
    values.update(template)
    made = stub.CreateCouponTemplate(pb.CreateCouponTemplateRequest(
        spec=pb.CouponTemplateSpec(**values)), metadata=OPERATOR)
    issued = stub.IssueCoupons(pb.IssueCouponsRequest(template_id=made.id, member_ids=[member_id]),
                               metadata=OPERATOR)
    return issued.coupons[0].id


def cart(*lines, **extra):
    return pb.QuoteRequest(lines=[pb.QuoteLine(line_id=f"l{i}", sku_id=sku, product_id=f"p-{sku}",
                                               quantity=qty, list_price_fen=price,
                                               category_ids=cats)
                                  for i, (sku, qty, price, cats) in enumerate(lines)],
                           now=stamp(LATER), **extra)


def test_quote_applies_sale_member_ladder_coupon_and_points_and_locks_nothing(stub, runtime):
    flash = campaign(stub, name="秒杀", kind=pb.FLASH_SALE, per_member_limit=1,
                     flash_items=[pb.FlashSaleItem(sku_id="sku-s", sale_price_fen=9900, quota=10)])
    ladder = campaign(stub, name="文胸满减", kind=pb.THRESHOLD, scope=pb.CATEGORIES,
                      category_ids=["bras"], rungs=[pb.Rung(threshold_fen=20000, off_fen=5000)])
    coupon_id = coupon_for(stub)
    request = cart(("sku-s", 1, 15900, []), ("sku-b", 2, 11000, ["bras"]), ("sku-p", 1, 3000, []),
                   member=GOLD, coupon_ids=[coupon_id], points_to_use=1000)
    answer = stub.Quote(request)
    # sku-s: 9900 (sale, no member price on a sale item). sku-b: 22000 × 95% = 20900, 满200减50 →
    # 15900. sku-p: 3000 × 95% = 2850. Coupon 30 over 15900 + 2850 = 18750 (the sale item takes
    # no coupon): 2544 / 456. Points: 1000 fen over what is left.
    assert [line.price_after_member_and_sale_fen for line in answer.lines] == [9900, 20900, 2850]
    assert [[(d.source, d.fen) for d in line.discounts][:3] for line in answer.lines][1:] == [
        [("member", 1100), ("threshold", 5000), ("coupon", 2544)],
        [("member", 150), ("coupon", 456), ("points", answer.lines[2].discounts[2].fen)]]
    assert answer.goods_fen == 9900 + 15900 + 2850 - 3000 == 25650
    assert answer.total_fen == answer.goods_fen - 1000 and answer.shipping_fee_fen == 0
    assert [(a.source, a.ref, a.fen) for a in answer.adjustments] == [
        ("threshold", ladder.id, 5000), ("coupon", coupon_id, 3000), ("points", "points", 1000)]
    assert [(c.campaign_id, c.sku_id, c.quantity) for c in answer.quota_claims] == [(flash.id, "sku-s", 1)]
    assert answer.explanation[:3] == ["秒杀 \u2212¥60.00", "金卡会员 95 折 \u2212¥12.50",
                                      "满 200 减 50 \u2212¥50.00"]
    again = stub.Quote(request)
    assert again.SerializeToString(deterministic=True) == answer.SerializeToString(deterministic=True)
    with runtime.transaction() as session:  # quoting locked nothing
        assert session.scalar(select(IssuedCoupon.status)) == "available"
        assert session.scalar(select(CampaignQuota.taken)) == 0


def test_a_coupon_that_is_not_the_members_is_invalid_argument_naming_it(stub):
    theirs = coupon_for(stub, member_id="m-2")
    err = rpc_error(stub.Quote, cart(("sku-a", 1, 20000, []), member=GOLD, coupon_ids=[theirs]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == [("coupon_ids[0]", "not_yours")]
    assert theirs in err.details()
    err = rpc_error(stub.Quote, cart(("sku-a", 1, 20000, []), member=GOLD, coupon_ids=["nonsense"]))
    assert violations(err) == [("coupon_ids[0]", "not_yours")]


def test_bad_lines_and_too_many_points_are_named(stub):
    err = rpc_error(stub.Quote, cart(("", 0, -5, [])))
    assert set(violations(err)) == {("lines[0].sku_id", "required"), ("lines[0].quantity", "range"),
                                    ("lines[0].list_price_fen", "range")}
    err = rpc_error(stub.Quote, cart(("sku-a", 1, 10000, []), member=GOLD, points_to_use=9000))
    assert violations(err) == [("points_to_use", "at_most")]


def test_remote_province_pays_more_shipping(stub):
    far = stub.Quote(cart(("sku-a", 1, 5000, []), address=common_pb2.Address(
        province="西藏自治区")))
    near = stub.Quote(cart(("sku-a", 1, 5000, [])))
    assert (far.shipping_fee_fen, near.shipping_fee_fen) == (2000, 1000)
