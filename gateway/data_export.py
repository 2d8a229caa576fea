"""A shopper's export (GET /v1/me/export): what every service holds about her, one section per
service, gathered at once. Each service answers for itself (member's ExportMyData, the others'
ExportMemberData, for her id only); a service that does not answer makes the whole export a 503
naming it, never an incomplete export presented as complete."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

import grpc
from mall.analytics.v1 import analytics_pb2
from mall.common.v1 import common_pb2
from mall.logistics.v1 import logistics_pb2
from mall.member.v1 import profile_pb2
from mall.order.v1 import order_pb2
from mall.payment.v1 import payment_pb2
from mall.promotion.v1 import promotion_pb2
from mall.support.v1 import support_pb2
from pydantic import BaseModel, create_model

from servicekit.times import rfc3339, utcnow

from .convert import to_json
from .problems import GRPC_TO_HTTP, Problem, from_rpc_error
from .proto_models import model_of


class MemberSection(BaseModel):
    """What member's ExportMyData holds (services/member/profile/erasure.py), section by section."""
    member: dict[str, Any]
    profile: dict[str, Any]
    habits: dict[str, Any] | None
    addresses: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    tier: str
    points: dict[str, Any]
    redemptions: list[dict[str, Any]]
    birthday_gifts: list[dict[str, Any]]
    exported_at: str


# The services besides member that hold a shopper's data, and the message each answers with.
SECTIONS: dict[str, type] = {
    "order": order_pb2.MemberOrderData,
    "logistics": logistics_pb2.MemberShipmentData,
    "payment": payment_pb2.MemberPaymentData,
    "promotion": promotion_pb2.MemberCouponData,
    "support": support_pb2.MemberNotificationData,
    "analytics": analytics_pb2.MemberFactData,
}

MyDataExport = create_model(
    "MyDataExport", __module__=__name__,
    __doc__="Everything the shop holds on the caller: a section per service, all of them present.",
    member=(MemberSection, ...),
    **{name: (model_of(message), ...) for name, message in SECTIONS.items()},  # type: ignore[call-overload]
    exported_at=(str, ...))


def _unavailable(service: str) -> Problem:
    return Problem(503, "service-unavailable",
                   f"the {service} service did not answer, so the export would be incomplete; "
                   "try again shortly", headers={"Retry-After": "1"})


async def _section(service: str, call: Awaitable) -> Any:
    try:
        return await call
    except grpc.aio.AioRpcError as err:
        if GRPC_TO_HTTP.get(err.code(), (502,))[0] >= 500:
            raise _unavailable(service) from None
        raise from_rpc_error(err) from None


async def gather(member_id: str, profile, calls: dict[str, Callable]) -> dict[str, Any]:
    """`calls`: each service's ExportMemberData stub method, by section name (SECTIONS)."""
    request = common_pb2.ExportMemberDataRequest(member_id=member_id)
    names = ["member", *SECTIONS]
    # Every call runs to its end (none left failing unobserved); the first refusal in section
    # order is the answer, so the same outage always names the same service.
    outcomes = await asyncio.gather(
        _section("member", profile.ExportMyData(profile_pb2.ExportMyDataRequest())),
        *(_section(name, calls[name](request)) for name in SECTIONS), return_exceptions=True)
    replies: list[Any] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        replies.append(outcome)
    body: dict[str, Any] = {"member": json.loads(replies[0].json)}
    body.update({name: to_json(reply) for name, reply in zip(names[1:], replies[1:], strict=True)})
    body["exported_at"] = rfc3339(utcnow())
    return body
