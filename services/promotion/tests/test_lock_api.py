"""The order saga's calls through the real gRPC server: quote, lock what the quote claims,
consume or release, with the status codes order relies on."""
from datetime import timedelta

import grpc

from .grpc_helpers import OPERATOR, pb, rpc_error, stamp, violations
from .helpers import NOW

LATER = NOW + timedelta(minutes=10)


def flash_sale(stub, quota=1):
    return stub.CreateCampaign(pb.CreateCampaignRequest(spec=pb.CampaignSpec(
        name="秒杀", kind=pb.FLASH_SALE, starts_at=stamp(NOW - timedelta(hours=1)),
        ends_at=stamp(NOW + timedelta(days=1)), per_member_limit=1,
        flash_items=[pb.FlashSaleItem(sku_id="sku-s", sale_price_fen=9900, quota=quota)])),
        metadata=OPERATOR)


def quote_for(stub, member_id):
    return stub.Quote(pb.QuoteRequest(
        lines=[pb.QuoteLine(line_id="1", sku_id="sku-s", product_id="p-s", quantity=1,
                            list_price_fen=15900)],
        member=pb.PricingMember(member_id=member_id), now=stamp(NOW + timedelta(seconds=5))))


def lock(stub, order_id, member_id, claims):
    return stub.LockForOrder(pb.LockForOrderRequest(
        order_id=order_id, member_id=member_id, flash_lines=claims,
        expires_at=stamp(LATER + timedelta(minutes=15))))


def test_quote_lock_consume_and_the_next_buyer_is_resource_exhausted(stub):
    campaign = flash_sale(stub, quota=1)
    claims = quote_for(stub, "m-1").quota_claims
    assert [(c.campaign_id, c.sku_id, c.quantity) for c in claims] == [(campaign.id, "sku-s", 1)]
    locked = lock(stub, "o-1", "m-1", claims)
    assert (locked.status, locked.flash_lines[0].quantity) == ("locked", 1)
    assert lock(stub, "o-1", "m-1", claims) == locked  # a retried call answers the same
    assert quote_for(stub, "m-2").quota_claims == []  # sold out: quoted at the list price
    err = rpc_error(lock, stub, "o-2", "m-2", claims)  # one who quoted before it sold out
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert violations(err) == [("flash_lines[0].quantity", "quota_exhausted")]
    assert stub.ConsumeForOrder(pb.ConsumeForOrderRequest(order_id="o-1")).status == "consumed"
    assert stub.ConsumeForOrder(pb.ConsumeForOrderRequest(order_id="o-1")).status == "consumed"
    got = stub.GetCampaign(pb.GetCampaignRequest(id=campaign.id), metadata=OPERATOR)
    assert [(q.sku_id, q.total, q.taken) for q in got.quotas] == [("sku-s", 1, 1)]


def test_release_gives_the_unit_to_the_next_buyer_and_states_are_guarded(stub):
    flash_sale(stub, quota=1)
    lock(stub, "o-1", "m-1", quote_for(stub, "m-1").quota_claims)
    assert stub.ReleaseForOrder(pb.ReleaseForOrderRequest(order_id="o-1")).status == "released"
    assert stub.ReleaseForOrder(pb.ReleaseForOrderRequest(order_id="o-1")).status == "released"
    err = rpc_error(stub.ConsumeForOrder, pb.ConsumeForOrderRequest(order_id="o-1"))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert lock(stub, "o-2", "m-2", quote_for(stub, "m-2").quota_claims).status == "locked"
    assert stub.ConsumeForOrder(pb.ConsumeForOrderRequest(order_id="o-none")).status == "none"
    err = rpc_error(stub.ReleaseForOrder, pb.ReleaseForOrderRequest())
    assert violations(err) == [("order_id", "required")]
