"""Tiers: the ladder staff configure (validated), re-evaluation on completed and refunded
orders, the yearly review, and what checkout reads."""
from datetime import datetime, timezone

import grpc
from mall.events.v1 import order_events_pb2
from mall.member.v1 import loyalty_pb2

from servicekit.errors import violations_from_trailers
from services.member.loyalty import order_effects, sweeps, tiers

from .helpers import outbox_events, rpc_error

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=timezone.utc)


def completed(member_id, order_id, paid, refunded=0):
    return order_events_pb2.OrderCompleted(order_id=order_id, member_id=member_id, paid_fen=paid,
                                           refunded_fen=refunded, completed_at="2026-06-01T04:00:00Z")


def refunded(member_id, order_id, refund_id, amount, paid, full=False):
    return order_events_pb2.OrderRefunded(order_id=order_id, member_id=member_id,
                                          refund_id=refund_id, refunded_fen=amount, paid_fen=paid,
                                          full=full)


def test_the_ladder_refuses_inconsistent_tiers(loyalty_admin, operator_md):
    listed = loyalty_admin.ListTiers(loyalty_pb2.ListTiersRequest(), metadata=operator_md).tiers
    assert [(t.code, t.name, t.rank) for t in listed] == [
        ("standard", "普通会员", 0), ("silver", "银卡会员", 1), ("gold", "金卡会员", 2),
        ("diamond", "钻石会员", 3)]
    bad = loyalty_pb2.Tier(code="Platinum!", name="", rank=2, threshold_kind="vip",
                           threshold=-1, discount_percent=0, points_multiplier_percent=50,
                           free_shipping_threshold_fen=-5)
    err = rpc_error(loyalty_admin.PutTier, bad, metadata=operator_md)
    assert {v.field for v in violations_from_trailers(err.trailing_metadata())} == {
        "code", "name", "threshold_kind", "threshold", "discount_percent",
        "points_multiplier_percent", "free_shipping_threshold_fen"}
    overlapping = loyalty_pb2.Tier(code="platinum", name="铂金会员", rank=2, threshold_kind="spend",
                                   threshold=500_000, discount_percent=93,
                                   points_multiplier_percent=180)
    err = rpc_error(loyalty_admin.PutTier, overlapping, metadata=operator_md)
    assert [(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())] == [
        ("rank", "unique")]
    overlapping.rank, overlapping.threshold = 4, 200_000  # above diamond but cheaper than gold
    err = rpc_error(loyalty_admin.PutTier, overlapping, metadata=operator_md)
    assert {v.rule for v in violations_from_trailers(err.trailing_metadata())} == {"ascending"}
    overlapping.threshold = 1_000_000
    assert loyalty_admin.PutTier(overlapping, metadata=operator_md).rank == 4
    err = rpc_error(loyalty_admin.DeleteTier, loyalty_pb2.DeleteTierRequest(code="standard"),
                    metadata=operator_md)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    loyalty_admin.DeleteTier(loyalty_pb2.DeleteTierRequest(code="platinum"), metadata=operator_md)
    err = rpc_error(loyalty_admin.ListTiers, loyalty_pb2.ListTiersRequest(),
                    metadata=[("x-mall-user-id", "someone")])
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED


