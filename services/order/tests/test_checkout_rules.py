"""The checkout's own rules that need no other service (the saga itself is tested against the
real services in tests/contract/test_order_checkout.py)."""
from mall.promotion.v1 import promotion_pb2 as pb

from services.order.checkout import is_flash_sale


def test_a_gift_takes_stock_but_does_not_make_a_flash_sale():
    gift = pb.QuotaClaim(campaign_id="c-gift", sku_id="sku-bag", quantity=1)
    flash = pb.QuotaClaim(campaign_id="c-flash", sku_id="sku-75b-black", quantity=1)
    gift_line = pb.GiftLine(campaign_id="c-gift", sku_id="sku-bag", quantity=1)
    assert not is_flash_sale(pb.QuoteResponse(quota_claims=[gift], gifts=[gift_line]))
    assert is_flash_sale(pb.QuoteResponse(quota_claims=[gift, flash], gifts=[gift_line]))
    assert not is_flash_sale(pb.QuoteResponse())
