"""What analytics promises the admin console: counts over the facts it records, through its real
gRPC server (AnalyticsService), staff roles analyst or admin only. Analytics has no RPC that
writes: its facts come in as the events its worker consumes, and so they are seeded here."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from mall.analytics.v1 import analytics_pb2 as pb
from mall.analytics.v1 import analytics_pb2_grpc as pb_grpc
from mall.common.v1 import common_pb2
from mall.events.v1 import catalog_events_pb2 as catalog_events
from mall.events.v1 import member_events_pb2 as member_events
from mall.events.v1 import order_events_pb2 as order_events
from mall.events.v1 import support_events_pb2 as support_events

from tests.contract.support_b import (
    assert_refused_to_strangers,
    deliver,
    refused,
    running_worker,
    staff,
    violations,
)

ANALYST = staff("analyst")


def stamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


@pytest.fixture(scope="module")
def worker():
    with running_worker("analytics") as running:
        yield running


@pytest.fixture
def stub(runtime_for, worker, grpc_stub_for):
    """Three orders paid by a member who consented to analytics, and one product published,
    just now."""
    analytics = runtime_for("analytics")
    deliver(analytics, "member", "member.consent_changed", member_events.ConsentChanged(
        member_id="m-1", purpose="analytics", granted=True, version=1,
        changed_at="2026-12-01T08:00:00Z"))
    for i in range(3):
        deliver(analytics, "order", "order.paid", order_events.OrderPaid(
            order_id=f"o-{i}", member_id="m-1", paid_fen=10000 + i))
    deliver(analytics, "catalog", "product.published", catalog_events.ProductPublished(
        product=catalog_events.CatalogProduct(product_id="p-1", title="无钢圈文胸", status="published")))
    return grpc_stub_for("analytics", pb_grpc.AnalyticsServiceStub)


def test_count_events_of_one_type_in_a_window(stub):
    now = datetime.now(timezone.utc)
    assert stub.CountEvents(pb.CountEventsRequest(type="order.paid"), metadata=ANALYST) == \
        pb.CountEventsResponse(type="order.paid", count=3)
    assert stub.CountEvents(pb.CountEventsRequest(
        type="order.paid", since=stamp(now - timedelta(hours=1))), metadata=ANALYST).count == 3
    assert stub.CountEvents(pb.CountEventsRequest(
        type="order.paid", until=stamp(now - timedelta(hours=1))), metadata=ANALYST).count == 0
    assert stub.CountEvents(pb.CountEventsRequest(type="order.refunded"), metadata=ANALYST).count == 0
    err = refused(stub.CountEvents, pb.CountEventsRequest(
        type="", since=stamp(now), until=stamp(now - timedelta(minutes=1))), metadata=ANALYST)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == {("type", "required"), ("since", "before_until")}
    err = refused(stub.CountEvents, pb.CountEventsRequest(type="Order Paid!"), metadata=ANALYST)
    assert violations(err) == {("type", "format")}


def test_event_counts_per_type_with_its_source(stub):
    counts = stub.EventCounts(pb.EventCountsRequest(), metadata=ANALYST)
    assert [(c.type, c.source, c.count) for c in counts.counts] == [
        ("order.paid", "order", 3), ("product.published", "catalog", 1)]
    assert counts.total == 4
    admin = staff("admin")
    assert stub.EventCounts(pb.EventCountsRequest(
        since=stamp(datetime.now(timezone.utc) + timedelta(minutes=1))), metadata=admin).total == 0


def test_daily_counts_per_shanghai_day_oldest_first(stub):
    daily = stub.DailyCounts(pb.DailyCountsRequest(type="order.paid", days=3), metadata=ANALYST)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert [(d.day, d.count) for d in daily.days] == [
        ((today - timedelta(days=2)).isoformat(), 0), ((today - timedelta(days=1)).isoformat(), 0),
        (today.isoformat(), 3)]
    assert (daily.type, daily.total) == ("order.paid", 3)
    assert len(stub.DailyCounts(pb.DailyCountsRequest(type="order.paid"), metadata=ANALYST).days) == 7
    err = refused(stub.DailyCounts, pb.DailyCountsRequest(type="", days=1000), metadata=ANALYST)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == {("type", "required"), ("days", "range")}


def test_return_counts_by_reason_product_and_size_in_a_window(stub, runtime_for):
    analytics = runtime_for("analytics")
    for request_id, size, reason in (("as-1", "75B", "wrong_size"), ("as-2", "80B", "wrong_size"),
                                     ("as-3", "75B", "quality")):
        deliver(analytics, "support", "aftersale.applied", support_events.AfterSaleApplied(
            request_id=request_id, order_id="o-1", member_id="m-1", kind="return_refund",
            reason_code=reason, applied_at="2026-12-05T00:10:00Z", lines=[support_events.AfterSaleLine(
                line_id="l-1", sku_id=f"sku-{size}", product_id="p-bra", quantity=1, size=size)]))
    by_reason = stub.ReturnCounts(pb.ReturnCountsRequest(by="reason"), metadata=ANALYST)
    assert [(c.key, c.requests, c.units) for c in by_reason.counts] == [("wrong_size", 2, 2), ("quality", 1, 1)]
    assert by_reason.units == 3
    by_size = stub.ReturnCounts(pb.ReturnCountsRequest(by="size", kind="return_refund"), metadata=ANALYST)
    assert [(c.key, c.units) for c in by_size.counts] == [("75B", 2), ("80B", 1)]
    later = stub.ReturnCounts(pb.ReturnCountsRequest(
        by="product", since=stamp(datetime(2026, 12, 5, 1, tzinfo=timezone.utc))), metadata=ANALYST)
    assert list(later.counts) == []
    err = refused(stub.ReturnCounts, pb.ReturnCountsRequest(by="colour", kind="swap"), metadata=ANALYST)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err) == {("by", "one_of"), ("kind", "one_of")}


@pytest.mark.parametrize("rpc,request_message", [
    ("CountEvents", pb.CountEventsRequest(type="order.paid")),
    ("EventCounts", pb.EventCountsRequest()),
    ("DailyCounts", pb.DailyCountsRequest(type="order.paid")),
    ("ReturnCounts", pb.ReturnCountsRequest(by="reason")),
])
def test_only_analysts_and_admins_see_the_numbers(stub, rpc, request_message):
    assert_refused_to_strangers(getattr(stub, rpc), request_message, allowed_roles=("analyst",))


def test_export_member_data_counts_the_facts_naming_her_for_her_or_an_admin(stub):
    request = common_pb2.ExportMemberDataRequest(member_id="m-1")
    exported = stub.ExportMemberData(request, metadata=(("x-mall-user-id", "m-1"),))
    assert exported.fact_count == 3
    assert [(c.type, c.source, c.count) for c in exported.by_type] == [("order.paid", "order", 3)]
    assert stub.ExportMemberData(request, metadata=staff("admin")) == exported
    for stranger in (ANALYST, (("x-mall-user-id", "m-2"),)):
        assert refused(stub.ExportMemberData, request,
                       metadata=stranger).code() == grpc.StatusCode.PERMISSION_DENIED
