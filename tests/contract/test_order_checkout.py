"""The checkout saga through order's PlaceOrder and PreviewCheckout, against the real member,
promotion and logistics servers, every one of them seeded and read back through its own API:
what a checkout takes, what a retry does, and what a failure gives back."""
from __future__ import annotations

from datetime import datetime, timedelta

import grpc
from mall.events.v1 import order_events_pb2 as order_events
from mall.logistics.v1 import logistics_pb2 as logistics
from mall.member.v1 import loyalty_pb2
from mall.order.v1 import order_pb2
from mall.promotion.v1 import promotion_pb2
from support_a import WAREHOUSE, announced, checkout, keyed, refusal, violated_fields
from support_a import shop as shop  # noqa: F401 (a fixture)
from support_a import wechat as wechat  # noqa: F401 (a fixture)

from servicekit import service

Code = grpc.StatusCode


def held(shop) -> dict[str, dict[str, int]]:
    """Units logistics holds for orders: sku -> warehouse -> reserved."""
    answer = shop.stock.GetStock(logistics.GetStockRequest(
        sku_ids=["sku-75b-black", "sku-80c-nude"]), metadata=WAREHOUSE)
    return {s.sku_id: {w.warehouse_code: w.reserved for w in s.warehouses if w.reserved}
            for s in answer.skus}


def nothing_held(shop) -> bool:
    return all(not by_warehouse for by_warehouse in held(shop).values())


def balance(shop) -> int:
    return shop.loyalty.GetPointsBalance(loyalty_pb2.GetPointsBalanceRequest(),
                                         metadata=shop.me).balance


def coupon_status(shop) -> str:
    (coupon,) = shop.offers.ListMyCoupons(promotion_pb2.ListMyCouponsRequest(),
                                          metadata=shop.me).coupons
    assert coupon.id == shop.coupon_id
    return coupon.status


def place(shop, request, key: str) -> order_pb2.OrderView:
    return shop.orders.PlaceOrder(request, metadata=keyed(shop.me, key))


def test_a_checkout_takes_everything_it_needs_and_records_the_order(shop):
    shop.cart.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-75b-black", quantity=1),
                          metadata=shop.me)
    shop.cart.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-80c-nude", quantity=1),
                          metadata=shop.me)
    placed = place(shop, checkout(("sku-75b-black", 2), coupons=[shop.coupon_id], points=500,
                                  discreet_packaging=True), "key-1")
    assert placed.status == "pending_payment" and placed.member_id == shop.member_id
    # 2 × 199.00 = 398.00; coupon −30.00; 500 points −5.00; the quote's shipping decides the rest.
    assert placed.list_total_fen == 39800 and placed.points_used == 500
    assert placed.payable_fen == 39800 - 3000 - 500 + placed.shipping_fee_fen
    assert list(placed.coupon_ids) == [shop.coupon_id] and placed.discreet_packaging
    assert datetime.fromisoformat(placed.pay_deadline) - datetime.fromisoformat(
        placed.created_at) == timedelta(minutes=30)
    assert shop.orders.GetOrder(order_pb2.GetOrderRequest(order_id=placed.order_id),
                                metadata=shop.me) == placed
    # the cart loses what was bought and keeps the rest
    cart = shop.cart.GetCart(order_pb2.GetCartRequest(), metadata=shop.me)
    assert [line.sku_id for line in cart.lines] == ["sku-80c-nude"]
    assert held(shop)["sku-75b-black"] == {"GZ-SOUTH": 2}  # Guangzhou is nearest to Shenzhen
    assert balance(shop) == 500 and coupon_status(shop) == "locked"
    (created,) = announced(service.runtime("order"), "order.created", order_events.OrderCreated)
    assert created.order_id == placed.order_id


def test_a_retry_with_the_same_key_places_nothing_twice(shop):
    first = place(shop, checkout(("sku-75b-black", 1), points=100), "k")
    again = place(shop, checkout(("sku-75b-black", 1), points=100), "k")
    assert again.order_id == first.order_id
    assert sum(held(shop)["sku-75b-black"].values()) == 1 and balance(shop) == 900
    err = refusal(place, shop, checkout(("sku-75b-black", 2)), "k")
    assert err.code() == Code.FAILED_PRECONDITION and violated_fields(err) == {"idempotency-key"}


def test_out_of_stock_gives_back_the_coupon_and_keeps_the_points(shop):
    request = checkout(("sku-75b-black", 1), ("sku-80c-nude", 2), coupons=[shop.coupon_id],
                       points=300)
    assert refusal(place, shop, request, "k2").code() == Code.RESOURCE_EXHAUSTED
    assert coupon_status(shop) == "available" and balance(shop) == 1000
    assert nothing_held(shop)
    assert shop.orders.ListMyOrders(order_pb2.ListMyOrdersRequest(),
                                    metadata=shop.me).orders == []  # a failed placement is no order
    err = refusal(place, shop, request, "k2")  # the same key tells the same story
    assert err.code() == Code.FAILED_PRECONDITION
    assert "not placed: ResourceExhausted" in err.details()


def test_points_beyond_the_balance_release_the_stock_and_the_coupon(shop):
    # 5,000 points (¥50) is within the 50% cap, so the quote allows it; member refuses the spend.
    err = refusal(place, shop, checkout(("sku-75b-black", 2), coupons=[shop.coupon_id],
                                        points=5000), "k3")
    assert err.code() == Code.RESOURCE_EXHAUSTED
    assert nothing_held(shop)
    assert coupon_status(shop) == "available" and balance(shop) == 1000


def test_a_changed_total_is_refused_before_anything_is_taken(shop):
    err = refusal(place, shop, checkout(("sku-75b-black", 1), expected_total_fen=100), "k4")
    assert err.code() == Code.FAILED_PRECONDITION
    assert violated_fields(err) == {"expected_total_fen"}
    assert nothing_held(shop)


def test_bad_input_is_refused_before_any_service_is_asked(shop):
    bad = checkout(("sku-75b-black", 0), ("sku-nope", 1))
    bad.shipping_address.province = ""
    err = refusal(place, shop, bad, "k5")
    assert err.code() == Code.INVALID_ARGUMENT
    assert violated_fields(err) == {"shipping_address.province"}
    err = refusal(place, shop, checkout(("sku-75b-black", 0), ("sku-nope", 1)), "k6")
    assert violated_fields(err) == {"lines[0].quantity"}
    err = refusal(place, shop, checkout(("sku-nope", 1)), "k7")
    assert violated_fields(err) == {"lines[0].sku_id"}
    assert nothing_held(shop) and balance(shop) == 1000


def test_the_preview_prices_without_taking_anything(shop):
    preview = shop.orders.PreviewCheckout(checkout(("sku-75b-black", 2),
                                                   coupons=[shop.coupon_id]), metadata=shop.me)
    assert preview.list_total_fen == 39800 and preview.discount_fen == 3000
    assert any("30" in line for line in preview.explanation)
    assert nothing_held(shop) and coupon_status(shop) == "available"
    assert refusal(shop.orders.PreviewCheckout, checkout(("sku-75b-black", 1))).code() == \
        Code.UNAUTHENTICATED
