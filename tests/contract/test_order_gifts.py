"""Gifts with purchase through order's checkout against the real member, promotion and
logistics servers: the gift line is stored on the order, its stock reserved with the order
(logistics) and taken from the campaign's gift stock (promotion), given back when the order is
cancelled; a refund of qualifying goods below the threshold is judged by the campaign's rule."""
from __future__ import annotations

from datetime import timedelta

from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import payment_events_pb2 as payments
from mall.logistics.v1 import logistics_pb2 as logistics
from mall.order.v1 import order_pb2
from mall.promotion.v1 import promotion_pb2
from support_a import (
    NOW,
    OPERATOR,
    WAREHOUSE,
    announced,
    checkout,
    deliver,
    keyed,
    paid,
    refusal,
    stamp,
    violations,
)
from support_a import shop as shop  # noqa: F401 (a fixture)
from support_a import wechat as wechat  # noqa: F401 (a fixture)

from servicekit import service

DESK = OPERATOR


def gift_campaign(shop, rule="deduct", value=3000) -> promotion_pb2.Campaign:
    """满 300 赠: one 80C (the gift) per order over ¥300, 5 in stock."""
    return shop.offers.CreateCampaign(promotion_pb2.CreateCampaignRequest(
        spec=promotion_pb2.CampaignSpec(
            name="满300赠", kind=promotion_pb2.GIFT, starts_at=stamp(NOW - timedelta(hours=1)),
            ends_at=stamp(NOW + timedelta(days=1)),
            gift=promotion_pb2.GiftRule(threshold_fen=30000, gift_sku_id="sku-80c-nude",
                                        gift_product_id="p-1", gift_title="肤色文胸(赠品)",
                                        quantity_per_order=1, stock=5, return_rule=rule,
                                        gift_value_fen=value))), metadata=OPERATOR)


def reserved(shop, sku_id) -> int:
    (row,) = shop.stock.GetStock(logistics.GetStockRequest(sku_ids=[sku_id]),
                                 metadata=WAREHOUSE).skus
    return sum(w.reserved for w in row.warehouses)


def gift_stock_taken(shop, campaign_id) -> int:
    campaign = shop.offers.GetCampaign(promotion_pb2.GetCampaignRequest(id=campaign_id),
                                       metadata=OPERATOR)
    return sum(q.taken for q in campaign.quotas)


def test_the_gift_is_reserved_with_the_order_and_released_when_it_is_cancelled(shop):
    campaign = gift_campaign(shop)
    order = shop.orders.PlaceOrder(checkout(("sku-75b-black", 2)), metadata=keyed(shop.me, "g1"))
    bought, gift = order.lines
    assert (bought.quantity, gift.sku_id, gift.gift, gift.paid_fen) == (2, "sku-80c-nude", True, 0)
    assert order.payable_fen == 39800  # the gift costs nothing
    assert reserved(shop, "sku-80c-nude") == 1 and reserved(shop, "sku-75b-black") == 2
    assert gift_stock_taken(shop, campaign.id) == 1
    (created,) = announced(service.runtime("order"), "order.created", order_events.OrderCreated)
    assert [line.gift for line in created.lines] == [False, True]

    shop.orders.CancelOrder(order_pb2.CancelOrderRequest(order_id=order.order_id, reason="买错了"),
                            metadata=shop.me)
    (cancelled,) = announced(service.runtime("order"), "order.cancelled",
                             order_events.OrderCancelled)
    for name in ("logistics", "promotion"):  # their handlers of order.cancelled
        deliver(name, "order", "order.cancelled", cancelled)
    assert reserved(shop, "sku-80c-nude") == 0 and reserved(shop, "sku-75b-black") == 0
    assert gift_stock_taken(shop, campaign.id) == 0


def test_a_refund_below_the_threshold_keeps_the_gifts_value_or_asks_it_back(shop):
    gift_campaign(shop, rule="deduct", value=3000)
    order = shop.orders.PlaceOrder(checkout(("sku-75b-black", 2)), metadata=keyed(shop.me, "g2"))
    paid(order)
    bought, gift = order.lines
    terms = shop.desk.GetRefundTerms(order_pb2.RefundTermsRequest(
        order_id=order.order_id, lines=[order_pb2.RefundTermsLine(
            line_id=bought.line_id, quantity=1, amount_fen=19900)]), metadata=DESK)
    # one of two back: 19900 left counts below 30000, so the campaign keeps ¥30 of the refund
    assert terms.deduct_fen == 3000
    assert [(g.gift_line_id, g.outcome) for g in terms.gifts] == [(gift.line_id, "deducted")]
    money_only = shop.desk.GetRefundTerms(order_pb2.RefundTermsRequest(
        order_id=order.order_id, lines=[order_pb2.RefundTermsLine(
            line_id=bought.line_id, quantity=0, amount_fen=1000)]), metadata=DESK)
    assert money_only.deduct_fen == 0 and not money_only.gifts  # no goods came back
    err = refusal(shop.desk.GetRefundTerms, order_pb2.RefundTermsRequest(
        order_id=order.order_id, lines=[order_pb2.RefundTermsLine(
            line_id="nope", quantity=1, amount_fen=1)]), metadata=DESK)
    assert violations(err) == {("lines[0].line_id", "exists")}
    assert refusal(shop.desk.GetRefundTerms, order_pb2.RefundTermsRequest(
        order_id=order.order_id), metadata=shop.me).code().name == "PERMISSION_DENIED"

    # payment kept it and says so in payment.refunded: the order shows the gift settled
    deliver("order", "payment", "payment.refunded", payments.PaymentRefunded(
        payment_intent_id=f"pi-{order.order_id}", order_id=order.order_id,
        member_id=order.member_id, refund_id="rf-1", amount_fen=16900,
        refunded_total_fen=16900, paid_fen=39800, lines=[payments.PaymentRefundLine(
            line_id=bought.line_id, sku_id="sku-75b-black", quantity=1, amount_fen=16900,
            deducted_fen=3000)]))
    view = shop.orders.GetOrder(order_pb2.GetOrderRequest(order_id=order.order_id),
                                metadata=shop.me)
    bought, gift = view.lines
    assert (bought.refunded_quantity, bought.refunded_fen) == (1, 16900)
    assert (gift.gift_outcome, gift.gift_deducted_fen) == ("deducted", 3000)
    # decided once: the other unit back later asks nothing more
    again = shop.desk.GetRefundTerms(order_pb2.RefundTermsRequest(
        order_id=order.order_id, lines=[order_pb2.RefundTermsLine(
            line_id=bought.line_id, quantity=1, amount_fen=19900)]), metadata=DESK)
    assert again.deduct_fen == 0 and not again.gifts
