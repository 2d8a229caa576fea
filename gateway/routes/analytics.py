"""Event counts and return counts, for analysts and admins."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Response
from google.protobuf.timestamp_pb2 import Timestamp
from mall.analytics.v1 import analytics_pb2

from servicekit import roles

from .. import auth
from ..convert import answer
from ..problems import Problem
from ..proto_models import model_of
from ..services import Analytics

router = APIRouter(prefix="/v1/admin/analytics", tags=["admin-analytics"],
                   dependencies=[Depends(auth.staff(roles.ANALYST, roles.ADMIN))])


def _timestamp(value: datetime | None, name: str) -> Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise Problem(400, "invalid-argument", f"{name} needs a time zone (e.g. Z or +08:00)",
                      [{"field": name, "rule": "timezone", "message": "needs a UTC offset"}])
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


@router.get("/event-counts", summary="How many events of each type occurred in [since, until)",
            response_model=model_of(analytics_pb2.EventCountsResponse))
async def get_event_counts(analytics: Analytics,
                           since: datetime | None = Query(None, description="inclusive, RFC 3339"),
                           until: datetime | None = Query(None, description="exclusive, RFC 3339")
                           ) -> Response:
    req = analytics_pb2.EventCountsRequest(since=_timestamp(since, "since"),
                                           until=_timestamp(until, "until"))
    return answer(await analytics.EventCounts(req))


@router.get("/return-counts", summary="After-sale requests applied in [since, until), counted by "
            "reason, product or size", response_model=model_of(analytics_pb2.ReturnCountsResponse))
async def get_return_counts(analytics: Analytics,
                            by: Literal["reason", "product", "size"] = Query(
                                ..., description="what to count by"),
                            kind: Literal["refund_only", "return_refund", "exchange", "repair"] | None = Query(
                                None, description="only requests of this kind"),
                            since: datetime | None = Query(None, description="inclusive, RFC 3339"),
                            until: datetime | None = Query(None, description="exclusive, RFC 3339")
                            ) -> Response:
    req = analytics_pb2.ReturnCountsRequest(by=by, kind=kind or "", since=_timestamp(since, "since"),
                                            until=_timestamp(until, "until"))
    return answer(await analytics.ReturnCounts(req))
