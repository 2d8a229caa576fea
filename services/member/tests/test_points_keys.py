"""Points adjustments and redemptions take the kit's idempotency keys whole (1 to 128 printable
ASCII characters): two keys that differ only past a prefix are two requests."""
import grpc
from mall.member.v1 import loyalty_pb2

from servicekit.errors import violations_from_trailers

from .helpers import credit, rpc_error
from .test_points import assert_consistent
from .test_points_mall import coupon_item, issuable_template, redeem  # noqa: F401 (fixture)


def test_two_adjustment_keys_sharing_a_long_prefix_are_two_adjustments(loyalty_admin, shopper,
                                                                       member_runtime, operator_md):
    member_id, _ = shopper("adjusted-twice")
    prefix = "console-2026-12-04-compensation-batch-0042-"  # 43 characters

    def adjust(key, points=5):
        return loyalty_admin.AdjustPoints(
            loyalty_pb2.AdjustPointsRequest(member_id=member_id, points=points, reason="late parcel"),
            metadata=operator_md + [("idempotency-key", key)])

    first, second = adjust(prefix + "member-1"), adjust(prefix + "member-2")
    assert first.entry_id != second.entry_id and second.balance_after == 10
    assert adjust(prefix + "member-2").entry_id == second.entry_id  # a retry is still one
    longest = adjust("k" * 128)
    assert adjust("k" * 128).entry_id == longest.entry_id
    err = rpc_error(adjust, prefix + "member-1", points=7)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert [(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())] == [
        ("idempotency-key", "reused")]
    err = rpc_error(adjust, "k" * 129)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert assert_consistent(member_runtime, member_id) == 15


def test_a_redemption_takes_a_key_of_128_characters(loyalty_api, loyalty_admin, operator_md, shopper,
                                                    member_runtime):
    member_id, md = shopper("long-key-redeemer")
    credit(member_runtime, member_id, 250)
    item = coupon_item(loyalty_admin, operator_md)
    done = redeem(loyalty_api, md, item.item_id, key="r" * 128)
    assert redeem(loyalty_api, md, item.item_id, key="r" * 128).redemption_id == done.redemption_id
    assert done.balance == 150
    err = rpc_error(redeem, loyalty_api, md, item.item_id, 2, key="r" * 128)
    assert [(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())] == [
        ("idempotency-key", "reused")]
    err = rpc_error(redeem, loyalty_api, md, item.item_id, key="r" * 129)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