def test_completed_spend_raises_the_tier_and_refunds_lower_it(member_runtime, shopper, loyalty_api):
    member_id, md = shopper("climber")
    rt = member_runtime
    with rt.transaction() as s:
        order_effects.order_completed(rt, s, completed(member_id, "o-1", 120_000), NOW)
    with rt.transaction() as s:  # a line refunded before the order completed ...
        order_effects.order_refunded(rt, s, refunded(member_id, "o-2", "rf-1", 10_000, 200_000), NOW)
    with rt.transaction() as s:  # ... which the completion counts again: it must count once
        order_effects.order_completed(rt, s, completed(member_id, "o-2", 200_000, 10_000), NOW)
    with rt.transaction() as s:
        assert tiers.held(s, member_id).code == "gold"  # 120,000 + 190,000 = 310,000 fen
    with rt.transaction() as s:  # a refund after completion: 310,000 - 20,000 < 300,000
        order_effects.order_refunded(rt, s, refunded(member_id, "o-2", "rf-2", 20_000, 200_000), NOW)
    with rt.transaction() as s:
        assert tiers.standing(s, member_id).spend_fen == 120_000 + 200_000 - 30_000
    changes = [(e["data"]["fromTier"], e["data"]["toTier"], e["data"]["reason"])
               for e in outbox_events(rt, "member.tier_changed")
               if e["data"]["memberId"] == member_id]
    assert changes == [("standard", "silver", "order_completed"), ("silver", "gold", "order_completed"),
                       ("gold", "silver", "refund")]
    status = loyalty_api.GetMyTier(loyalty_pb2.GetMyTierRequest(), metadata=md)
    assert status.tier.code == "silver" and status.next_tier.code == "gold"
    assert status.to_next == 300_000 - 290_000
    profile = loyalty_api.GetPricingProfile(loyalty_pb2.GetPricingProfileRequest(member_id=member_id))
    assert (profile.tier_code, profile.tier_rank, profile.discount_percent,
            profile.points_multiplier_percent, profile.free_shipping_threshold_fen) == \
        ("silver", 1, 98, 120, 29_900)
    err = rpc_error(loyalty_api.GetPricingProfile, loyalty_pb2.GetPricingProfileRequest(
        member_id="00000000-0000-4000-8000-00000000dead"))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = rpc_error(loyalty_api.GetPricingProfile,
                    loyalty_pb2.GetPricingProfileRequest(member_id=member_id),
                    metadata=[("x-mall-user-id", "00000000-0000-4000-8000-0000000000ee")])
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED  # another shopper's profile


def test_a_refund_before_completion_is_counted_once(member_runtime, shopper):
    member_id, _ = shopper("early-refund")
    rt = member_runtime
    with rt.transaction() as s:
        order_effects.order_refunded(rt, s, refunded(member_id, "o-9", "rf-9", 50_000, 150_000), NOW)
    with rt.transaction() as s:
        order_effects.order_completed(rt, s, completed(member_id, "o-9", 150_000, 50_000), NOW)
    with rt.transaction() as s:
        assert tiers.standing(s, member_id).spend_fen == 100_000
        assert tiers.held(s, member_id).code == "silver"


def test_the_yearly_review_runs_once_a_year_and_applies_a_changed_ladder(member_runtime, shopper,
                                                                         loyalty_admin, operator_md):
    member_id, _ = shopper("yearly")
    rt = member_runtime
    with rt.transaction() as s:
        order_effects.order_completed(rt, s, completed(member_id, "o-y", 150_000), NOW)
    silver = next(t for t in loyalty_admin.ListTiers(loyalty_pb2.ListTiersRequest(),
                                                     metadata=operator_md).tiers if t.code == "silver")
    silver.threshold = 200_000  # staff raise the bar
    loyalty_admin.PutTier(silver, metadata=operator_md)
    assert sweeps.yearly_review(rt, datetime(2027, 1, 1, 0, 5, tzinfo=timezone.utc))
    assert not sweeps.yearly_review(rt, datetime(2027, 3, 1, tzinfo=timezone.utc))  # done for 2027
    with rt.transaction() as s:
        assert tiers.held(s, member_id).code == "standard"
    last = [e for e in outbox_events(rt, "member.tier_changed") if e["data"]["memberId"] == member_id][-1]
    assert last["data"]["reason"] == "yearly" and last["data"]["toTier"] == "standard"


def test_the_pricing_profile_carries_the_tiers_shipping_and_service_benefits(
        member_runtime, shopper, loyalty_api, loyalty_admin, operator_md):
    """Checkout reads priority shipping and exclusive service here and order.paid carries them
    (logistics ships first; the after-sales and chat queues serve first)."""
    member_id, _ = shopper("benefits")
    with member_runtime.transaction() as s:
        order_effects.order_completed(member_runtime, s, completed(member_id, "o-b", 310_000), NOW)
    profile = loyalty_api.GetPricingProfile(loyalty_pb2.GetPricingProfileRequest(member_id=member_id))
    assert (profile.tier_code, profile.priority_shipping, profile.exclusive_service) == (
        "gold", True, False)  # the seeded ladder: 金卡 ships first, 钻石 also has exclusive service
    gold = next(t for t in loyalty_admin.ListTiers(loyalty_pb2.ListTiersRequest(),
                                                   metadata=operator_md).tiers if t.code == "gold")
    gold.priority_shipping, gold.exclusive_service = False, True  # staff change the benefits
    loyalty_admin.PutTier(gold, metadata=operator_md)
    profile = loyalty_api.GetPricingProfile(loyalty_pb2.GetPricingProfileRequest(member_id=member_id))
    assert (profile.priority_shipping, profile.exclusive_service) == (False, True)
