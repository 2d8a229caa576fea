"""points.redemption_failed through the real broker and worker: the shopper is told once that
her points came back (and the notice is announced once for the WeChat push)."""
from mall.events.v1 import member_events_pb2 as member_events
from sqlalchemy import select

from servicekit.testing import outbox_events
from services.support.models import Notification


def test_a_failed_redemption_is_told_once_even_if_delivered_twice(runtime, worker_process,
                                                                  publish_event, wait_until):
    worker_process("support")
    failed = member_events.PointsRedemptionFailed(
        redemption_id="r-1", member_id="m-1", item_id="i-1", item_title="无门槛10元券",
        item_kind="coupon", points_returned=200, quantity=2, reason="ended")
    first = publish_event("member", "points.redemption_failed", failed)
    publish_event("member", "points.redemption_failed", failed, event_id=first["id"])  # redelivered
    publish_event("member", "points.redemption_failed", failed)  # the same fact, a new event id

    def handled():
        with runtime.transaction() as session:
            return len(session.execute(select(runtime.inbox_table).where(
                runtime.inbox_table.c.event_type == "points.redemption_failed")).all())

    wait_until(lambda: handled() == 2, timeout=30, message="both distinct events handled")
    with runtime.transaction() as session:
        [notice] = session.scalars(select(Notification)).all()
        assert (notice.member_id, notice.kind, notice.redemption_id, notice.title) == \
            ("m-1", "points_redemption_failed", "r-1", "积分已退回")
        assert "优惠券活动已结束" in notice.body and "200 积分已退回" in notice.body
    announced = [e["data"] for e in outbox_events(runtime, "notification.created")]
    assert [(a["memberId"], a["kind"]) for a in announced] == [("m-1", "points_redemption_failed")]
