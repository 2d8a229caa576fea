"""The shopper's notification inbox (/v1/me/notifications), kept by support: what happened to
their orders and coupons, newest first, and marking notices read."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from mall.common.v1 import common_pb2
from mall.support.v1 import support_pb2, support_pb2_grpc
from pydantic import BaseModel, Field

from .. import auth
from ..convert import to_json

router = APIRouter(tags=["me-notifications"], dependencies=[Depends(auth.customer)])


class MarkRead(BaseModel):
    """Either some notices (`ids`) or every unread one (`all`), not both."""
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field([], max_length=100)
    all: bool = False


async def _call(request: Request, method: str, message) -> dict:
    stub = request.app.state.clients.stub("support", support_pb2_grpc.NotificationServiceStub)
    return to_json(await request.app.state.clients.call(getattr(stub, method), message))


@router.get("/v1/me/notifications", summary="My notices, newest first, with my unread count")
async def my_notifications(request: Request, unread_only: bool = False,
                           page_size: Annotated[int, Query(ge=1, le=100)] = 20,
                           page_token: Annotated[str, Query(max_length=2048)] = "") -> dict:
    return await _call(request, "ListNotifications", support_pb2.ListNotificationsRequest(
        unread_only=unread_only,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token)))


@router.post("/v1/me/notifications/read", summary="Mark some or all of my notices read")
async def mark_read(body: MarkRead, request: Request) -> dict:
    return await _call(request, "MarkNotificationsRead",
                       support_pb2.MarkNotificationsReadRequest(ids=body.ids, all=body.all))
