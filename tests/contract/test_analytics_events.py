"""What analytics promises the services whose events it records: its worker accepts every event
it subscribes to, exactly as each producer publishes it, and counts each fact once whatever the
broker redelivers; a body that is not its message is parked, not counted. (Analytics publishes
no event yet: segment.* comes with segments.)"""
from __future__ import annotations

import pytest
from mall.analytics.v1 import analytics_pb2 as pb
from mall.analytics.v1 import analytics_pb2_grpc as pb_grpc
from mall.common.v1 import common_pb2
from mall.events.v1 import catalog_events_pb2 as catalog_events
from mall.events.v1 import logistics_events_pb2 as logistics_events
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import support_events_pb2 as support_events

from servicekit.testing import outbox_events, wait_until
from services.analytics.models import Fact
from tests.contract.support_b import deliver, parked, running_worker, staff

ANALYST = staff("analyst")


@pytest.fixture(scope="module")
def worker():
    with running_worker("analytics") as running:
        yield running


@pytest.fixture
def analytics(runtime_for, worker):
    return runtime_for("analytics")


@pytest.fixture
def counts(grpc_stub_for):
    stub = grpc_stub_for("analytics", pb_grpc.AnalyticsServiceStub)
    return lambda: {(c.type, c.source): c.count for c in stub.EventCounts(
        pb.EventCountsRequest(), metadata=ANALYST).counts}


def imported(order_id: str) -> order_events.OrderImported:
    return order_events.OrderImported(
        order_id=order_id, order_no=f"NO-{order_id}", channel="import:tmall", partner="tmall",
        batch_id="b-1", status="completed", payable_fen=9900,
        lines=[order_events.OrderEventLine(sku_id="sku-1", quantity=1, paid_fen=9900)])


def test_every_subscribed_event_becomes_one_fact(analytics, counts):
    product = catalog_events.CatalogProduct(product_id="p-1", title="无钢圈文胸", status="published")
    deliver(analytics, "catalog", "product.published", catalog_events.ProductPublished(product=product))
    deliver(analytics, "catalog", "product.updated", catalog_events.ProductUpdated(product=product))
    deliver(analytics, "catalog", "product.unpublished", catalog_events.ProductUnpublished(product=product))
    deliver(analytics, "order", "order.paid", order_events.OrderPaid(order_id="o-1", member_id="m-1",
                                                                     paid_fen=19900))
    deliver(analytics, "order", "order.imported", imported("io-1"))
    deliver(analytics, "order", "order.imported_batch", order_events.OrdersImported(
        batch_id="b-2", partner="tmall", orders=[imported("io-2"), imported("io-3")]))
    deliver(analytics, "logistics", "inventory.availability_changed",
            logistics_events.AvailabilityChanged(skus=[logistics_events.SkuAvailability(
                sku_id="sku-1", sellable=3, level=logistics_events.LOW)]))
    assert counts() == {
        ("inventory.availability_changed", "logistics"): 1, ("order.imported", "order"): 3,
        ("order.paid", "order"): 1, ("product.published", "catalog"): 1,
        ("product.unpublished", "catalog"): 1, ("product.updated", "catalog"): 1}
    assert outbox_events(analytics) == []  # it publishes nothing


def test_a_fact_is_counted_once_however_often_it_arrives(analytics, counts):
    paid = order_events.OrderPaid(order_id="o-1", member_id="m-1", paid_fen=19900)
    first = deliver(analytics, "order", "order.paid", paid)
    deliver(analytics, "order", "order.paid", paid, event_id=first["id"])
    batch = order_events.OrdersImported(batch_id="b-1", partner="tmall", orders=[imported("io-1")])
    sent = deliver(analytics, "order", "order.imported_batch", batch)
    deliver(analytics, "order", "order.imported_batch", batch, event_id=sent["id"])
    # fresh events behind the duplicates on both queues: once handled, so were the duplicates
    deliver(analytics, "order", "order.paid", order_events.OrderPaid(order_id="o-2", member_id="m-1"))
    deliver(analytics, "order", "order.imported_batch", order_events.OrdersImported(
        batch_id="b-2", partner="tmall", orders=[imported("io-2")]))
    assert counts() == {("order.paid", "order"): 2, ("order.imported", "order"): 2}


def test_unknown_fields_are_ignored_and_a_body_that_is_not_the_message_is_parked(
        analytics, counts, publish_event):
    deliver(analytics, "order", "order.paid", {"orderId": "o-2", "memberId": "m-1",
                                               "paidFen": "100", "loyaltyHint": "new-field"})
    malformed = publish_event("order", "order.paid", {"orderId": "o-3", "paidFen": "a lot"})
    wait_until(lambda: parked("analytics", malformed["id"]), timeout=20,
               message="the malformed event parked in analytics.dead-letters")
    assert counts() == {("order.paid", "order"): 1}


