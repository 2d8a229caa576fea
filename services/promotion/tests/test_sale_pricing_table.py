"""A store-wide sale (8 折 every Friday 20:00-22:00 Beijing, "new arrivals" excluded) against a
满 200 减 50 ladder, a 满 100 减 30 coupon, points and a 金卡 95 折, under the stacking rules the
merchant sets, with and without a price floor. Every figure computed by hand (comments)."""
from dataclasses import replace
from datetime import timedelta

import pytest

from services.promotion.pricing import (
    MemberProfile,
    PricingRules,
    QuoteRequest,
    SaleItem,
    SaleOffer,
    SaleScope,
    Stacking,
    Window,
    quote,
)

from .pricing_fixtures import FRIDAY_EVENING, GOLD, coupon, ladder, line

NOW = FRIDAY_EVENING                      # Friday 20:30 Beijing
FRI_22 = NOW + timedelta(minutes=90)      # the session's end
FRIDAYS = Window(NOW - timedelta(days=7), NOW + timedelta(days=30), weekdays=(5,),
                 session_start_minute=20 * 60, session_end_minute=22 * 60)
STORE_WIDE = SaleOffer("c-sale", "周五狂欢", FRIDAYS, {}, scope=SaleScope(
    "all", exclude_category_ids=frozenset({"cat-new"})), percent=80)
# A: 2 × ¥100 (on sale); N: 1 × ¥150 in "new arrivals" (excluded).
CART = (line("a", 10000, 2, categories=("cat-bras",)), line("n", 15000, categories=("cat-new",)))
ALL_STACK = Stacking(member_discount_on_sale_items=True, threshold_on_sale_items=True,
                     coupons_on_sale_items=True)
NO_POINTS = Stacking(points_on_sale_items=False)
SILVER = MemberProfile(member_id="m-1", tier_code="silver", tier_name="银卡", tier_rank=1,
                       discount_percent=100)


def ask(stacking=Stacking(), member=MemberProfile(), coupons=(), points=0, now=NOW, sale=STORE_WIDE):
    rules = PricingRules(sales=(sale,), thresholds=(ladder(),), stacking=stacking)
    return quote(rules, QuoteRequest(lines=CART, now=now, member=member,
                                     coupon_ids=tuple(c.coupon_id for c in coupons),
                                     coupons={c.coupon_id: c for c in coupons}, points_to_use=points))


CASES = [
    # name, stacking, member, coupon?, points, (A payable, N payable), total
    # Guest: A 20000 × 80% = 16000; N list 15000. Ladder only on N (15000 < 20000): none.
    ("guest", Stacking(), MemberProfile(), False, 0, (16000, 15000), 31000),
    # Gold, merchant default (nothing on sale lines but points): A 16000 (no 95 折);
    # N 15000 × 95% = 14250; ladder: N 14250 < 20000; coupon on N: −3000 → 11250;
    # 1000 points over 16000 / 11250: 587.15 / 412.84 → 587 + 413 (largest remainder).
    ("gold default", Stacking(), GOLD, True, 1000, (15413, 10837), 26250),
    # Gold, no points on sale lines: all 1000 fen on N: 11250 − 1000 = 10250.
    ("gold, no points on sale", NO_POINTS, GOLD, True, 1000, (16000, 10250), 26250),
    # Gold, everything stacks: A 16000 × 95% = 15200; N 14250; ladder 5000 over 15200 / 14250:
    # 2580.64 / 2419.35 → 2581 / 2419 → 12619 / 11831; coupon 3000 over 24450: 1548.38 /
    # 1451.61 → 1548 / 1452 → 11071 / 10379.
    ("gold, all stack", ALL_STACK, GOLD, True, 0, (11071, 10379), 21450),
    # Floor 85%: A at least 17000 (sale cut 4000 → 3000), N at least 12750. Member: A nothing
    # left, N 14250. Ladder 5000: A's share 2720 kept back, N's 2280 → 1500 (to 12750).
    # Coupon 3000: nothing left above either floor.
    ("gold, all stack, floor 85%", replace(ALL_STACK, floor_percent=85), GOLD, True, 0,
     (17000, 12750), 29750),
]


@pytest.mark.parametrize("name,stacking,member,with_coupon,points,payables,total", CASES,
                         ids=[c[0] for c in CASES])
