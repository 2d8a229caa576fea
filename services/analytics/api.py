"""The gRPC face of analytics: translates requests to queries and results to messages."""
from __future__ import annotations

from datetime import datetime, timezone

import grpc
from mall.analytics.v1 import analytics_pb2 as pb
from mall.analytics.v1 import analytics_pb2_grpc as pb_grpc

from servicekit import context, roles
from servicekit.runtime import Runtime

from . import erasure, queries, returns


def require_staff() -> str:
    return context.require_roles(*roles.ANALYTICS_READERS, action="analytics").user_id




def _time(request, field: str) -> datetime | None:
    if not request.HasField(field):
        return None
    return getattr(request, field).ToDatetime(tzinfo=timezone.utc)


class AnalyticsServicer(pb_grpc.AnalyticsServiceServicer):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def CountEvents(self, request, context):
        require_staff()
        with self.runtime.transaction() as session:
            count = queries.count_events(session, request.type, _time(request, "since"),
                                         _time(request, "until"))
        return pb.CountEventsResponse(type=request.type, count=count)

    def EventCounts(self, request, context):
        require_staff()
        with self.runtime.transaction() as session:
            counts = queries.event_counts(session, _time(request, "since"),
                                          _time(request, "until"))
        return pb.EventCountsResponse(
            counts=[pb.TypeCount(type=c.event_type, source=c.source, count=c.count)
                    for c in counts],
            total=sum(c.count for c in counts))

    def DailyCounts(self, request, context):
        require_staff()
        with self.runtime.transaction() as session:
            days = queries.daily_counts(session, request.type, request.days)
        return pb.DailyCountsResponse(
            type=request.type,
            days=[pb.DayCount(day=day.isoformat(), count=n) for day, n in days],
            total=sum(n for _, n in days))

    def ReturnCounts(self, request, context):
        require_staff()
        with self.runtime.transaction() as session:
            counts = returns.counts(session, request.by, _time(request, "since"),
                                    _time(request, "until"), request.kind)
        return pb.ReturnCountsResponse(
            by=request.by, units=sum(c.units for c in counts),
            counts=[pb.ReturnCount(key=c.key, requests=c.requests, units=c.units,
                                   refunded_units=c.refunded, exchanged_units=c.exchanged,
                                   refunded_fen=c.refunded_fen) for c in counts])

    def ExportMemberData(self, request, context_):
        context.require_self_or_roles(request.member_id, roles.ADMIN,
                                      action="exporting a member's facts")
        with self.runtime.transaction() as session:
            return erasure.export(session, request.member_id)


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    pb_grpc.add_AnalyticsServiceServicer_to_server(AnalyticsServicer(runtime), server)
    return [pb.DESCRIPTOR.services_by_name["AnalyticsService"].full_name]
