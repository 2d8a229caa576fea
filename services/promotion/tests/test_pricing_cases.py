"""Pricing cases computed by hand, fen by fen (the arithmetic is in each test's comments)."""
from dataclasses import replace
from datetime import timedelta

import pytest

from servicekit.errors import InvalidArgument
from services.promotion.pricing import (
    GiftOffer,
    MemberProfile,
    PresaleItem,
    PresaleOffer,
    PricingRules,
    QuoteRequest,
    SaleItem,
    SaleOffer,
    Scope,
    Window,
    quote,
)
from services.promotion.pricing.apportion import apportion

from .pricing_fixtures import ALWAYS, FRIDAY_EVENING, GOLD, coupon, ladder, line

NOW = FRIDAY_EVENING


def ask(rules=PricingRules(), *lines, member=MemberProfile(), coupons=(), points=0, province="",
        now=NOW):
    return quote(rules, QuoteRequest(lines=tuple(lines), now=now, member=member,
                                     coupon_ids=tuple(c.coupon_id for c in coupons),
                                     coupons={c.coupon_id: c for c in coupons},
                                     points_to_use=points, province=province))


def payable(result):
    return [q.payable_fen for q in result.lines]


def test_a_guest_pays_the_list_price_and_no_shipping_over_99():
    result = ask(PricingRules(), line("a", 19900))
    assert (result.goods_fen, result.shipping_fee_fen, result.total_fen) == (19900, 0, 19900)
    assert result.explanation == ("满 99 包邮", "应付 ¥199.00")


def test_gold_member_95_zhe_rounds_half_up_on_the_line_total():
    # 18900 × 95% = 17955.00 → off 945;  1990 × 95% = 1890.5 → 1891 (half up) → off 99.
    result = ask(PricingRules(), line("a", 18900), line("b", 1990), member=GOLD)
    assert payable(result) == [17955, 1891]
    assert [q.discounts[0].fen for q in result.lines] == [945, 99]
    assert result.explanation[0] == "金卡会员 95 折 \u2212¥10.44"
    assert result.total_fen == 17955 + 1891


def test_threshold_ladder_takes_the_highest_rung_reached_and_apportions_by_largest_remainder():
    # 25800 + 5900 = 31700 reaches 满200减50 (not 400). 5000 × 25800 / 31700 = 4069 r 12700,
    # 5000 × 5900 / 31700 = 930 r 19000: one fen left, to the larger remainder (b) → 4069 / 931.
    result = ask(PricingRules(thresholds=(ladder(),)), line("a", 12900, 2), line("b", 5900))
    assert payable(result) == [25800 - 4069, 5900 - 931]
    assert [(a.source, a.label, a.fen) for a in result.adjustments] == \
        [("threshold", "满 200 减 50", 5000)]
    assert result.explanation[0] == "满 200 减 50 \u2212¥50.00"
    assert result.total_fen == 26700
    # 400 reached: 120 off.
    assert ask(PricingRules(thresholds=(ladder(),)), line("a", 40000)).total_fen == 28000


def test_flash_sale_for_the_member_limit_then_member_price_for_the_rest_and_points():
    # 2 × 15900, sale price 9900 for 1 unit (limit 1): sale off 6000; the other unit 95 折:
    # 15900 × 95% = 15105 → off 795. Line 31800 − 6000 − 795 = 25005. Not in 满减 (sale item).
    # 1000 points = ¥10 ≤ 50% of 25005. Total 25005 − 1000 = 24005, shipping free.
    friday = Window(NOW - timedelta(days=7), NOW + timedelta(days=30), weekday=5,
                    session_start_minute=20 * 60, session_end_minute=22 * 60)
    sale = SaleOffer("c-flash", "周五秒杀", friday, {"sku-s": SaleItem("sku-s", price_fen=9900)},
                     per_member_limit=1)
    rules = PricingRules(sales=(sale,), thresholds=(ladder(),))
    result = ask(rules, line("s", 15900, 2, sku="sku-s"), member=GOLD, points=1000)
    (only,) = result.lines
    assert only.sale_units == 1 and only.price_after_member_and_sale_fen == 25005
    assert [(d.source, d.fen) for d in only.discounts] == [("sale", 6000), ("member", 795),
                                                           ("points", 1000)]
    assert result.adjustments[0].source == "points"  # no threshold on a sale item
    assert [(c.campaign_id, c.sku_id, c.quantity) for c in result.quota_claims] == \
        [("c-flash", "sku-s", 1)]
    assert result.total_fen == 24005
    # Friday 22:00 Beijing ends the session (exclusive): member price, then 满200减50 applies.
    after = ask(rules, line("s", 15900, 2, sku="sku-s"), member=GOLD, now=NOW + timedelta(minutes=90))
    assert after.quota_claims == () and after.lines[0].payable_fen == 31800 - 1590 - 5000


