"""Returns counted by reason, product and size from support's aftersale.applied and
aftersale.closed, through the worker's handlers (the kit's inbox): once per request line however
often or in whatever order the events come; every aftersale.* event kept as a fact; the
ReturnCounts RPC with roles and field violations."""
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from mall.analytics.v1 import analytics_pb2 as pb
from mall.analytics.v1 import analytics_pb2_grpc as pb_grpc
from mall.events.v1 import support_events_pb2 as support
from sqlalchemy import func, select

from servicekit.errors import InvalidArgument, violations_from_trailers
from servicekit.testing import deliver_in_process
from services.analytics import returns
from services.analytics.models import Fact

ANALYST = (("x-mall-user-id", "staff-ana"), ("x-mall-roles", "analyst"))
OPERATOR = (("x-mall-user-id", "staff-op"), ("x-mall-roles", "operator"))


def line(line_id, product, size, quantity=1, refund_fen=0):
    return support.AfterSaleLine(line_id=line_id, sku_id=f"{product}-{size}", product_id=product,
                                 quantity=quantity, size=size, refund_fen=refund_fen)


def applied(request_id, kind, reason, *lines):
    return support.AfterSaleApplied(request_id=request_id, order_id=f"o-{request_id}", member_id="m-1",
                                    kind=kind, reason_code=reason, lines=lines,
                                    applied_at="2026-12-05T00:10:00Z")


def closed(request_id, kind, reason, outcome, *lines):
    return support.AfterSaleClosed(request_id=request_id, order_id=f"o-{request_id}", member_id="m-1",
                                   kind=kind, reason_code=reason, outcome=outcome, lines=lines,
                                   refunded_fen=sum(x.refund_fen for x in lines))


def send(event_type, message, event_id):
    deliver_in_process("analytics", "support", event_type, message, event_id=event_id)


def by(runtime, group, **kw):
    with runtime.transaction() as session:
        return [(c.key, c.requests, c.units, c.refunded, c.exchanged, c.refunded_fen)
                for c in returns.counts(session, group, **kw)]


@pytest.fixture
def recorded(runtime):
    bra75b, bra80b, brief_m = line("l-1", "p-bra", "75B"), line("l-2", "p-bra", "80B"), line("l-3", "p-brief", "M", 2)
    send("aftersale.applied", applied("as-1", "return_refund", "wrong_size", bra75b), "e-1")
    send("aftersale.applied", applied("as-2", "exchange", "wrong_size", bra80b), "e-2")
    send("aftersale.applied", applied("as-3", "return_refund", "quality", brief_m, line("l-4", "p-bra", "75B")), "e-3")
    send("aftersale.applied", applied("as-1", "return_refund", "wrong_size", bra75b), "e-1")   # redelivered
    send("aftersale.applied", applied("as-1", "return_refund", "wrong_size", bra75b), "e-9")   # new event id
    send("aftersale.closed", closed("as-1", "return_refund", "wrong_size", "refunded",
                                    line("l-1", "p-bra", "75B", 1, 18905)), "e-4")
    send("aftersale.closed", closed("as-2", "exchange", "wrong_size", "exchanged", bra80b), "e-5")
    # a request heard of only when it closed (its application went elsewhere first)
    send("aftersale.closed", closed("as-4", "refund_only", "not_received", "refunded",
                                    line("l-5", "p-brief", "S", 1, 5900)), "e-6")
    send("aftersale.approved", support.AfterSaleApproved(request_id="as-3", order_id="o-as-3"), "e-7")
    send("aftersale.refund_requested", support.AfterSaleRefundRequested(request_id="as-3"), "e-8")
    return runtime


def test_counts_by_reason_product_and_size(recorded):
    assert by(recorded, "reason") == [("quality", 1, 3, 0, 0, 0), ("wrong_size", 2, 2, 1, 1, 18905),
                                      ("not_received", 1, 1, 1, 0, 5900)]
    assert by(recorded, "product") == [("p-bra", 3, 3, 1, 1, 18905), ("p-brief", 2, 3, 1, 0, 5900)]
    assert by(recorded, "size") == [("75B", 2, 2, 1, 0, 18905), ("M", 1, 2, 0, 0, 0),
                                    ("80B", 1, 1, 0, 1, 0), ("S", 1, 1, 1, 0, 5900)]
    assert by(recorded, "size", kind="exchange") == [("80B", 1, 1, 0, 1, 0)]


def test_every_aftersale_event_is_one_fact(recorded):
    with recorded.transaction() as session:
        facts = dict(session.execute(select(Fact.event_type, func.count()).where(
            Fact.source == "support").group_by(Fact.event_type)).all())
    assert facts == {"aftersale.applied": 4, "aftersale.closed": 3, "aftersale.approved": 1,
                     "aftersale.refund_requested": 1}


def test_the_application_heard_after_the_close_keeps_the_outcome(runtime):
    send("aftersale.closed", closed("as-1", "return_refund", "quality", "refunded",
                                    line("l-1", "p-bra", "75B", 1, 100)), "e-2")
    send("aftersale.applied", applied("as-1", "return_refund", "quality", line("l-1", "p-bra", "75B")), "e-1")
    assert by(runtime, "reason") == [("quality", 1, 1, 1, 0, 100)]
    moment = datetime(2026, 12, 5, 0, 10, tzinfo=timezone.utc)
    assert by(runtime, "reason", since=moment, until=moment + timedelta(seconds=1)) == \
        [("quality", 1, 1, 1, 0, 100)]
    assert by(runtime, "reason", since=moment + timedelta(seconds=1)) == []


def test_bad_queries_name_the_field(runtime):
    with runtime.transaction() as session, pytest.raises(InvalidArgument) as err:
        returns.counts(session, "colour", kind="swap")
    assert sorted((v.field, v.rule) for v in err.value.violations) == [("by", "one_of"), ("kind", "one_of")]


def test_the_rpc_for_analysts_only(recorded, grpc_stub_for):
    stub = grpc_stub_for("analytics", pb_grpc.AnalyticsServiceStub)
    answer = stub.ReturnCounts(pb.ReturnCountsRequest(by="size"), metadata=ANALYST)
    assert [(c.key, c.units) for c in answer.counts] == [("75B", 2), ("M", 2), ("80B", 1), ("S", 1)]
    assert answer.units == 6
    since = Timestamp()
    since.FromDatetime(datetime(2030, 1, 1))
    assert list(stub.ReturnCounts(pb.ReturnCountsRequest(by="reason", since=since),
                                  metadata=ANALYST).counts) == []
    with pytest.raises(grpc.RpcError) as err:
        stub.ReturnCounts(pb.ReturnCountsRequest(by="reason"), metadata=OPERATOR)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        stub.ReturnCounts(pb.ReturnCountsRequest(by=""), metadata=ANALYST)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.rule) for v in violations_from_trailers(err.value.trailing_metadata())] == [("by", "one_of")]
