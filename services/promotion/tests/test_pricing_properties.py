"""Properties of the engine over random carts and rules (hypothesis)."""
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from servicekit.errors import InvalidArgument
from services.promotion.pricing import (
    GiftOffer,
    MemberProfile,
    PricingRules,
    QuoteRequest,
    SaleItem,
    SaleOffer,
    SaleScope,
    Scope,
    Stacking,
    quote,
)
from services.promotion.pricing.apportion import apportion

from .pricing_fixtures import ALWAYS, FRIDAY_EVENING, coupon, ladder, line

lines_strategy = st.lists(
    st.tuples(st.integers(0, 200_000), st.integers(1, 5), st.sampled_from(["bras", "panties"])),
    min_size=1, max_size=10)


@st.composite
def carts(draw):
    raw = draw(lines_strategy)
    lines = tuple(line(f"l{i}", price, qty, sku=f"sku-{i % 4}", categories=[cat])
                  for i, (price, qty, cat) in enumerate(raw))
    member = draw(st.sampled_from([MemberProfile(), MemberProfile(
        member_id="m-1", tier_name="金卡", discount_percent=draw(st.integers(50, 100)))]))
    sale = SaleOffer("c-sale", "秒杀", ALWAYS, {"sku-1": SaleItem("sku-1", percent=draw(
        st.integers(10, 99)), remaining=draw(st.integers(0, 3)))}, per_member_limit=2)
    first = draw(st.integers(1, 50_000))
    thresholds = (ladder("c-a", (first, draw(st.integers(1, first))), (first * 2, first)),
                  ladder("c-b", (10000, 3000), scope=Scope("categories", frozenset({"bras"}))))
    gift = GiftOffer("c-gift", "赠", ALWAYS, 30000, "sku-g", "p-g", "袋", 1, draw(st.integers(0, 2)))
    store_wide = SaleOffer("c-store", "全场", ALWAYS, {}, scope=SaleScope(
        "all", exclude_category_ids=draw(st.sampled_from([frozenset(), frozenset({"panties"})]))),
        percent=draw(st.integers(1, 99)))
    stacking = Stacking(member_discount_on_sale_items=draw(st.booleans()),
                        threshold_on_sale_items=draw(st.booleans()),
                        coupons_on_sale_items=draw(st.booleans()),
                        points_on_sale_items=draw(st.booleans()),
                        floor_percent=draw(st.sampled_from([0, 0, 50, 85, 100])))
    sales = draw(st.sampled_from([(sale,), (sale, store_wide)]))
    rules = PricingRules(sales=sales, thresholds=draw(st.sampled_from([(), thresholds])),
                         gifts=(gift,), stacking=stacking)
    coupons = draw(st.sampled_from([(), (coupon(threshold=0, kind="no_threshold",
                                                amount=draw(st.integers(1, 50_000))),),
                                    (coupon(kind="percentage", amount=0, threshold=0,
                                            percent=draw(st.integers(1, 99)),
                                            cap=draw(st.integers(1, 9999))),)]))
    points = draw(st.integers(0, 100_000)) if member.member_id else 0
    return rules, QuoteRequest(lines=lines, now=FRIDAY_EVENING, member=member,
                               coupon_ids=tuple(c.coupon_id for c in coupons),
                               coupons={c.coupon_id: c for c in coupons}, points_to_use=points)


def attempt(rules, request):
    try:
        return quote(rules, request)
    except InvalidArgument as err:  # a coupon or the points may not fit this cart: that is fine
        assert {v.field for v in err.violations} <= {"points_to_use", "coupon_ids[0]"}
        return None


@settings(max_examples=300, deadline=None)
@given(carts())
def test_totals_never_negative_and_every_fen_accounted_for(case):
    rules, request = case
    result = attempt(rules, request)
    if result is None:
        return
    assert result.total_fen >= 0 and all(q.payable_fen >= 0 for q in result.lines)
    for q in result.lines:
        assert q.list_total_fen - sum(d.fen for d in q.discounts) == q.payable_fen
        assert all(d.fen > 0 for d in q.discounts)
    assert sum(q.payable_fen for q in result.lines) == result.goods_fen - result.points_fen
    assert result.total_fen == result.goods_fen - result.points_fen + result.shipping_fee_fen
    assert result.discount_total_fen == sum(d.fen for q in result.lines for d in q.discounts)
    assert result.points_fen * 100 <= result.goods_fen * rules.stacking.points_max_percent


@settings(max_examples=300, deadline=None)
@given(carts())
def test_apportioned_discounts_sum_to_the_orders(case):
    rules, request = case
    result = attempt(rules, request)
    if result is None:
        return
    per_source = defaultdict(int)
    for q in result.lines:
        for d in q.discounts:
            per_source[(d.source, d.ref)] += d.fen
    for adjustment in result.adjustments:
        assert per_source[(adjustment.source, adjustment.ref)] == adjustment.fen


@settings(max_examples=100, deadline=None)
@given(carts())
def test_quoting_twice_gives_the_same_answer(case):
    rules, request = case
    first, second = attempt(rules, request), attempt(rules, request)
    assert first == second


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=30))
def test_apportion_sums_exactly_and_never_exceeds_a_weight(total, weights):
    if sum(weights) == 0:
        return
    total = min(total, sum(weights))
    parts = apportion(total, weights)
    assert sum(parts) == total
    assert all(0 <= p <= w for p, w in zip(parts, weights, strict=True))


@settings(max_examples=300, deadline=None)
@given(carts())
def test_no_line_is_discounted_below_the_floor_and_notes_follow_the_discounts(case):
    rules, request = case
    result = attempt(rules, request)
    if result is None:
        return
    floor = rules.stacking.floor_percent
    for q in result.lines:
        points = sum(d.fen for d in q.discounts if d.source == "points")
        at_least = -(-q.list_total_fen * floor // 100)
        assert q.payable_fen + points >= min(at_least, q.list_total_fen)
        applied = [(n.source, n.ref, n.fen) for n in q.notes if n.kind == "applied"]
        assert applied == [(d.source, d.ref, d.fen) for d in q.discounts]
        if q.sale_campaign_id:
            assert q.sale_ends_at is not None