def test_threshold_then_coupon_on_what_is_left():
    # a: 2 × 10000 in bras reaches 满200减50 (bras only) → 15000; b 3000 not in scope.
    # Coupon 满100减30 on 15000 + 3000 = 18000: 3000 × 15000/18000 = 2500, 3000 × 3000/18000 = 500.
    bras = ladder(scope=Scope("categories", frozenset({"bras"})))
    result = ask(PricingRules(thresholds=(bras,)), line("a", 10000, 2, categories=["bras"]),
                 line("b", 3000, categories=["panties"]), member=GOLD.__class__(member_id="m-1"),
                 coupons=[coupon()])
    assert payable(result) == [12500, 2500]
    assert result.explanation == ("满 200 减 50 \u2212¥50.00", "优惠券「满100减30」 \u2212¥30.00",
                                  "满 99 包邮", "应付 ¥150.00")


def test_percentage_coupon_is_capped_and_shipping_charged_below_99_more_when_remote():
    member = MemberProfile(member_id="m-1")
    twenty = coupon(kind="percentage", amount=0, threshold=0, percent=20, cap=1500, name="8折券")
    # 20% of 5000 = 1000 (under the cap): 4000 + ¥10 shipping.
    assert ask(PricingRules(), line("a", 5000), member=member, coupons=[twenty]).total_fen == 5000
    # 20% of 10000 = 2000, capped at 1500: 8500 < 9900 → + 1000.
    assert ask(PricingRules(), line("a", 10000), member=member, coupons=[twenty]).total_fen == 9500
    remote = ask(PricingRules(), line("a", 5000), member=member, coupons=[twenty],
                 province="新疆维吾尔自治区")
    assert (remote.shipping_fee_fen, remote.total_fen) == (2000, 6000)


def test_the_tiers_free_shipping_threshold_applies_when_lower():
    member = replace(GOLD, discount_percent=100, free_shipping_over_fen=4900)
    assert ask(PricingRules(), line("a", 5900), member=member).shipping_fee_fen == 0
    assert ask(PricingRules(), line("a", 5900)).shipping_fee_fen == 1000


def test_points_beyond_half_the_order_are_refused_naming_the_most_allowed():
    with pytest.raises(InvalidArgument) as err:
        ask(PricingRules(), line("a", 10000), member=GOLD, points=6000)
    (violation,) = err.value.violations
    # 10000 × 95% = 9500; half is 4750 fen = 4750 points.
    assert (violation.field, violation.rule) == ("points_to_use", "at_most")
    assert "at most 4750 points (¥47.50" in violation.description
    with pytest.raises(InvalidArgument):
        ask(PricingRules(), line("a", 10000), points=100)  # a guest has no points


def test_gift_while_stock_lasts():
    gift = GiftOffer("c-gift", "满300赠", ALWAYS, 30000, "sku-bag", "p-bag", "收纳袋", 1, 5)
    result = ask(PricingRules(gifts=(gift,)), line("a", 30000))
    assert [(g.sku_id, g.quantity) for g in result.gifts] == [("sku-bag", 1)]
    assert ("c-gift", "sku-bag", 1) in [(c.campaign_id, c.sku_id, c.quantity) for c in result.quota_claims]
    assert "满 300 赠 收纳袋 ×1" in result.explanation
    assert ask(PricingRules(gifts=(replace(gift, remaining=0),)), line("a", 30000)).gifts == ()
    assert ask(PricingRules(gifts=(gift,)), line("a", 29999)).gifts == ()


