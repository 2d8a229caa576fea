"""A sale that ends while a cart is open: the quote says until when the sale price holds; an
order placed in the window keeps its price after the window closes, through payment. Against
the real member, promotion and logistics servers (order's checkout called in process, so the
moment it prices at can be chosen)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from mall.order.v1 import order_pb2
from mall.promotion.v1 import promotion_pb2 as pb
from support_a import OPERATOR, checkout, keyed, paid
from support_a import shop as shop  # noqa: F401 (a fixture)
from support_a import wechat as wechat  # noqa: F401 (a fixture)

from servicekit import service
from servicekit.times import rfc3339
from services.order.checkout import Checkout

# Friday 2026-12-11, 21:59 and 22:00 in Beijing.
FRI_2159 = datetime(2026, 12, 11, 13, 59, tzinfo=timezone.utc)
FRI_22 = FRI_2159 + timedelta(minutes=1)


def stamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def sale(shop, name: str, starts: datetime, ends: datetime, **spec) -> pb.Campaign:
    return shop.offers.CreateCampaign(pb.CreateCampaignRequest(spec=pb.CampaignSpec(
        name=name, kind=pb.SALE, starts_at=stamp(starts), ends_at=stamp(ends),
        sale=pb.SaleRule(scope=pb.SALE_SKUS, sku_ids=["sku-75b-black"], price_percent=80),
        **spec)), metadata=OPERATOR)


def test_the_quote_changes_at_22_00_and_a_placed_order_keeps_its_price(shop):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # Every Friday 20:00-22:00 Beijing: for previews at 21:59 and 22:00 next Friday.
    fridays = sale(shop, "周五狂欢", now - timedelta(days=1), now + timedelta(days=30),
                   session=pb.WeeklySession(weekdays=[5], start="20:00", end="22:00"))
    # And one closing two minutes from now: the order is placed inside it, paid after it.
    closes = now + timedelta(minutes=2)
    window = sale(shop, "限时两分钟", now - timedelta(hours=1), closes)
    checkout_ = Checkout(service.runtime("order"))
    request = checkout(("sku-75b-black", 1))

    at_2159 = checkout_.preview(shop.member_id, request, now=FRI_2159)
    at_22 = checkout_.preview(shop.member_id, request, now=FRI_22)
    assert at_2159.lines[0].discounts == {"sale": 3980} and at_2159.lines[0].paid_fen == 15920
    assert at_22.lines[0].discounts == {} and at_22.lines[0].paid_fen == 19900
    assert at_2159.lines[0].sale_ends_at == "2026-12-11T14:00:00Z" and at_22.lines[0].sale_ends_at == ""
    shown = shop.orders.PreviewCheckout(request, metadata=shop.me)  # what the shopper sees now
    assert shown.lines[0].sale_ends_at == rfc3339(closes)
    quoted = shop.offers.Quote(pb.QuoteRequest(now=stamp(FRI_2159), lines=[pb.QuoteLine(
        line_id="1", sku_id="sku-75b-black", product_id="p", quantity=1, list_price_fen=19900)]))
    assert quoted.lines[0].sale_campaign_id == fridays.id
    assert quoted.lines[0].sale_ends_at.ToDatetime(tzinfo=timezone.utc) == FRI_22

    placed = shop.orders.PlaceOrder(request, metadata=keyed(shop.me, "sale-1"))
    assert placed.lines[0].discounts == {"sale": 3980} and placed.payable_fen == 15920
    # After the window closes the price is the list price again ...
    after = checkout_.preview(shop.member_id, request, now=closes)
    assert after.lines[0].paid_fen == 19900 and after.payable_fen > placed.payable_fen
    # ... and the placed order keeps its amounts through payment.
    payable = shop.orders.GetPayable(order_pb2.GetPayableRequest(order_id=placed.order_id),
                                     metadata=shop.me)
    assert payable.payable_fen == placed.payable_fen == 15920
    paid(placed)
    read = shop.orders.GetOrder(order_pb2.GetOrderRequest(order_id=placed.order_id),
                                metadata=shop.me)
    assert read.status == "paid" and read.paid_fen == 15920
    assert read.lines[0].discounts == {"sale": 3980}
    assert window.id
