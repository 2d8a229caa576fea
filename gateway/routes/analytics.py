"""Event counts, for analysts and admins."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from google.protobuf.timestamp_pb2 import Timestamp
from mall.analytics.v1 import analytics_pb2, analytics_pb2_grpc

from .. import auth
from ..convert import to_json
from ..problems import Problem

router = APIRouter(prefix="/v1/admin/analytics", tags=["admin-analytics"],
                   dependencies=[Depends(auth.staff(auth.ANALYST, auth.ADMIN))])


def _timestamp(value: datetime | None, name: str) -> Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise Problem(400, "invalid-argument", f"{name} needs a time zone (e.g. Z or +08:00)",
                      [{"field": name, "rule": "timezone", "message": "needs a UTC offset"}])
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


@router.get("/event-counts", summary="How many events of each type occurred in [since, until)")
async def event_counts(request: Request,
                       since: datetime | None = Query(None, description="inclusive, RFC 3339"),
                       until: datetime | None = Query(None, description="exclusive, RFC 3339")
                       ) -> dict:
    req = analytics_pb2.EventCountsRequest(since=_timestamp(since, "since"),
                                           until=_timestamp(until, "until"))
    stub = request.app.state.clients.stub("analytics", analytics_pb2_grpc.AnalyticsServiceStub)
    return to_json(await request.app.state.clients.call(stub.EventCounts, req))
