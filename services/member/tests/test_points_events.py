"""Order events move points, through a real worker on RabbitMQ: earned on order.paid (times the
tier multiplier), clawed back in proportion on order.refunded, returned on order.cancelled;
each once whatever the redeliveries."""
import uuid

from mall.events.v1 import order_events_pb2
from mall.member.v1 import loyalty_pb2
from sqlalchemy import select

from services.member.loyalty import order_effects, tiers
from services.member.models import MemberTier, PointsEntry

from .test_points import assert_consistent, ledger, spend


def entries_of(runtime, member_id, kind):
    return [e for e in ledger(runtime, member_id)[0] if e.kind == kind]


def test_points_follow_the_order_through_the_worker(member_runtime, shopper, loyalty_api,
                                                    worker_process, publish_event, wait_until):
    member_id, _ = shopper("earner")
    with member_runtime.transaction() as s:  # a gold member earns 1.5x
        tiers.ladder(s)  # the default ladder (the test database was emptied)
        s.add(MemberTier(member_id=member_id, tier_code="gold", changed_at=order_effects.points.utcnow(),
                         evaluated_at=order_effects.points.utcnow()))
    worker_process("member")
    paid = order_events_pb2.OrderPaid(order_id="o-100", order_no="NO100", member_id=member_id,
                                      paid_fen=25_990, paid_at="2026-05-20T12:00:00Z")
    paid_id = str(uuid.uuid4())
    publish_event("order", "order.paid", paid, event_id=paid_id)
    publish_event("order", "order.paid", paid, event_id=paid_id)  # redelivered
    wait_until(lambda: entries_of(member_runtime, member_id, "earn"), timeout=20,
               message="points earned")
    [earn] = entries_of(member_runtime, member_id, "earn")
    assert earn.points == 30  # 2 whole ¥100 × 10 × 1.5
    assert earn.expires_at.isoformat().startswith("2027-12-31T16:00")  # end of 2027 in Shanghai

    spend(loyalty_api, member_id, "o-200", 12)
    publish_event("order", "order.refunded", order_events_pb2.OrderRefunded(
        order_id="o-100", member_id=member_id, refund_id="rf-1", refunded_fen=12_995,
        paid_fen=25_990))  # half the order back: half its points
    cancelled = order_events_pb2.OrderCancelled(order_id="o-200", member_id=member_id,
                                                reason="timeout", points_used=12)
    cancel_id = str(uuid.uuid4())
    publish_event("order", "order.cancelled", cancelled, event_id=cancel_id)
    publish_event("order", "order.cancelled", cancelled, event_id=cancel_id)
    wait_until(lambda: entries_of(member_runtime, member_id, "clawback")
               and entries_of(member_runtime, member_id, "return"), timeout=20,
               message="claw-back and return")
    assert [e.points for e in entries_of(member_runtime, member_id, "clawback")] == [-15]
    assert [e.points for e in entries_of(member_runtime, member_id, "return")] == [12]
    assert assert_consistent(member_runtime, member_id) == 15
    with member_runtime.transaction() as s:  # the returned points went back into the earn lot
        assert s.scalar(select(PointsEntry.remaining).where(PointsEntry.id == earn.id)) == 15


def test_a_full_refund_of_spent_points_takes_only_what_is_left(member_runtime, shopper, loyalty_api):
    member_id, _ = shopper("spent-first")
    rt = member_runtime
    with rt.transaction() as s:
        order_effects.earn_for_paid_order(s, order_events_pb2.OrderPaid(
            order_id="o-1", member_id=member_id, paid_fen=50_000), order_effects.points.utcnow())
    spend(loyalty_api, member_id, "o-2", 45)  # 50 earned, 45 spent
    with rt.transaction() as s:
        order_effects.order_refunded(rt, s, order_events_pb2.OrderRefunded(
            order_id="o-1", member_id=member_id, refund_id="rf", refunded_fen=50_000,
            paid_fen=50_000, full=True), order_effects.points.utcnow())
    [claw] = entries_of(rt, member_id, "clawback")
    assert claw.points == -5 and "45 already spent" in claw.reason
    assert assert_consistent(rt, member_id) == 0
    balance = loyalty_api.GetPricingProfile(loyalty_pb2.GetPricingProfileRequest(member_id=member_id))
    assert balance.points_balance == 0


def test_events_for_unknown_members_change_nothing(member_runtime):
    with member_runtime.transaction() as s:
        assert order_effects.earn_for_paid_order(s, order_events_pb2.OrderPaid(
            order_id="o-x", member_id="imported-42", paid_fen=90_000),
            order_effects.points.utcnow()) == 0
        assert s.scalars(select(PointsEntry)).all() == []
