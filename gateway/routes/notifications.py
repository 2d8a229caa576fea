"""The shopper's notification inbox (/v1/me/notifications), kept by support: what happened to
their orders and coupons, newest first, and marking notices read."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from mall.common.v1 import common_pb2
from mall.support.v1 import support_pb2
from pydantic import BaseModel, Field

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..schemas import PageSize, PageToken
from ..services import Notifications

router = APIRouter(tags=["me-notifications"], dependencies=[Depends(auth.customer)])


class MarkRead(BaseModel):
    """Either some notices (`ids`) or every unread one (`all`), not both."""
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field([], max_length=100)
    all: bool = False


@router.get("/v1/me/notifications", summary="My notices, newest first, with my unread count",
            response_model=model_of(support_pb2.ListNotificationsResponse))
async def list_my_notifications(notifications: Notifications, unread_only: bool = False,
                                page_size: PageSize = 20,
                                page_token: PageToken = "") -> Response:
    return answer(await notifications.ListNotifications(support_pb2.ListNotificationsRequest(
        unread_only=unread_only,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@router.post("/v1/me/notifications/read", summary="Mark some or all of my notices read",
             response_model=model_of(support_pb2.MarkNotificationsReadResponse))
async def mark_notifications_read(notifications: Notifications, body: MarkRead) -> Response:
    return answer(await notifications.MarkNotificationsRead(
        support_pb2.MarkNotificationsReadRequest(ids=body.ids, all=body.all)))