def test_a_gift_line_carries_what_a_refund_is_judged_by():
    gift = GiftOffer("c-gift", "满300赠", ALWAYS, 30000, "sku-bag", "p-bag", "收纳袋", 1, 5,
                     return_rule="deduct", gift_value_fen=3000)
    (given,) = ask(PricingRules(gifts=(gift,)), line("a", 20000), line("b", 15000)).gifts
    assert (given.threshold_fen, given.return_rule, given.gift_value_fen) == (30000, "deduct", 3000)
    assert given.qualifying == (("a", 20000), ("b", 15000))  # each line and what it counted


def test_presale_deposit_counts_for_more_and_early_access_by_tier():
    # Deposit 5000 counts as 10000: 39900 − 5000 = 34900; deposit 5000 now, balance 29900.
    opens = NOW + timedelta(hours=2)
    presale = PresaleOffer("c-pre", "双11预售", Window(opens, opens + timedelta(days=3)),
                           {"sku-p": PresaleItem("sku-p", 5000, 10000)},
                           balance_from=opens + timedelta(days=4),
                           balance_until=opens + timedelta(days=6),
                           early_access_from=NOW - timedelta(hours=1), early_access_min_rank=3)
    rules = PricingRules(presales=(presale,))
    diamond = replace(GOLD, tier_rank=3, discount_percent=100)
    (early,) = ask(rules, line("p", 39900, sku="sku-p"), member=diamond).lines
    assert (early.payable_fen, early.deposit_fen, early.balance_fen) == (34900, 5000, 29900)
    assert ask(rules, line("p", 39900, sku="sku-p"), member=replace(GOLD, discount_percent=100)) \
        .lines[0].payable_fen == 39900  # gold (rank 2) waits for the opening
    (opened,) = ask(rules, line("p", 39900, sku="sku-p"), now=opens).lines
    assert opened.payable_fen == 34900


def test_every_bad_coupon_is_named_with_why_and_nothing_is_quoted():
    member = MemberProfile(member_id="m-1")
    bad = [coupon("cp-other", member_id="m-2"),
           coupon("cp-old", valid_until=NOW - timedelta(seconds=1)),
           coupon("cp-scope", scope=Scope("products", frozenset({"p-elsewhere"}))),
           coupon("cp-big", threshold=50000, amount=5000)]
    rules = PricingRules(stacking=PricingRules().stacking.__class__(max_coupons_per_order=4))
    with pytest.raises(InvalidArgument) as err:
        ask(rules, line("a", 20000), member=member, coupons=bad)
    assert [(v.field, v.rule) for v in err.value.violations] == [
        ("coupon_ids[0]", "not_yours"), ("coupon_ids[1]", "expired"),
        ("coupon_ids[2]", "out_of_scope"), ("coupon_ids[3]", "below_threshold")]
    assert "needs ¥500.00 of eligible items after other discounts; this cart has ¥200.00" in \
        err.value.violations[3].description
    with pytest.raises(InvalidArgument) as err:  # one coupon per order by default
        ask(PricingRules(), line("a", 20000), member=member,
            coupons=[coupon("cp-1"), coupon("cp-2")])
    assert [v.rule for v in err.value.violations] == ["max_items"]


def test_a_sale_item_takes_no_coupon_by_default():
    sale = SaleOffer("c-flash", "秒杀", ALWAYS, {"sku-s": SaleItem("sku-s", percent=80)})
    with pytest.raises(InvalidArgument) as err:
        ask(PricingRules(sales=(sale,)), line("s", 20000, sku="sku-s"),
            member=MemberProfile(member_id="m-1"), coupons=[coupon(threshold=0, kind="no_threshold")])
    assert err.value.violations[0].rule == "out_of_scope"


def test_bad_lines_are_reported_by_field():
    with pytest.raises(InvalidArgument) as err:
        ask(PricingRules(), line("a", -1), line("a", 100, 0))
    assert {(v.field, v.rule) for v in err.value.violations} == {
        ("lines[0].list_price_fen", "range"), ("lines[1].line_id", "unique"),
        ("lines[1].quantity", "range")}
    with pytest.raises(InvalidArgument):
        ask(PricingRules())


@pytest.mark.parametrize("total, weights, parts", [
    (5000, [25800, 5900], [4069, 931]),
    (10, [1, 1, 1], [4, 3, 3]),          # ties go to the earlier weight
    (0, [5, 7], [0, 0]),
    (7, [0, 3], [0, 7]),
])
def test_apportion(total, weights, parts):
    assert apportion(total, weights) == parts