def test_a_fact_keeps_the_member_only_with_her_consent_to_analytics(analytics, counts):
    def analytics_consent(granted: bool, version: int) -> member_events.ConsentChanged:
        return member_events.ConsentChanged(member_id="m-1", purpose="analytics", granted=granted,
                                            version=version, changed_at="2026-12-01T08:00:00Z")

    def members_in_facts() -> dict[str, str | None]:
        with analytics.transaction() as session:
            return {f.data["orderId"]: f.data.get("memberId") for f in session.query(Fact)}

    deliver(analytics, "order", "order.paid", order_events.OrderPaid(order_id="o-1", member_id="m-1"))
    deliver(analytics, "member", "member.consent_changed", analytics_consent(True, 1))
    deliver(analytics, "order", "order.paid", order_events.OrderPaid(order_id="o-2", member_id="m-1"))
    assert members_in_facts() == {"o-1": None, "o-2": "m-1"}  # not before she said yes
    deliver(analytics, "member", "member.consent_changed", analytics_consent(False, 2))
    deliver(analytics, "order", "order.paid", order_events.OrderPaid(order_id="o-3", member_id="m-1"))
    assert members_in_facts() == {"o-1": None, "o-2": None, "o-3": None}  # withdrawn: forgotten
    assert counts() == {("order.paid", "order"): 3}  # a consent is not a fact


def test_member_deleted_takes_her_out_of_the_facts_and_keeps_the_counts(analytics, counts,
                                                                      grpc_stub_for):
    deliver(analytics, "order", "order.paid", order_events.OrderPaid(
        order_id="o-1", member_id="m-9", paid_fen=19900))
    deleted = member_events.MemberDeleted(member_id="m-9", deleted_at="2026-12-04T21:00:00Z")
    first = deliver(analytics, "member", "member.deleted", deleted)
    deliver(analytics, "member", "member.deleted", deleted, event_id=first["id"])
    stub = grpc_stub_for("analytics", pb_grpc.AnalyticsServiceStub)
    exported = stub.ExportMemberData(common_pb2.ExportMemberDataRequest(member_id="m-9"),
                                     metadata=staff("admin"))
    assert exported.fact_count == 0  # no fact names her any more
    assert counts() == {("order.paid", "order"): 1}  # and the figures stay


def test_a_presale_deposit_is_a_fact_of_its_own(analytics, counts):
    """Both phases of a pre-sale: order.deposit_paid (the deposit), then order.paid (the whole)."""
    deposit = order_events.OrderDepositPaid(order_id="o-pre", member_id="m-1", deposit_fen=5000,
                                            balance_fen=5900, balance_from="2026-11-10T16:00:00Z",
                                            balance_until="2026-11-11T16:00:00Z", status_seq=2)
    first = deliver(analytics, "order", "order.deposit_paid", deposit)
    deliver(analytics, "order", "order.deposit_paid", deposit, event_id=first["id"])
    deliver(analytics, "order", "order.paid", order_events.OrderPaid(
        order_id="o-pre", member_id="m-1", paid_fen=10900, deposit_fen=5000,
        ships_from="2026-11-12T00:00:00Z"))
    assert counts() == {("order.deposit_paid", "order"): 1, ("order.paid", "order"): 1}


def test_after_sale_requests_are_facts_and_counted_by_reason_product_and_size(analytics, counts, grpc_stub_for):
    """support's aftersale.* exactly as support publishes them: each a fact, once; the lines of
    applied and closed requests counted by reason, product and size."""
    line = support_events.AfterSaleLine(line_id="l-1", sku_id="sku-75b", product_id="p-bra",
                                        quantity=1, refund_fen=18905, size="75B")
    who = dict(request_id="as-1", order_id="o-1", member_id="m-1")
    applied = deliver(analytics, "support", "aftersale.applied", support_events.AfterSaleApplied(
        **who, kind="return_refund", reason_code="wrong_size", lines=[line],
        applied_at="2026-12-05T00:10:00Z"))
    deliver(analytics, "support", "aftersale.approved", support_events.AfterSaleApproved(
        **who, kind="return_refund", lines=[line], return_expected=True, approved_by="auto"))
    deliver(analytics, "support", "aftersale.refund_requested", support_events.AfterSaleRefundRequested(
        **who, refund_request_id="aftersale:as-1", amount_fen=18905, lines=[line]))
    deliver(analytics, "support", "aftersale.closed", support_events.AfterSaleClosed(
        **who, kind="return_refund", outcome="refunded", lines=[line], refunded_fen=18905,
        reason_code="wrong_size"))
    deliver(analytics, "support", "aftersale.applied", support_events.AfterSaleApplied(
        **who, kind="return_refund", reason_code="wrong_size", lines=[line]), event_id=applied["id"])
    assert {k: v for k, v in counts().items() if k[1] == "support"} == {
        ("aftersale.applied", "support"): 1, ("aftersale.approved", "support"): 1,
        ("aftersale.refund_requested", "support"): 1, ("aftersale.closed", "support"): 1}
    stub = grpc_stub_for("analytics", pb_grpc.AnalyticsServiceStub)
    for by, key in (("reason", "wrong_size"), ("product", "p-bra"), ("size", "75B")):
        [count] = stub.ReturnCounts(pb.ReturnCountsRequest(by=by), metadata=ANALYST).counts
        assert (count.key, count.requests, count.units, count.refunded_units, count.refunded_fen) == \
            (key, 1, 1, 1, 18905)
