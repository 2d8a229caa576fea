"""gRPC: coupon template administration, for staff (operator, admin)."""
from __future__ import annotations

from datetime import timezone

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from mall.common.v1 import common_pb2
from mall.promotion.v1 import promotion_pb2 as pb
from mall.promotion.v1 import promotion_pb2_grpc

from servicekit import context, paging
from servicekit.context import current
from servicekit.errors import InvalidArgument
from servicekit.runtime import Runtime

from . import templates
from .models import CouponTemplate

TEMPLATE_ADMINS = ("operator", "admin")


def require_staff() -> str:
    return context.require_roles(*TEMPLATE_ADMINS, action="managing coupon templates").user_id
KIND_NAMES = {pb.FIXED_AMOUNT: "fixed_amount", pb.PERCENTAGE: "percentage",
              pb.NO_THRESHOLD: "no_threshold"}
SCOPE_NAMES = {pb.ALL: "all", pb.CATEGORIES: "categories", pb.PRODUCTS: "products"}
KIND_ENUMS = {v: k for k, v in KIND_NAMES.items()}
SCOPE_ENUMS = {v: k for k, v in SCOPE_NAMES.items()}




def spec_from_proto(spec: pb.CouponTemplateSpec) -> templates.TemplateSpec:
    validity = spec.WhichOneof("validity")
    window = spec.window if validity == "window" else None
    return templates.TemplateSpec(
        name=spec.name, description=spec.description,
        kind=KIND_NAMES.get(spec.kind, f"unspecified({spec.kind})"),
        amount_fen=spec.amount_fen, threshold_fen=spec.threshold_fen,
        percent_off=spec.percent_off, cap_fen=spec.cap_fen,
        valid_from=_datetime(window, "valid_from"), valid_until=_datetime(window, "valid_until"),
        valid_days_after_claim=spec.valid_days_after_claim if validity == "valid_days_after_claim"
        else None,
        per_member_limit=spec.per_member_limit, total_quantity=spec.total_quantity,
        scope=SCOPE_NAMES.get(spec.scope, f"unspecified({spec.scope})"),
        category_ids=tuple(spec.category_ids), product_ids=tuple(spec.product_ids))


def _datetime(window, name):
    if window is None or not window.HasField(name):
        return None
    return getattr(window, name).ToDatetime(tzinfo=timezone.utc)


def _timestamp(moment) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def template_to_proto(t: CouponTemplate) -> pb.CouponTemplate:
    spec = pb.CouponTemplateSpec(
        name=t.name, description=t.description, kind=KIND_ENUMS[t.kind], amount_fen=t.amount_fen,
        threshold_fen=t.threshold_fen, percent_off=t.percent_off, cap_fen=t.cap_fen,
        per_member_limit=t.per_member_limit, total_quantity=t.total_quantity,
        scope=SCOPE_ENUMS[t.scope], category_ids=t.category_ids, product_ids=t.product_ids)
    if t.valid_days_after_claim is not None:
        spec.valid_days_after_claim = t.valid_days_after_claim
    else:
        spec.window.valid_from.CopyFrom(_timestamp(t.valid_from))
        spec.window.valid_until.CopyFrom(_timestamp(t.valid_until))
    return pb.CouponTemplate(id=str(t.id), spec=spec, issued_count=t.issued_count,
                             created_by=t.created_by, created_at=_timestamp(t.created_at))


class PromotionService(promotion_pb2_grpc.PromotionServiceServicer):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def CreateCouponTemplate(self, request, context):
        staff_id = require_staff()
        spec = spec_from_proto(request.spec)
        with self.runtime.transaction() as session:
            return template_to_proto(templates.create(
                session, self.runtime, spec, created_by=staff_id,
                idempotency_key=current().idempotency_key))

    def GetCouponTemplate(self, request, context):
        require_staff()
        if not request.id:
            raise InvalidArgument.field("id", "required", "id of the coupon template is required")
        with self.runtime.transaction() as session:
            return template_to_proto(templates.get(session, request.id))

    def ListCouponTemplates(self, request, context):
        require_staff()
        size = paging.page_size(request.page.page_size)
        after = paging.decode("promotion", request.page.page_token, "coupon_templates")
        after_id = after[0] if after and isinstance(after[0], int) else None
        with self.runtime.transaction() as session:
            rows = templates.list_page(session, size, after_id)
        page, more = rows[:size], len(rows) > size
        next_token = paging.encode("promotion", [page[-1].id], "coupon_templates") if more else ""
        return pb.ListCouponTemplatesResponse(
            templates=[template_to_proto(t) for t in page],
            page=common_pb2.PageInfo(next_page_token=next_token))


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    promotion_pb2_grpc.add_PromotionServiceServicer_to_server(PromotionService(runtime), server)
    return [pb.DESCRIPTOR.services_by_name["PromotionService"].full_name]
