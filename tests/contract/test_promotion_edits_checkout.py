"""A placed order is never repriced by an edit of its campaign: order's PlaceOrder against the
real member, promotion and logistics servers; staff then edit the running flash sale the order
bought from (what they may change goes through, a new price is refused) and the order, placed
and then paid, keeps every fen it was placed at."""
from __future__ import annotations

from datetime import timedelta

import grpc
from mall.order.v1 import order_pb2
from mall.promotion.v1 import promotion_pb2 as pb
from support_a import NOW, OPERATOR, checkout, keyed, paid, refusal, stamp, violations
from support_a import shop as shop  # noqa: F401 (a fixture)
from support_a import wechat as wechat  # noqa: F401 (a fixture)


def test_an_order_placed_in_a_sale_keeps_its_price_through_edits_and_payment(shop):
    sale = shop.offers.CreateCampaign(pb.CreateCampaignRequest(spec=pb.CampaignSpec(
        name="黑色文胸秒杀", kind=pb.FLASH_SALE, starts_at=stamp(NOW - timedelta(hours=1)),
        ends_at=stamp(NOW + timedelta(days=1)), per_member_limit=2,
        flash_items=[pb.FlashSaleItem(sku_id="sku-75b-black", sale_price_fen=12900, quota=5)])),
        metadata=OPERATOR)
    placed = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)), metadata=keyed(shop.me, "k-1"))
    assert placed.list_total_fen == 19900
    assert placed.payable_fen == 12900 + placed.shipping_fee_fen  # at the sale price

    spec = pb.CampaignSpec()
    spec.CopyFrom(sale.spec)
    spec.flash_items[0].sale_price_fen = 15900
    err = refusal(shop.offers.UpdateCampaign, pb.UpdateCampaignRequest(
        id=sale.id, version=sale.version, spec=spec), metadata=OPERATOR)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == {("spec.flash_items[0].sale_price_fen", "running")}
    spec.CopyFrom(sale.spec)
    spec.name, spec.flash_items[0].quota = "黑色文胸秒杀 加量", 50
    spec.ends_at.CopyFrom(stamp(NOW + timedelta(days=7)))
    edited = shop.offers.UpdateCampaign(pb.UpdateCampaignRequest(
        id=sale.id, version=sale.version, spec=spec), metadata=OPERATOR)
    assert [(q.total, q.taken) for q in edited.quotas] == [(50, 1)]  # the order's unit still held

    again = shop.orders.GetOrder(order_pb2.GetOrderRequest(order_id=placed.order_id), metadata=shop.me)
    assert again == placed
    paid(placed)
    after = shop.orders.GetOrder(order_pb2.GetOrderRequest(order_id=placed.order_id), metadata=shop.me)
    assert after.status == "paid"
    assert (after.list_total_fen, after.payable_fen, after.shipping_fee_fen) == (
        placed.list_total_fen, placed.payable_fen, placed.shipping_fee_fen)
    # A new order after the edit is priced at the same sale price.
    second = shop.orders.PlaceOrder(checkout(("sku-75b-black", 1)), metadata=keyed(shop.me, "k-2"))
    assert second.payable_fen - second.shipping_fee_fen == 12900
