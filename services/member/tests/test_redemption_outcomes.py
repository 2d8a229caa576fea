"""A points-mall redemption's outcome: promotion's coupon.issue_failed (and logistics'
gift.unavailable) give the points back once and announce points.redemption_failed; a coupon
issued first makes the redemption final; staff cannot list an item whose template promotion does
not know, has ended or has no coupons left."""
import uuid
from datetime import timedelta

import grpc
from mall.events.v1 import logistics_events_pb2, promotion_events_pb2
from mall.member.v1 import loyalty_pb2
from sqlalchemy import select

from servicekit.errors import violations_from_trailers
from servicekit.ports import free_port
from servicekit.times import utcnow
from services.member.models import PointsEntry, Redemption

from .helpers import credit, outbox_events, rpc_error
from .test_points import assert_consistent
from .test_points_mall import coupon_item, issuable_template, redeem, stock_of  # noqa: F401 (fixture)


def redemption(runtime, redemption_id):
    with runtime.transaction() as s:
        r = s.get(Redemption, redemption_id)
        return r.status, r.failed_reason


def returns_of(runtime, redemption_id):
    with runtime.transaction() as s:
        return list(s.scalars(select(PointsEntry.points).where(
            PointsEntry.kind == "return", PointsEntry.ref == redemption_id)))


def failures(runtime, member_id):
    return [e["data"] for e in outbox_events(runtime, "points.redemption_failed")
            if e["data"]["memberId"] == member_id]


def test_a_failed_coupon_issue_gives_the_points_back_once(loyalty_api, loyalty_admin, operator_md,
                                                          shopper, member_runtime, worker_process,
                                                          publish_event, wait_until):
    member_id, md = shopper("issue-failed")
    credit(member_runtime, member_id, 300)
    item = coupon_item(loyalty_admin, operator_md, stock=5)
    done = redeem(loyalty_api, md, item.item_id, quantity=2, key="two-coupons")
    assert (done.balance, done.status) == (100, "pending")
    worker_process("member")
    failed = promotion_events_pb2.CouponIssueFailed(
        template_id=item.coupon_template_id, member_id=member_id, source="points",
        source_ref=done.redemption_id, reason="ended", quantity=2)
    event_id = str(uuid.uuid4())
    publish_event("promotion", "coupon.issue_failed", failed, event_id=event_id)
    publish_event("promotion", "coupon.issue_failed", failed, event_id=event_id)  # redelivered
    publish_event("promotion", "coupon.issue_failed", failed)  # announced again, new event id
    wait_until(lambda: redemption(member_runtime, done.redemption_id)[0] == "failed", timeout=30)
    wait_until(lambda: len(failures(member_runtime, member_id)) == 1, timeout=30)
    assert returns_of(member_runtime, done.redemption_id) == [200]
    assert assert_consistent(member_runtime, member_id) == 300
    assert stock_of(member_runtime, item.item_id) == 5  # nothing was sold
    assert redemption(member_runtime, done.redemption_id) == ("failed", "ended")
    [told] = failures(member_runtime, member_id)
    assert (told["redemptionId"], told["pointsReturned"], told["reason"], told["itemTitle"]) == \
        (done.redemption_id, "200", "ended", "满200减30券")
    # a birthday coupon's failure is not a redemption: nothing to give back
    publish_event("promotion", "coupon.issue_failed", promotion_events_pb2.CouponIssueFailed(
        member_id=member_id, source="birthday", source_ref=done.redemption_id, reason="not_found"))
    # gift.unavailable for a redemption already failed changes nothing either
    publish_event("logistics", "gift.unavailable", logistics_events_pb2.GiftUnavailable(
        redemption_id=done.redemption_id, member_id=member_id, reason="out_of_stock"))
    other, _ = shopper("not-the-owner")
    publish_event("promotion", "coupon.issue_failed", promotion_events_pb2.CouponIssueFailed(
        member_id=other, source="points", source_ref=done.redemption_id, reason="ended"))
    marker = promotion_events_pb2.CouponIssued(member_id=member_id, source="staff")
    publish_event("promotion", "coupon.issued", marker)
    wait_until(lambda: worker_inbox_has(member_runtime, 6), timeout=30)
    assert returns_of(member_runtime, done.redemption_id) == [200]
    assert assert_consistent(member_runtime, member_id) == 300
    assert len(failures(member_runtime, member_id)) == 1