def test_sale_ladder_coupon_points_tier(name, stacking, member, with_coupon, points, payables, total):
    result = ask(stacking, member, (coupon(),) if with_coupon else (), points)
    assert tuple(q.payable_fen for q in result.lines) == payables
    assert result.total_fen == total
    a, n = result.lines
    assert a.sale_campaign_id == "c-sale" and a.sale_ends_at == FRI_22 and a.sale_units == 2
    assert n.sale_campaign_id == "" and n.sale_ends_at is None  # excluded: new arrivals


def test_the_line_explains_order_what_did_not_stack_and_the_floor():
    a, _n = ask(Stacking(), GOLD, (coupon(),), 1000).lines
    assert [(n.kind, n.source) for n in a.notes] == [
        ("applied", "sale"), ("not_stacked", "member"), ("not_stacked", "threshold"),
        ("not_stacked", "coupon"), ("applied", "points")]
    assert a.notes[0].text == "1. 周五狂欢 \u2212¥40.00"
    assert a.notes[1].text == "金卡会员 95 折 不与「周五狂欢」叠加"
    assert a.notes[-1].text == "2. 1000 积分抵扣 \u2212¥5.87"
    floored, _ = ask(replace(ALL_STACK, floor_percent=85), GOLD, (coupon(),)).lines
    assert [(n.kind, n.source, n.fen) for n in floored.notes][:3] == [
        ("floor", "sale", 1000), ("applied", "sale", 3000), ("floor", "member", 850)]
    assert "不低于标价的 85%" in floored.notes[0].text


def test_the_sale_own_stacking_rules_win_over_the_merchants():
    # The sale lets coupons stack: the coupon spreads over A 16000 and N 14250 (gold):
    # 3000 × 16000/30250 = 1586.77 → 1587, 1413.22 → 1413.
    sale = replace(STORE_WIDE, stacking=Stacking(coupons_on_sale_items=True))
    result = ask(Stacking(), GOLD, (coupon(),), sale=sale)
    assert [q.payable_fen for q in result.lines] == [16000 - 1587, 14250 - 1413]


@pytest.mark.parametrize("moment,on_sale", [
    (NOW.replace(minute=0), True),                  # 20:00:00 Friday: on
    (FRI_22 - timedelta(seconds=1), True),          # 21:59:59
    (FRI_22, False),                                # 22:00:00: list price again
    (NOW.replace(minute=0) - timedelta(seconds=1), False),  # 19:59:59
])
def test_friday_boundaries(moment, on_sale):
    a, _ = ask(now=moment).lines
    assert (a.payable_fen == 16000) is on_sale
    assert (a.sale_ends_at == FRI_22) is on_sale


def test_per_sku_prices_win_over_the_percent_and_the_best_sale_wins():
    sale = replace(STORE_WIDE, items={"sku-a": SaleItem("sku-a", price_fen=7000)})
    a, _ = ask(sale=sale).lines
    assert a.payable_fen == 14000
    flash = SaleOffer("c-flash", "秒杀", FRIDAYS, {"sku-a": SaleItem("sku-a", price_fen=7500,
                                                                   remaining=5)})
    rules = PricingRules(sales=(STORE_WIDE, flash))
    result = quote(rules, QuoteRequest(lines=CART, now=NOW))
    assert result.lines[0].sale_campaign_id == "c-flash" and result.lines[0].payable_fen == 15000
    assert [(c.campaign_id, c.quantity) for c in result.quota_claims] == [("c-flash", 2)]


def test_early_access_for_rank_two_before_everyone():
    # Opens to rank >= 2 on Thursday 20:30, to everyone on Friday 20:00 (a one-window sale).
    opens = NOW.replace(minute=0)
    sale = replace(STORE_WIDE, window=Window(opens, opens + timedelta(days=2)),
                   early_access_from=opens - timedelta(days=1), early_access_min_rank=2)
    before = opens - timedelta(hours=1)
    gold, _ = ask(member=GOLD, now=before, sale=sale).lines
    silver, _ = ask(member=SILVER, now=before, sale=sale).lines
    guest, _ = ask(now=before, sale=sale).lines
    assert gold.payable_fen == 16000 and gold.sale_ends_at == opens + timedelta(days=2)
    assert silver.sale_campaign_id == "" and guest.sale_campaign_id == ""
    assert ask(now=opens, sale=sale).lines[0].payable_fen == 16000
