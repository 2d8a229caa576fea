"""The points mall: staff list items; redeeming debits points and stock together and writes
points.redeemed; never beyond the balance, the stock or the per-member limit."""
import uuid

import grpc
import pytest
from mall.member.v1 import loyalty_pb2

from servicekit.errors import violations_from_trailers
from services.member.models import MallItem

from .helpers import credit, outbox_events, race, rpc_error
from .test_points import assert_consistent


@pytest.fixture(autouse=True)
def issuable_template(coupon_template):
    """A real template in promotion for the coupon items of these tests (checked at save)."""
    coupon_item.template_id = coupon_template()
    return coupon_item.template_id


def coupon_item(loyalty_admin, md, **changes):
    fields = dict(kind="coupon", title="满200减30券", coupon_template_id=coupon_item.template_id,
                  points_price=100, stock=10, per_member_limit=2, active=True)
    fields.update(changes)
    return loyalty_admin.PutMallItem(loyalty_pb2.MallItem(**fields), metadata=md)


def redeem(loyalty_api, md, item_id, quantity=1, key=None):
    md = md + [("idempotency-key", key)] if key else md
    return loyalty_api.Redeem(loyalty_pb2.RedeemRequest(item_id=item_id, quantity=quantity),
                              metadata=md)


def stock_of(runtime, item_id):
    with runtime.transaction() as s:
        return s.get(MallItem, item_id).stock


def test_staff_items_are_validated(loyalty_admin, operator_md):
    err = rpc_error(coupon_item, loyalty_admin, operator_md, kind="cash", title="", points_price=0,
                    stock=-1, per_member_limit=-1, starts_at="2026-07-01T00:00:00Z",
                    ends_at="2026-06-01T00:00:00Z")
    assert {v.field for v in violations_from_trailers(err.trailing_metadata())} == {
        "kind", "title", "points_price", "stock", "per_member_limit", "ends_at"}
    err = rpc_error(coupon_item, loyalty_admin, operator_md, coupon_template_id="")
    assert [v.field for v in violations_from_trailers(err.trailing_metadata())] == ["coupon_template_id"]
    err = rpc_error(coupon_item, loyalty_admin, operator_md, starts_at="tomorrow")
    assert [v.field for v in violations_from_trailers(err.trailing_metadata())] == ["starts_at"]


def test_redeeming_debits_points_and_stock_and_announces_it(loyalty_api, loyalty_admin, operator_md,
                                                            shopper, member_runtime):
    member_id, md = shopper("redeemer")
    credit(member_runtime, member_id, 250)
    item = coupon_item(loyalty_admin, operator_md)
    hidden = coupon_item(loyalty_admin, operator_md, active=False, title="下架")
    listed = loyalty_api.ListMallItems(loyalty_pb2.ListMallItemsRequest(), metadata=md).items
    assert item.item_id in [i.item_id for i in listed] and hidden.item_id not in [i.item_id for i in listed]

    done = redeem(loyalty_api, md, item.item_id, key="tap-1")
    again = redeem(loyalty_api, md, item.item_id, key="tap-1")  # a double tap
    assert done.redemption_id == again.redemption_id and done.balance == 150 and done.points == 100
    assert stock_of(member_runtime, item.item_id) == 9
    err = rpc_error(redeem, loyalty_api, md, item.item_id, 2, key="tap-1")  # a reused key
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    [event] = [e for e in outbox_events(member_runtime, "points.redeemed")
               if e["data"]["memberId"] == member_id]
    assert event["id"] == done.redemption_id
    assert event["data"]["couponTemplateId"] == coupon_item.template_id and event["data"]["itemKind"] == "coupon"

    err = rpc_error(redeem, loyalty_api, md, item.item_id, 2)  # the limit is 2 per member
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "per member" in err.details()
    redeem(loyalty_api, md, item.item_id)
    err = rpc_error(redeem, loyalty_api, md, coupon_item(loyalty_admin, operator_md).item_id)
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "balance is 50" in err.details()
    err = rpc_error(redeem, loyalty_api, md, str(uuid.uuid4()))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = rpc_error(redeem, loyalty_api, md, hidden.item_id)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = rpc_error(redeem, loyalty_api, md, "not-an-id")
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert assert_consistent(member_runtime, member_id) == 50  # no refusal debited anything
    assert stock_of(member_runtime, item.item_id) == 8


def test_the_last_units_go_to_exactly_as_many_buyers(loyalty_api, loyalty_admin, operator_md,
                                                     shopper, member_runtime):
    item = coupon_item(loyalty_admin, operator_md, title="真丝眼罩兑换券", stock=3,
                       per_member_limit=0)
    buyers = [shopper(f"buyer{n}") for n in range(8)]
    for member_id, _ in buyers:
        credit(member_runtime, member_id, 100)
    outcomes = race([lambda md=md: redeem(loyalty_api, md, item.item_id) for _, md in buyers])
    assert outcomes.count("ok") == 3
    assert outcomes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 5
    assert stock_of(member_runtime, item.item_id) == 0
    balances = sorted(assert_consistent(member_runtime, m) for m, _ in buyers)
    assert balances == [0, 0, 0] + [100] * 5