def worker_inbox_has(runtime, count):
    """The worker has handled `count` events (one inbox row each, effect or not)."""
    with runtime.engine.connect() as conn:
        return len(conn.execute(select(runtime.inbox_table)).all()) >= count


def test_a_failure_heard_after_the_coupon_was_issued_refunds_nothing(
        loyalty_api, loyalty_admin, operator_md, shopper, member_runtime, worker_process,
        publish_event, wait_until):
    member_id, md = shopper("issued-first")
    credit(member_runtime, member_id, 100)
    item = coupon_item(loyalty_admin, operator_md)
    done = redeem(loyalty_api, md, item.item_id)
    worker_process("member")
    publish_event("promotion", "coupon.issued", promotion_events_pb2.CouponIssued(
        coupon_id="77", template_id=item.coupon_template_id, member_id=member_id,
        source="points", source_ref=done.redemption_id))
    wait_until(lambda: redemption(member_runtime, done.redemption_id)[0] == "fulfilled", timeout=30)
    publish_event("promotion", "coupon.issue_failed", promotion_events_pb2.CouponIssueFailed(
        member_id=member_id, source="points", source_ref=done.redemption_id, reason="exhausted"))
    wait_until(lambda: worker_inbox_has(member_runtime, 2), timeout=30)
    assert redemption(member_runtime, done.redemption_id) == ("fulfilled", "")
    assert returns_of(member_runtime, done.redemption_id) == []
    assert assert_consistent(member_runtime, member_id) == 0 and not failures(member_runtime, member_id)


def test_staff_cannot_list_a_coupon_item_promotion_cannot_issue(loyalty_admin, operator_md,
                                                                coupon_template, runtime_for,
                                                                monkeypatch):
    def refused(template_id):
        err = rpc_error(coupon_item, loyalty_admin, operator_md, coupon_template_id=template_id)
        return err.code(), [(v.field, v.rule) for v in violations_from_trailers(err.trailing_metadata())]

    assert refused("987654321") == (grpc.StatusCode.INVALID_ARGUMENT, [("coupon_template_id", "unknown")])
    assert refused("tpl-30") == (grpc.StatusCode.INVALID_ARGUMENT, [("coupon_template_id", "unknown")])
    ended = coupon_template()
    from services.promotion.models import CouponTemplate
    with runtime_for("promotion").transaction() as s:  # staff closed its window meanwhile
        s.get(CouponTemplate, int(ended)).valid_until = utcnow() - timedelta(minutes=1)
    assert refused(ended) == (grpc.StatusCode.INVALID_ARGUMENT, [("coupon_template_id", "ended")])
    withdrawn = coupon_item(loyalty_admin, operator_md, coupon_template_id=ended, active=False)
    assert not withdrawn.active  # taking an item off sale is never refused
    gone = coupon_template(total_quantity=1)
    with runtime_for("promotion").transaction() as s:
        s.get(CouponTemplate, int(gone)).issued_count = 1
    assert refused(gone) == (grpc.StatusCode.INVALID_ARGUMENT, [("coupon_template_id", "exhausted")])
    assert coupon_item(loyalty_admin, operator_md, coupon_template_id=coupon_template()).item_id
    monkeypatch.setenv("MALL_PROMOTION_GRPC_TARGET", f"127.0.0.1:{free_port()}")  # promotion down
    err = rpc_error(coupon_item, loyalty_admin, operator_md, coupon_template_id=ended)
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert len(loyalty_admin.ListAllMallItems(loyalty_pb2.ListAllMallItemsRequest(),
                                              metadata=operator_md).items) == 2  # none unchecked
