"""A fact keeps the member id only with the member's consent to analytics (opt-in), and a
withdrawal takes it out of the facts already stored."""
from mall.events.v1 import order_events_pb2
from mall.events.v1.member_events_pb2 import ConsentChanged

from services.analytics import tracking_consent
from services.analytics.facts import record_fact, record_imported_orders
from services.analytics.models import Fact

from .helpers import event


def consent(runtime, member_id, granted, version):
    with runtime.transaction() as session:
        tracking_consent.consent_changed(session, ConsentChanged(
            member_id=member_id, purpose="analytics", granted=granted, version=version,
            changed_at="2026-12-01T08:00:00Z"))


def paid(runtime, member_id, order_id="o-1") -> dict:
    recorded = event("order", "order.paid", order_events_pb2.OrderPaid(
        order_id=order_id, member_id=member_id, paid_fen=25900))
    with runtime.transaction() as session:
        record_fact(session, recorded)
        return dict(session.get(Fact, recorded.id).data)


def test_without_consent_the_fact_is_stored_without_the_member(runtime):
    data = paid(runtime, "m-1")
    assert "memberId" not in data and data["orderId"] == "o-1"  # the sale itself is still counted
    with runtime.transaction() as session:
        assert tracking_consent.member_id_to_keep(session, "m-1") == ""


def test_with_consent_the_member_is_kept_and_a_withdrawal_takes_her_out_of_stored_facts(runtime):
    consent(runtime, "m-2", True, 1)
    assert paid(runtime, "m-2")["memberId"] == "m-2"
    assert paid(runtime, "m-3", order_id="o-3").get("memberId") is None  # another, unconsented
    consent(runtime, "m-2", False, 2)
    consent(runtime, "m-2", True, 1)  # the old grant, redelivered late: changes nothing
    with runtime.transaction() as session:
        assert all("memberId" not in f.data for f in session.query(Fact))
        assert tracking_consent.member_id_to_keep(session, "m-2") == ""
    assert "memberId" not in paid(runtime, "m-2", order_id="o-4")


def test_each_imported_order_of_a_batch_is_checked_on_its_own(runtime):
    consent(runtime, "m-5", True, 7)
    batch = event("order", "order.imported_batch", order_events_pb2.OrdersImported(
        batch_id="b-1", partner="tmall", orders=[
            order_events_pb2.OrderImported(order_id="io-1", member_id="m-5", payable_fen=100),
            order_events_pb2.OrderImported(order_id="io-2", member_id="m-6", payable_fen=200)]),
        message_type=order_events_pb2.OrdersImported)
    with runtime.transaction() as session:
        record_imported_orders(session, batch)
        kept = {f.data["orderId"]: f.data.get("memberId") for f in session.query(Fact)}
    assert kept == {"io-1": "m-5", "io-2": None}
