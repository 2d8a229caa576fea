"""Sales through the real gRPC server on PostgreSQL: a store-wide weekly sale with exclusions,
the merchant's stacking rules and floor, the Friday 22:00 boundary, bad input named field by
field (nothing written), a sale's per-member limit locked without a quota."""
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from sqlalchemy import func, select

from services.promotion.models import Campaign, StackingSettings

from .grpc_helpers import OPERATOR, pb, rpc_error, shopper, stamp, violations
from .helpers import NOW

# Friday 2026-12-04, 21:59 and 22:00 in Beijing (13:59 / 14:00 UTC).
FRI_2159 = datetime(2026, 12, 4, 13, 59, tzinfo=timezone.utc)
FRI_22 = datetime(2026, 12, 4, 14, 0, tzinfo=timezone.utc)
GOLD = pb.PricingMember(member_id="m-1", tier_code="gold", tier_name="金卡", tier_rank=2,
                        discount_percent=95)


def sale_spec(**rule):
    rule.setdefault("scope", pb.SALE_ALL)
    rule.setdefault("price_percent", 80)
    rule.setdefault("exclude_category_ids", ["cat-new"])
    spec = dict(name="周五狂欢", kind=pb.SALE,
                starts_at=stamp(min(NOW, FRI_2159) - timedelta(days=1)),
                ends_at=stamp(max(NOW, FRI_22) + timedelta(days=30)),
                session=pb.WeeklySession(weekdays=[5, 6], start="20:00", end="22:00"),
                sale=pb.SaleRule(**rule))
    return spec


def create(stub, **spec):
    return stub.CreateCampaign(pb.CreateCampaignRequest(spec=pb.CampaignSpec(**spec)),
                               metadata=OPERATOR)


def cart(now, *lines, **extra):
    return pb.QuoteRequest(lines=[pb.QuoteLine(line_id=f"l{i}", sku_id=sku, product_id=f"p-{sku}",
                                               quantity=1, list_price_fen=price, category_ids=cats)
                                  for i, (sku, price, cats) in enumerate(lines)],
                           now=stamp(now), **extra)


def rows(runtime, model) -> int:
    with runtime.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_store_wide_weekly_sale_prices_until_the_sessions_end(stub):
    made = create(stub, **sale_spec())
    assert made.spec.session.weekdays == [5, 6] and made.version == 1
    assert made.spec.sale.price_percent == 80 and made.spec.sale.exclude_category_ids == ["cat-new"]
    request = (("sku-a", 10000, ["cat-bras"]), ("sku-n", 15000, ["cat-new"]))
    at_2159 = stub.Quote(cart(FRI_2159, *request, member=GOLD))
    a, n = at_2159.lines
    assert (a.payable_fen, a.sale_campaign_id) == (8000, made.id)
    assert a.sale_ends_at.ToDatetime(tzinfo=timezone.utc) == FRI_22
    assert [(x.kind, x.source) for x in a.notes] == [("applied", "sale"), ("not_stacked", "member")]
    assert n.sale_campaign_id == "" and n.payable_fen == 14250  # new arrivals: 95 折 only
    at_22 = stub.Quote(cart(FRI_22, *request, member=GOLD))
    assert [line.payable_fen for line in at_22.lines] == [9500, 14250]
    assert not at_22.lines[0].HasField("sale_ends_at")


def test_the_merchants_stacking_rules_and_floor_are_read_and_set(stub, runtime):
    first = stub.GetStackingRules(pb.GetStackingRulesRequest(), metadata=OPERATOR)
    assert first.is_default and not first.on_sale_items.coupons_on_sale_items
    assert first.on_sale_items.points_on_sale_items and first.floor_percent == 0
    set_to = stub.SetStackingRules(pb.SetStackingRulesRequest(rules=pb.StackingRules(
        on_sale_items=pb.SaleStacking(member_discount_on_sale_items=True, points_on_sale_items=True),
        floor_percent=78)), metadata=OPERATOR)
    assert not set_to.is_default and set_to.updated_by == "staff-1" and set_to.floor_percent == 78
    create(stub, **sale_spec())
    (a,) = stub.Quote(cart(FRI_2159, ("sku-a", 10000, []), member=GOLD)).lines
    # 8000 × 95% = 7600 would be below the floor 7800: the tier discount is cut to 200.
    assert [(d.source, d.fen) for d in a.discounts] == [("sale", 2000), ("member", 200)]
    assert [(x.kind, x.source, x.fen) for x in a.notes][-2:] == [("floor", "member", 200),
                                                                 ("applied", "member", 200)]
    err = rpc_error(stub.SetStackingRules, pb.SetStackingRulesRequest(
        rules=pb.StackingRules(floor_percent=101)), metadata=OPERATOR)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == [("rules.floor_percent", "range")]
    denied = rpc_error(stub.GetStackingRules, pb.GetStackingRulesRequest(), metadata=shopper("m-1"))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rows(runtime, StackingSettings) == 1


