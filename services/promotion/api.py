"""gRPC: PromotionService. Staff (operator, admin) manage coupon templates, campaigns and issue
coupons; shoppers claim and list their coupons; order (internal) quotes and locks."""
from __future__ import annotations

from datetime import datetime, timezone

import grpc
from mall.common.v1 import common_pb2
from mall.promotion.v1 import promotion_pb2 as pb
from mall.promotion.v1 import promotion_pb2_grpc

from servicekit import context, paging, roles
from servicekit.context import current
from servicekit.errors import InvalidArgument
from servicekit.runtime import Runtime

from . import campaign_spec, campaigns, convert, coupons, history, locks, stacking, templates
from .members import MemberDirectory
from .pricing import QuoteRequest, quote
from .references import CatalogReferences
from .rulebook import Rulebook


def require_staff(action: str) -> str:
    return context.require_roles(*roles.MERCHANDISERS, action=action).user_id


def _required_id(value: str, field: str, what: str) -> str:
    if not value:
        raise InvalidArgument.field(field, "required", f"{field} of the {what} is required")
    return value


def _page(page_request, bound_to: str):
    """(size, the last id of the previous page or None) from a PageRequest."""
    size = paging.page_size(page_request.page_size)
    after = paging.decode("promotion", page_request.page_token, bound_to)
    return size, after[0] if after and isinstance(after[0], int) else None


