"""Asks promotion whether a coupon template can still be issued, so staff cannot list a
points-mall item whose coupon would never come (an unknown, ended or exhausted template). Called
by the api process only (a worker never calls another service), with a deadline; when promotion
does not answer, the item is refused as UNAVAILABLE rather than saved unchecked."""
from __future__ import annotations

from datetime import datetime

import grpc
from mall.promotion.v1 import promotion_pb2, promotion_pb2_grpc

from servicekit import grpc_client
from servicekit.config import env_float, grpc_target
from servicekit.errors import InvalidArgument, from_rpc_error
from servicekit.times import rfc3339, utcnow

FIELD = "coupon_template_id"
DEADLINE_SECONDS = env_float("PROMOTION_DEADLINE_SECONDS", 3.0, "member")


class CouponTemplates:
    def __init__(self, target: str | None = None):
        self._target = target
        self._stubs: dict[str, promotion_pb2_grpc.PromotionServiceStub] = {}

    def _stub(self) -> promotion_pb2_grpc.PromotionServiceStub:
        target = self._target or grpc_target("promotion")  # read per call: tests point it late
        if target not in self._stubs:
            self._stubs[target] = promotion_pb2_grpc.PromotionServiceStub(
                grpc_client.channel("promotion", target=target))
        return self._stubs[target]

    def check_issuable(self, template_id: str, now: datetime | None = None) -> None:
        """Returns when promotion knows the template and can still issue it; else
        INVALID_ARGUMENT naming coupon_template_id (UNAVAILABLE when promotion is down). Asked
        with the staff caller's identity (the kit's channel passes it on)."""
        try:
            template = self._stub().GetCouponTemplate(
                promotion_pb2.GetCouponTemplateRequest(id=template_id), timeout=DEADLINE_SECONDS)
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise InvalidArgument.field(
                    FIELD, "unknown", f"promotion has no coupon template {template_id!r}") from None
            raise from_rpc_error(err, "promotion") from None
        spec, now = template.spec, now or utcnow()
        if spec.WhichOneof("validity") == "window":
            ends = spec.window.valid_until.ToDatetime(tzinfo=now.tzinfo)
            if ends <= now:
                raise InvalidArgument.field(
                    FIELD, "ended", f"coupon template {template_id} ended at {rfc3339(ends)}: "
                    "its coupons can no longer be issued")
        if template.issued_count >= spec.total_quantity:
            raise InvalidArgument.field(
                FIELD, "exhausted", f"all {spec.total_quantity} coupons of template "
                f"{template_id} have been issued")
