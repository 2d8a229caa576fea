"""The checkout saga against the real member, promotion and logistics servers (in this process,
on their own test databases): what it takes, what a retry does, and what a failure gives back."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from mall.common.v1 import common_pb2
from mall.order.v1 import order_pb2
from sqlalchemy import func, select

from servicekit import context
from servicekit.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from servicekit.testing import outbox_events
from services.order import products
from services.order.checkout import Checkout, Downstream
from services.order.models import CartItem, Order

from .helpers import catalog_product

ADDRESS = common_pb2.Address(recipient="林小姐", phone="+86 138-0013-8000", province="广东省",
                             city="深圳市", district="南山区", detail="科技园路 1 号")


@pytest.fixture
def shop(runtime, runtime_for, grpc_target_for):
    """A member with 1,000 points and a ¥30-off-¥199 coupon; two bra SKUs stocked in two
    warehouses (sku-75b-black: 3 in Guangzhou, 2 in Shanghai; sku-80c-nude: 1 in Shanghai)."""
    from services.logistics import stock, warehouses
    from services.logistics.skus import CatalogProduct, CatalogSku, register_product
    from services.logistics.tests.conftest import GUANGZHOU, SHANGHAI
    from services.member.loyalty import points
    from services.member.models import Member
    from services.promotion import coupons, templates
    from services.promotion.tests.helpers import fixed_spec

    member_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    member = runtime_for("member")
    with member.transaction() as s:
        s.add(Member(id=member_id, openid=f"o-{member_id}", created_at=now, last_login_at=now))
    with member.transaction() as s:
        points.credit(s, member_id, points.ADJUST, 1000, reason="test")
    promotion = runtime_for("promotion")
    with promotion.transaction() as s:
        template = templates.create(s, promotion, fixed_spec(), created_by="s-1")
        coupon_id = str(coupons.issue_to_members(s, promotion, str(template.id), [member_id],
                                                 staff_id="s-1")[0].id)
    logistics = runtime_for("logistics")
    clerk = stock.Caller(user_id="s-1", request_id="r-1")
    with logistics.transaction() as s:
        warehouses.create_warehouse(s, SHANGHAI)
        warehouses.create_warehouse(s, GUANGZHOU)
        register_product(s, CatalogProduct("p-1", "无钢圈聚拢文胸", "published", 1, (
            CatalogSku("sku-75b-black", "B75", True), CatalogSku("sku-80c-nude", "C80", True))))
    for code, sku, qty in (("GZ-SOUTH", "sku-75b-black", 3), ("SH-EAST", "sku-75b-black", 2),
                           ("SH-EAST", "sku-80c-nude", 1)):
        with logistics.transaction() as s:
            stock.receive_stock(logistics, s, code, sku, qty, caller=clerk)
    with runtime.transaction() as s:
        products.apply_product(s, products.snapshot_from_event(catalog_product()))
    downstream = Downstream({name: grpc_target_for(name)
                             for name in ("member", "promotion", "logistics")})
    context.set_current(context.CallContext(user_id=member_id))
    yield {"member_id": member_id, "coupon_id": coupon_id, "checkout": Checkout(runtime, downstream),
           "member": member, "promotion": promotion, "logistics": logistics}
    context.set_current(context.CallContext())


def request(*lines, coupons=(), points=0, **extra):
    return order_pb2.CheckoutRequest(
        lines=[order_pb2.CheckoutLine(sku_id=s, quantity=q) for s, q in lines],
        shipping_address=ADDRESS, coupon_ids=list(coupons), points_to_use=points, **extra)


def held(shop):
    """Units logistics holds for orders, by SKU."""
    from services.logistics.models import Stock
    with shop["logistics"].transaction() as s:
        return dict(s.execute(select(Stock.sku_id, func.sum(Stock.reserved))
                              .group_by(Stock.sku_id)).all())


def balance(shop):
    from services.member.loyalty import points
    with shop["member"].transaction() as s:
        return points.balance(s, shop["member_id"])


def coupon_status(shop):
    from services.promotion.models import IssuedCoupon
    with shop["promotion"].transaction() as s:
        return s.get(IssuedCoupon, int(shop["coupon_id"])).status


def test_a_checkout_takes_everything_it_needs_and_records_the_order(shop, runtime):
    with runtime.transaction() as s:  # the cart loses what was bought, keeps the rest
        now = datetime.now(timezone.utc)
        s.add(CartItem(member_id=shop["member_id"], sku_id="sku-75b-black", quantity=1,
                       added_at=now, updated_at=now))
    order = shop["checkout"].place(shop["member_id"], request(
        ("sku-75b-black", 2), coupons=[shop["coupon_id"]], points=500, discreet_packaging=True),
        "key-1")
    with runtime.transaction() as s:
        placed = s.get(Order, order.id)
        assert placed.status == "pending_payment"
        # 2 × 199.00 = 398.00; coupon −30.00; 500 points −5.00; the quote's shipping decides the rest.
        assert placed.list_total_fen == 39800 and placed.points_used == 500
        assert placed.payable_fen == 39800 - 3000 - 500 + placed.shipping_fee_fen
        assert placed.coupon_ids == [shop["coupon_id"]] and placed.discreet_packaging
        assert placed.allocation == [{"warehouse_code": "GZ-SOUTH", "sku_id": "sku-75b-black",
                                      "quantity": 2}]  # Guangzhou is nearest to Shenzhen
        assert placed.pay_deadline - placed.created_at == timedelta(minutes=30)
        assert s.scalar(select(func.count()).select_from(CartItem)) == 0
    assert held(shop)["sku-75b-black"] == 2
    assert balance(shop) == 500 and coupon_status(shop) == "locked"
    [created] = outbox_events(runtime, "order.created")
    assert created["data"]["orderId"] == order.id


def test_a_retry_with_the_same_key_places_nothing_twice(shop, runtime):
    first = shop["checkout"].place(shop["member_id"], request(("sku-75b-black", 1), points=100), "k")
    again = shop["checkout"].place(shop["member_id"], request(("sku-75b-black", 1), points=100), "k")
    assert again.id == first.id
    assert held(shop)["sku-75b-black"] == 1 and balance(shop) == 900
    with pytest.raises(FailedPrecondition) as err:
        shop["checkout"].place(shop["member_id"], request(("sku-75b-black", 2)), "k")
    assert [v.field for v in err.value.violations] == ["idempotency-key"]


def test_out_of_stock_gives_back_the_coupon_and_keeps_the_points(shop, runtime):
    with pytest.raises(ResourceExhausted):
        shop["checkout"].place(shop["member_id"], request(
            ("sku-75b-black", 1), ("sku-80c-nude", 2), coupons=[shop["coupon_id"]], points=300), "k2")
    assert coupon_status(shop) == "available" and balance(shop) == 1000
    assert sum(held(shop).values()) == 0
    with runtime.transaction() as s:
        [failed] = s.scalars(select(Order)).all()
        assert failed.status == "failed" and "ResourceExhausted" in failed.failure
    with pytest.raises(FailedPrecondition) as err:  # the same key tells the same story
        shop["checkout"].place(shop["member_id"], request(
            ("sku-75b-black", 1), ("sku-80c-nude", 2), coupons=[shop["coupon_id"]], points=300), "k2")
    assert "not placed" in str(err.value)


def test_points_beyond_the_balance_release_the_stock_and_the_coupon(shop):
    # 5,000 points (¥50) is within the 50% cap, so the quote allows it; member refuses the spend.
    with pytest.raises(ResourceExhausted):
        shop["checkout"].place(shop["member_id"], request(
            ("sku-75b-black", 2), coupons=[shop["coupon_id"]], points=5000), "k3")
    assert sum(held(shop).values()) == 0
    assert coupon_status(shop) == "available" and balance(shop) == 1000


def test_a_changed_total_is_refused_before_anything_is_taken(shop):
    with pytest.raises(FailedPrecondition) as err:
        shop["checkout"].place(shop["member_id"], request(("sku-75b-black", 1),
                                                          expected_total_fen=100), "k4")
    assert [v.field for v in err.value.violations] == ["expected_total_fen"]
    assert sum(held(shop).values()) == 0


def test_bad_input_is_refused_before_any_service_is_asked(shop, runtime):
    bad = request(("sku-75b-black", 0), ("sku-nope", 1))
    bad.shipping_address.province = ""
    with pytest.raises(InvalidArgument) as err:
        shop["checkout"].place(shop["member_id"], bad, "k5")
    assert {v.field for v in err.value.violations} == {"shipping_address.province"}
    with pytest.raises(InvalidArgument) as err:
        shop["checkout"].place(shop["member_id"], request(("sku-75b-black", 0), ("sku-nope", 1)),
                               "k6")
    assert {v.field for v in err.value.violations} == {"lines[0].quantity"}
    with pytest.raises(InvalidArgument) as err:
        shop["checkout"].place(shop["member_id"], request(("sku-nope", 1)), "k7")
    assert {v.field for v in err.value.violations} == {"lines[0].sku_id"}


def test_the_preview_prices_without_taking_anything(shop):
    preview = shop["checkout"].preview(shop["member_id"], request(
        ("sku-75b-black", 2), coupons=[shop["coupon_id"]]))
    assert preview.list_total_fen == 39800 and preview.discount_fen == 3000
    assert any("30" in line for line in preview.explanation)
    assert sum(held(shop).values()) == 0 and coupon_status(shop) == "available"


def test_a_gift_takes_stock_but_does_not_make_a_flash_sale():
    from mall.promotion.v1 import promotion_pb2 as pb

    from services.order.checkout import is_flash_sale
    gift = pb.QuotaClaim(campaign_id="c-gift", sku_id="sku-bag", quantity=1)
    flash = pb.QuotaClaim(campaign_id="c-flash", sku_id="sku-75b-black", quantity=1)
    gift_line = pb.GiftLine(campaign_id="c-gift", sku_id="sku-bag", quantity=1)
    assert not is_flash_sale(pb.QuoteResponse(quota_claims=[gift], gifts=[gift_line]))
    assert is_flash_sale(pb.QuoteResponse(quota_claims=[gift, flash], gifts=[gift_line]))
    assert not is_flash_sale(pb.QuoteResponse())