def _next(rows, size: int, bound_to: str, key) -> tuple[list, common_pb2.PageInfo]:
    page, more = rows[:size], len(rows) > size
    token = paging.encode("promotion", [key(page[-1])], bound_to) if more else ""
    return page, common_pb2.PageInfo(next_page_token=token)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class PromotionService(promotion_pb2_grpc.PromotionServiceServicer):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.rulebook = Rulebook(runtime.sessions)
        self.members = MemberDirectory()
        self.references = CatalogReferences()

    # ---- coupon templates (staff) ----

    def CreateCouponTemplate(self, request, context):
        staff_id = require_staff("managing coupon templates")
        spec = convert.template_spec(request.spec)
        with self.runtime.transaction() as session:
            return convert.template_message(templates.create(
                session, self.runtime, spec, created_by=staff_id,
                idempotency_key=current().idempotency_key))

    def GetCouponTemplate(self, request, context):
        require_staff("managing coupon templates")
        _required_id(request.id, "id", "coupon template")
        with self.runtime.transaction() as session:
            return convert.template_message(templates.get(session, request.id))

    def ListCouponTemplates(self, request, context):
        require_staff("managing coupon templates")
        size, after_id = _page(request.page, "coupon_templates")
        with self.runtime.transaction() as session:
            rows = templates.list_page(session, size, after_id)
        page, info = _next(rows, size, "coupon_templates", lambda t: t.id)
        return pb.ListCouponTemplatesResponse(
            templates=[convert.template_message(t) for t in page], page=info)

    def UpdateCouponTemplate(self, request, context):
        staff_id = require_staff("managing coupon templates")
        _required_id(request.id, "id", "coupon template")
        spec = convert.template_spec(request.spec)
        with self.runtime.transaction() as session:
            return convert.template_message(templates.update(
                session, self.runtime, request.id, request.version, spec, updated_by=staff_id))

    def RetireCouponTemplate(self, request, context):
        staff_id = require_staff("managing coupon templates")
        _required_id(request.id, "id", "coupon template")
        with self.runtime.transaction() as session:
            return convert.template_message(templates.retire(session, self.runtime, request.id,
                                                             retired_by=staff_id))

    def ListCouponTemplateHistory(self, request, context):
        require_staff("managing coupon templates")
        _required_id(request.id, "id", "coupon template")
        with self.runtime.transaction() as session:
            found = templates.get(session, request.id)
            return self._history(session, "coupon_template", found.id, request.page)

    def _history(self, session, subject: str, subject_id: int, page_request) -> pb.ListHistoryResponse:
        bound_to = f"history:{subject}:{subject_id}"
        size, after_id = _page(page_request, bound_to)
        rows = history.page(session, subject, subject_id, size, after_id)
        page, info = _next(rows, size, bound_to, lambda r: r.id)
        return pb.ListHistoryResponse(entries=convert.history_message(page), page=info)

    # ---- campaigns (staff) ----

    def CreateCampaign(self, request, context):
        staff_id = require_staff("managing campaigns")
        spec = convert.campaign_spec(request.spec)
        campaign_spec.validate(spec, _now())  # the form first: catalog is asked about good ids only
        self.references.check(spec)           # before anything is written
        with self.runtime.transaction() as session:
            made = campaigns.create(session, self.runtime, spec, created_by=staff_id,
                                    idempotency_key=current().idempotency_key)
            answer = convert.campaign_message(made, campaigns.quotas(session, [made.id])[made.id])
        self.rulebook.invalidate()
        return answer

    def GetCampaign(self, request, context):
        require_staff("managing campaigns")
        _required_id(request.id, "id", "campaign")
        with self.runtime.transaction() as session:
            found = campaigns.get(session, request.id)
            return convert.campaign_message(found, campaigns.quotas(session, [found.id])[found.id])

    def ListCampaigns(self, request, context):
        require_staff("managing campaigns")
        size, after_id = _page(request.page, "campaigns")
        with self.runtime.transaction() as session:
            rows = campaigns.list_page(session, size, after_id)
            page, info = _next(rows, size, "campaigns", lambda c: c.id)
            quotas = campaigns.quotas(session, [c.id for c in page])
            return pb.ListCampaignsResponse(
                campaigns=[convert.campaign_message(c, quotas[c.id]) for c in page], page=info)

    def EndCampaign(self, request, context):
        staff_id = require_staff("managing campaigns")
        _required_id(request.id, "id", "campaign")
        with self.runtime.transaction() as session:
            ended = campaigns.end(session, self.runtime, request.id, ended_by=staff_id)
            answer = convert.campaign_message(ended, campaigns.quotas(session, [ended.id])[ended.id])
        self.rulebook.invalidate()
        return answer

    def UpdateCampaign(self, request, context):
        staff_id = require_staff("managing campaigns")
        _required_id(request.id, "id", "campaign")
        spec = convert.campaign_spec(request.spec)
        with self.runtime.transaction() as session:
            edited = campaigns.update(session, self.runtime, request.id, request.version, spec,
                                      updated_by=staff_id)
            answer = convert.campaign_message(edited, campaigns.quotas(session, [edited.id])[edited.id])
        self.rulebook.invalidate()
        return answer

    def ListCampaignHistory(self, request, context):
        require_staff("managing campaigns")
        _required_id(request.id, "id", "campaign")
        with self.runtime.transaction() as session:
            found = campaigns.get(session, request.id)
            return self._history(session, "campaign", found.id, request.page)

    # ---- stacking rules (staff) ----

    def GetStackingRules(self, request, context):
        require_staff("managing stacking rules")
        with self.runtime.transaction() as session:
            return _stacking_message(stacking.current(session, self.rulebook.stacking))

    def SetStackingRules(self, request, context):
        staff_id = require_staff("managing stacking rules")
        flags = request.rules.on_sale_items
        with self.runtime.transaction() as session:
            stacking.set_rules(session, member=flags.member_discount_on_sale_items,
                               threshold=flags.threshold_on_sale_items,
                               coupons=flags.coupons_on_sale_items,
                               points=flags.points_on_sale_items,
                               floor_percent=request.rules.floor_percent, by=staff_id, now=_now())
            answer = _stacking_message(stacking.current(session, self.rulebook.stacking))
        self.rulebook.invalidate()
        return answer

    # ---- pricing and order locks (internal: order) ----

    def Quote(self, request, context):
        now = convert.when(request, "now") or _now()
        offers = {}
        if request.coupon_ids:
            with self.runtime.engine.connect() as connection:  # a read: no ORM session needed
                offers = coupons.offers(connection, request.coupon_ids)
        result = quote(self.rulebook.rules(), QuoteRequest(
            lines=convert.cart_lines(request), now=now,
            member=convert.member_profile(request.member), coupon_ids=tuple(request.coupon_ids),
            coupons=offers, points_to_use=request.points_to_use,
            province=request.address.province))
        return convert.quote_message(result, now)

    def LockForOrder(self, request, context):
        lock_request = convert.lock_request(request)
        with self.runtime.transaction() as session:
            lock = locks.lock_for_order(session, self.runtime, lock_request, _now())
            return convert.lock_message(lock, request.order_id)

    def ReleaseForOrder(self, request, context):
        order_id = _required_id(request.order_id, "order_id", "order")
        with self.runtime.transaction() as session:
            return convert.lock_message(locks.release_for_order(session, self.runtime, order_id,
                                                                _now()), order_id)

    def ConsumeForOrder(self, request, context):
        order_id = _required_id(request.order_id, "order_id", "order")
        with self.runtime.transaction() as session:
            return convert.lock_message(locks.consume_for_order(session, self.runtime, order_id,
                                                                _now()), order_id)

    # ---- coupons (shoppers) ----

    def ClaimCoupon(self, request, context):
        member_id = context_member("claiming a coupon")
        _required_id(request.template_id, "template_id", "coupon")
        with self.runtime.transaction() as session:
            coupon = coupons.claim(session, self.runtime, member_id, request.template_id)
            return convert.coupon_message(coupon, templates.get(session, str(coupon.template_id)))

    def ListMyCoupons(self, request, context):
        member_id = context_member("listing your coupons")
        bound_to = f"my_coupons:{request.status}"
        size, after_id = _page(request.page, bound_to)
        with self.runtime.transaction() as session:
            rows = coupons.list_mine(session, member_id, request.status, size, after_id)
        page, info = _next(rows, size, bound_to, lambda row: row[0].id)
        return pb.ListMyCouponsResponse(coupons=[convert.coupon_message(c, t) for c, t in page],
                                        page=info)

    def ListClaimableCoupons(self, request, context):
        context_member("listing claimable coupons")
        size, after_id = _page(request.page, "claimable")
        with self.runtime.transaction() as session:
            rows = coupons.claimable(session, _now(), size, after_id)
        page, info = _next(rows, size, "claimable", lambda t: t.id)
        return pb.ListCouponTemplatesResponse(
            templates=[convert.template_message(t) for t in page], page=info)

    # ---- coupons (staff) ----

    def IssueCoupons(self, request, context):
        staff_id = require_staff("issuing coupons")
        _required_id(request.template_id, "template_id", "coupon")
        with self.runtime.transaction() as session:
            issued = coupons.issue_to_members(session, self.runtime, request.template_id,
                                              list(request.member_ids), staff_id=staff_id,
                                              existing=self.members.existing,
                                              idempotency_key=current().idempotency_key)
            template = templates.get(session, request.template_id)
            return pb.IssueCouponsResponse(coupons=[convert.coupon_message(c, template) for c in issued])

    def RevokeCoupon(self, request, context):
        staff_id = require_staff("revoking coupons")
        _required_id(request.coupon_id, "coupon_id", "coupon")
        with self.runtime.transaction() as session:
            coupon = coupons.revoke(session, self.runtime, request.coupon_id, reason=request.reason,
                                    staff_id=staff_id)
            return convert.coupon_message(coupon, templates.get(session, str(coupon.template_id)))

    def ExportMemberData(self, request, context_):
        context.require_self_or_roles(request.member_id, roles.ADMIN,
                                      action="exporting a member's coupons")
        with self.runtime.transaction() as session:
            return pb.MemberCouponData(coupons=[
                convert.coupon_message(c, t) for c, t in coupons.all_of(session, request.member_id)])


def _stacking_message(found: stacking.Current) -> pb.StackingRules:
    message = pb.StackingRules(on_sale_items=convert.stacking_message(found.stacking),
                               floor_percent=found.stacking.floor_percent,
                               is_default=found.row is None)
    if found.row is not None:
        message.updated_by = found.row.updated_by
        message.updated_at.CopyFrom(convert.stamp(found.row.updated_at))
    return message


def context_member(action: str) -> str:
    return context.require_user(action).user_id


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    promotion_pb2_grpc.add_PromotionServiceServicer_to_server(PromotionService(runtime), server)
    return [pb.DESCRIPTOR.services_by_name["PromotionService"].full_name]