@pytest.mark.parametrize("spec,expected", [
    (sale_spec(price_percent=120), ("spec.sale.price_percent", "range")),
    (sale_spec(price_percent=0), ("spec.sale.price_percent", "required")),
    (sale_spec(items=[pb.FlashSaleItem(sku_id="sku-1", price_percent=100)]),
     ("spec.sale.items[0].price_percent", "range")),
    (dict(sale_spec(), session=pb.WeeklySession(weekdays=[5], start="22:00", end="20:00")),
     ("spec.session.end", "after_start")),
    (dict(sale_spec(), session=pb.WeeklySession(weekdays=[5, 8], start="20:00", end="22:00")),
     ("spec.session.weekdays[1]", "range")),
    (sale_spec(scope=pb.SALE_CATEGORIES), ("spec.sale.category_ids", "required")),
    (dict(name="秒杀", kind=pb.FLASH_SALE, per_member_limit=1, starts_at=stamp(NOW),
          ends_at=stamp(NOW + timedelta(days=1)),
          flash_items=[pb.FlashSaleItem(sku_id="sku-1", price_percent=100, quota=1)]),
     ("spec.flash_items[0].price_percent", "range")),
    (sale_spec(early_access_min_rank=2), ("spec.sale.early_access_min_rank", "unused")),
])
def test_bad_sales_are_refused_naming_field_and_rule_and_nothing_is_written(stub, runtime, spec,
                                                                            expected):
    err = rpc_error(create, stub, **spec)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in violations(err)
    assert rows(runtime, Campaign) == 0


def test_overlapping_sales_must_agree_on_stacking(stub, runtime):
    first = create(stub, **sale_spec())
    # The same stacking (the merchant's): both may run; a line takes the better price.
    single = create(stub, **dict(sale_spec(scope=pb.SALE_SKUS, sku_ids=["sku-a"], price_percent=70,
                                           exclude_category_ids=[]), name="单品7折"))
    own = pb.SaleStacking(coupons_on_sale_items=True, points_on_sale_items=True)
    err = rpc_error(create, stub, **dict(sale_spec(scope=pb.SALE_CATEGORIES, category_ids=["cat-bras"],
                                                   stacking=own, exclude_category_ids=[])))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == [("spec.sale.stacking", "conflicts"), ("spec.sale.stacking", "conflicts")]
    assert f"campaign {first.id}" in err.details()
    # Scopes that cannot meet may differ: the store-wide sale excludes cat-new (the single-SKU
    # sale could be in cat-new: it ends first).
    stub.EndCampaign(pb.EndCampaignRequest(id=single.id), metadata=OPERATOR)
    new = create(stub, **dict(sale_spec(scope=pb.SALE_CATEGORIES, category_ids=["cat-new"],
                                        stacking=own, exclude_category_ids=[]), name="新品"))
    # A flash sale (the merchant's rules) may meet the 新品 sale (its own rules): refused.
    err = rpc_error(create, stub, name="秒杀", kind=pb.FLASH_SALE, per_member_limit=1,
                    starts_at=stamp(NOW), ends_at=stamp(NOW + timedelta(days=3)),
                    flash_items=[pb.FlashSaleItem(sku_id="sku-x", sale_price_fen=100, quota=1)])
    assert violations(err) == [("spec.sale.stacking", "conflicts")]
    assert f"campaign {new.id}" in err.details()
    assert rows(runtime, Campaign) == 3


def test_a_sales_member_limit_is_locked_without_a_quota(stub):
    made = create(stub, **dict(sale_spec(), session=None, starts_at=stamp(NOW - timedelta(hours=1)),
                               per_member_limit=2))
    now = datetime.now(timezone.utc)
    answer = stub.Quote(cart(now, ("sku-a", 10000, []), member=GOLD))
    assert [(c.campaign_id, c.sku_id, c.quantity) for c in answer.quota_claims] == [(made.id, "sku-a", 1)]

    def lock(order_id, quantity):
        return stub.LockForOrder(pb.LockForOrderRequest(
            order_id=order_id, member_id="m-1", expires_at=stamp(now + timedelta(minutes=30)),
            flash_lines=[pb.QuotaClaim(campaign_id=made.id, sku_id="sku-a", quantity=quantity)]))
    assert lock("o-1", 2).status == "locked"
    err = rpc_error(lock, "o-2", 1)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert violations(err) == [("flash_lines[0].quantity", "per_member_limit")]
