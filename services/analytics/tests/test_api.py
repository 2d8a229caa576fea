"""The analytics API through the real gRPC server: roles, counts, field violations."""
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from mall.analytics.v1 import analytics_pb2 as pb
from mall.analytics.v1 import analytics_pb2_grpc as pb_grpc

from servicekit.errors import violations_from_trailers
from services.analytics.facts import record_fact

from .helpers import event

ANALYST = (("x-mall-user-id", "staff-ana"), ("x-mall-roles", "analyst"))
OPERATOR = (("x-mall-user-id", "staff-op"), ("x-mall-roles", "operator"))


def stamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


@pytest.fixture
def stub(runtime, grpc_stub_for):
    now = datetime.now(timezone.utc)
    with runtime.transaction() as session:
        for minutes in (1, 2, 90):
            record_fact(session, event("order", "order.paid", {"orderId": "o"},
                                       occurred_at=now - timedelta(minutes=minutes)))
        record_fact(session, event("catalog", "product.published", {}, occurred_at=now))
    return grpc_stub_for("analytics", pb_grpc.AnalyticsServiceStub)


def test_counts_for_an_analyst(stub):
    hour_ago = stamp(datetime.now(timezone.utc) - timedelta(hours=1))
    assert stub.CountEvents(pb.CountEventsRequest(type="order.paid"), metadata=ANALYST).count == 3
    assert stub.CountEvents(pb.CountEventsRequest(type="order.paid", since=hour_ago),
                            metadata=ANALYST).count == 2
    counts = stub.EventCounts(pb.EventCountsRequest(), metadata=ANALYST)
    assert [(c.type, c.source, c.count) for c in counts.counts] == [
        ("order.paid", "order", 3), ("product.published", "catalog", 1)]
    assert counts.total == 4
    daily = stub.DailyCounts(pb.DailyCountsRequest(type="order.paid", days=3), metadata=ANALYST)
    assert len(daily.days) == 3 and daily.total == 3 and daily.days[-1].count >= 1


def test_staff_without_analyst_or_admin_role_is_refused(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.EventCounts(pb.EventCountsRequest(), metadata=OPERATOR)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        stub.EventCounts(pb.EventCountsRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    admin = (("x-mall-user-id", "staff-boss"), ("x-mall-roles", "operator,admin"))
    assert stub.EventCounts(pb.EventCountsRequest(), metadata=admin).total == 4


def test_bad_input_comes_back_as_field_violations(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.DailyCounts(pb.DailyCountsRequest(type="", days=1000), metadata=ANALYST)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.rule) for v in violations_from_trailers(err.value.trailing_metadata())] \
        == [("type", "required"), ("days", "range")]
