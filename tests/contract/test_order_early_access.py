"""VIP 优先购 through order's CartService and OrderService against the real member, promotion and
logistics servers: catalog's rule and invitations reach order through its own event handlers;
a lower tier is refused at the cart and at placement (a cart or a preview made before the rule
does not get past it), and allowed once the product opens to everyone or she is invited."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grpc
from mall.events.v1 import catalog_events_pb2 as catalog_events
from mall.order.v1 import order_pb2
from support_a import bra_product, checkout, deliver, keyed, refusal, violations
from support_a import shop as shop  # noqa: F401 (a fixture)
from support_a import wechat as wechat  # noqa: F401 (a fixture)

from servicekit.times import rfc3339

Code = grpc.StatusCode
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def early_access(version: int, public_at: datetime) -> None:
    """Catalog announces the bra with a rule: 金卡 (rank 2) from an hour ago, everyone at public_at."""
    product = bra_product()
    product.version = version
    product.early_access.CopyFrom(catalog_events.CatalogEarlyAccess(
        min_tier_rank=2, tier_name="金卡", opens_at=rfc3339(NOW - timedelta(hours=1)),
        public_at=rfc3339(public_at)))
    deliver("order", "catalog", "product.updated", catalog_events.ProductUpdated(product=product))


def place(shop, request, key):
    return shop.orders.PlaceOrder(request, metadata=keyed(shop.me, key))


def test_a_standard_member_is_refused_until_the_public_opening_or_an_invitation(shop):
    shop.cart.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-75b-black", quantity=1),
                          metadata=shop.me)  # in her cart before the rule
    preview = shop.orders.PreviewCheckout(checkout(), metadata=shop.me)
    early_access(2, NOW + timedelta(days=2))

    err = refusal(shop.cart.AddCartItem, order_pb2.AddCartItemRequest(
        sku_id="sku-80c-nude", quantity=1), metadata=shop.me)
    assert err.code() == Code.FAILED_PRECONDITION
    assert violations(err) == {("sku_id", "early_access")}
    assert "金卡 and above" in err.details()
    # the cart made before, and the total a preview showed before, do not get past it
    for request in (checkout(), checkout(expected_total_fen=preview.total_fen),
                    checkout(("sku-75b-black", 1))):
        err = refusal(place, shop, request, f"ea-{len(request.lines)}-{request.expected_total_fen}")
        assert err.code() == Code.FAILED_PRECONDITION
        assert violations(err) == {("lines[0].sku_id", "early_access")}
    assert refusal(shop.orders.PreviewCheckout, checkout(),
                   metadata=shop.me).code() == Code.FAILED_PRECONDITION
    assert shop.orders.ListMyOrders(order_pb2.ListMyOrdersRequest(),
                                    metadata=shop.me).orders == []

    # invited to the trial (catalog's product.trial_invited): she may buy it now
    deliver("order", "catalog", "product.trial_invited", catalog_events.TrialInvited(
        product_id="p-1", member_ids=[shop.member_id], source="staff", invited_at=rfc3339(NOW)))
    assert place(shop, checkout(("sku-75b-black", 1)), "ea-invited").status == "pending_payment"
    shop.cart.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-80c-nude", quantity=1),
                          metadata=shop.me)


def test_everyone_may_buy_after_the_public_opening(shop):
    early_access(2, NOW + timedelta(days=2))
    assert refusal(place, shop, checkout(("sku-75b-black", 1)), "ea-before").code() == \
        Code.FAILED_PRECONDITION
    early_access(3, NOW - timedelta(seconds=1))  # the public opening is past
    shop.cart.AddCartItem(order_pb2.AddCartItemRequest(sku_id="sku-80c-nude", quantity=1),
                          metadata=shop.me)
    assert place(shop, checkout(("sku-75b-black", 1)), "ea-after").status == "pending_payment"
