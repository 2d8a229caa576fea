"""gRPC: the calling member's notification inbox; reviews (review_api.py)."""
from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from mall.common.v1 import common_pb2
from mall.support.v1 import support_pb2 as pb
from mall.support.v1 import support_pb2_grpc

from servicekit import context, paging, roles
from servicekit.media_storage import default_storage
from servicekit.runtime import Runtime

from . import aftersale_api, erasure, inbox, review_api
from .models import Notification


def kind_enum(kind: str) -> int:
    try:
        return pb.NotificationKind.Value(kind.upper())
    except ValueError:  # a kind newer than this contract: the string still says it
        return pb.NOTIFICATION_KIND_UNSPECIFIED


def caller_member_id() -> str:
    return context.require_user("the inbox").user_id


def notification_to_proto(n: Notification) -> pb.Notification:
    created = Timestamp()
    created.FromDatetime(n.created_at)
    return pb.Notification(id=str(n.id), kind=kind_enum(n.kind), kind_code=n.kind, title=n.title,
                           body=n.body, order_id=n.order_id or "", coupon_id=n.coupon_id or "",
                           read=n.read_at is not None, created_at=created)


class NotificationService(support_pb2_grpc.NotificationServiceServicer):
    def __init__(self, runtime: Runtime, storage):
        self.runtime, self.storage = runtime, storage

    def review_message(self, session, rows):
        return review_api.reviews_pb(session, rows, self.storage, public=False)

    def aftersale_messages(self, session, rows):
        return aftersale_api.requests_pb(session, rows, self.storage)

    def ListNotifications(self, request, context):
        member_id = caller_member_id()
        size = paging.page_size(request.page.page_size)
        # A token is bound to its member and filter: it cannot page through someone else's inbox.
        query = f"notifications:{member_id}:{int(request.unread_only)}"
        after = paging.decode("support", request.page.page_token, query)
        after_rank = after[0] if after and isinstance(after[0], int) else None
        with self.runtime.transaction() as session:
            rows = inbox.page(session, member_id, size, after_rank, request.unread_only)
            unread = inbox.unread_count(session, member_id)
        shown, more = rows[:size], len(rows) > size
        return pb.ListNotificationsResponse(
            notifications=[notification_to_proto(n) for n in shown],
            page=common_pb2.PageInfo(next_page_token=paging.encode("support", [shown[-1].list_rank], query)
                                     if more else ""),
            unread_count=unread)

    def MarkNotificationsRead(self, request, context):
        member_id = caller_member_id()
        with self.runtime.transaction() as session:
            marked = inbox.mark_read(session, member_id, list(request.ids), request.all)
            return pb.MarkNotificationsReadResponse(marked_count=marked,
                                                    unread_count=inbox.unread_count(session, member_id))

    def ExportMemberData(self, request, context_):
        context.require_self_or_roles(request.member_id, roles.ADMIN,
                                      action="exporting a member's notices")
        with self.runtime.transaction() as session:
            return erasure.export(session, request.member_id, notification_to_proto,
                                  self.review_message, self.aftersale_messages)


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    storage = default_storage("support")
    support_pb2_grpc.add_NotificationServiceServicer_to_server(
        NotificationService(runtime, storage), server)
    support_pb2_grpc.add_ReviewServiceServicer_to_server(
        review_api.ReviewService(runtime, storage), server)
    support_pb2_grpc.add_ReviewAdminServiceServicer_to_server(
        review_api.ReviewAdminService(runtime, storage), server)
    return [pb.DESCRIPTOR.services_by_name[name].full_name
            for name in ("NotificationService", "ReviewService", "ReviewAdminService")] + \
        aftersale_api.register(server, runtime, storage)
