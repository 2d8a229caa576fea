"""`make run`'s demo promotions: created once, kept on the next run, and usable by Quote."""
from datetime import datetime, timedelta, timezone

from mall.promotion.v1 import promotion_pb2 as pb

from deploy.local import seed_promotion
from servicekit import grpc_client

from .grpc_helpers import OPERATOR, stamp


def test_seed_creates_the_demo_promotions_once(runtime, grpc_target_for, stub):
    channel = grpc_client.channel("promotion", target=grpc_target_for("promotion"))
    skus = [{"sku_id": "demo-sku-1", "product_id": "demo-p-1"}]
    assert seed_promotion.seed(channel, skus) == [seed_promotion.COUPON, seed_promotion.LADDER,
                                                  seed_promotion.FLASH]
    assert seed_promotion.seed(channel, skus) == []
    (flash, ladder) = stub.ListCampaigns(pb.ListCampaignsRequest(), metadata=OPERATOR).campaigns
    assert flash.spec.session.weekday == 5 and flash.spec.flash_items[0].sku_id == "demo-sku-1"
    # The ladder prices a ¥450 cart at 满 400 减 120.
    quote = stub.Quote(pb.QuoteRequest(
        lines=[pb.QuoteLine(line_id="1", sku_id="other", product_id="p", quantity=1,
                            list_price_fen=45000)],
        now=stamp(datetime.now(timezone.utc) + timedelta(minutes=1))))
    assert [(a.ref, a.fen) for a in quote.adjustments] == [(ladder.id, 12000)]
