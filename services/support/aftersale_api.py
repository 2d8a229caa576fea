"""gRPC: after-sales requests for shoppers (AfterSaleService) and customer service's desk and the
merchant's rules (AfterSaleAdminService). An exchange SKU is checked against catalog (GetSkus)
here, in the api process, before anything is written: it must be another SKU of the line's
product. MALL_SUPPORT_CHECK_CATALOG=0 turns that check off (support running without catalog)."""
from __future__ import annotations

import grpc
from mall.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from mall.support.v1 import support_pb2 as pb
from mall.support.v1 import support_pb2_grpc

from servicekit import context, grpc_client, paging, roles
from servicekit.config import env, grpc_target
from servicekit.errors import InvalidArgument, from_rpc_error
from servicekit.media_storage import MediaStorage
from servicekit.runtime import Runtime
from servicekit.times import parse_rfc3339

from . import aftersale_rules as rules
from . import aftersales
from .models import AfterSale
from .review_api import _next, _ts, receive_upload

DESK = (roles.ADMIN, roles.CS_AGENT)


def catalog_check_enabled() -> bool:
    return env("CHECK_CATALOG", "1", "support") not in ("0", "false", "no")


class CatalogSkus:
    """{sku_id: product_id} from catalog's GetSkus (any status)."""

    def __init__(self):
        self._stubs: dict[str, catalog_pb2_grpc.CatalogServiceStub] = {}

    def __call__(self, sku_ids: list[str]) -> dict[str, str]:
        target = grpc_target("catalog")
        if target not in self._stubs:
            self._stubs[target] = catalog_pb2_grpc.CatalogServiceStub(
                grpc_client.channel("catalog", target=target))
        try:
            reply = self._stubs[target].GetSkus(catalog_pb2.GetSkusRequest(
                sku_ids=sorted(set(sku_ids))[:200]))
        except grpc.RpcError as err:
            raise from_rpc_error(err, "catalog") from None
        return {view.sku.id: view.sku.product_id for view in reply.skus}


def request_pb(request: AfterSale, lines, its_photos, storage: MediaStorage) -> pb.AfterSaleRequest:
    reason = rules.REASON_BY_CODE.get(request.reason_code)
    return pb.AfterSaleRequest(
        id=str(request.id), order_id=request.order_id, order_no=request.order_no,
        member_id=request.member_id, kind=request.kind, reason_code=request.reason_code,
        reason_label=reason.label if reason else "", text=request.text, state=request.state,
        outcome=request.outcome,
        lines=[pb.AfterSaleRequestLine(
            line_id=x.line_id, product_id=x.product_id, sku_id=x.sku_id, title=x.title,
            sku_label=x.sku_label, size=x.size, quantity=x.quantity, paid_fen=x.paid_fen,
            refund_fen=x.refund_fen, exchange_sku_id=x.exchange_sku_id) for x in lines],
        photos=[pb.ReviewPhoto(id=str(p.id), url=storage.url(p.hd_key),
                               thumbnail_url=storage.url(p.thumbnail_key), width=p.width,
                               height=p.height) for p in its_photos],
        seal_intact=request.seal_intact, priority=request.priority,
        free_return_shipping=request.free_return_shipping, refund_fen=request.refund_fen,
        refunded_fen=request.refunded_fen, note=request.note,
        exchange_unavailable=request.exchange_unavailable,
        created_at=_ts(request.created_at), updated_at=_ts(request.updated_at),
        deadline=_ts(request.deadline_at),
        history=[pb.AfterSaleStep(state=h["state"], by=h["by"], note=h["note"],
                                  at=_ts(parse_rfc3339(h["at"]))) for h in request.history or []])


def requests_pb(session, rows: list[AfterSale], storage: MediaStorage) -> list[pb.AfterSaleRequest]:
    ids = [r.id for r in rows]
    lines, found = aftersales.lines_by_request(session, ids), aftersales.photos_of(session, ids)
    return [request_pb(r, lines[r.id], found[r.id], storage) for r in rows]


def settings_pb(row) -> pb.AfterSaleSettings:
    s = rules.Settings.from_dict(row.data)
    return pb.AfterSaleSettings(**{k: v for k, v in s.to_dict().items()}, version=row.version,
                                updated_by=row.updated_by, updated_at=_ts(row.updated_at))


class _Base:
    def __init__(self, runtime: Runtime, storage: MediaStorage, sku_products=None):
        self.runtime, self.storage = runtime, storage
        self.sku_products = sku_products

    def _one(self, request: AfterSale) -> pb.AfterSaleRequest:
        with self.runtime.transaction() as session:
            return requests_pb(session, [request], self.storage)[0]


class AfterSaleService(_Base, support_pb2_grpc.AfterSaleServiceServicer):
    def GetAfterSaleOptions(self, request, ctx):
        member_id = context.require_user("after-sales").user_id
        if not request.order_id:
            raise InvalidArgument.field("order_id", "required", "the order")
        found = aftersales.options(self.runtime, member_id, request.order_id)
        return pb.AfterSaleOptions(order_id=request.order_id, lines=[pb.AfterSaleLineOptions(
            line_id=o["line"].line_id, product_id=o["line"].product_id, sku_id=o["line"].sku_id,
            title=o["line"].title, sku_label=o["line"].sku_label, size=o["line"].size,
            quantity=o["line"].quantity, available_quantity=o["available"],
            intimate=o["intimate"], final_sale=o["final_sale"],
            kinds=[pb.AfterSaleKindOption(**{**k, "window_ends_at": _ts(k["window_ends_at"])})
                   for k in o["kinds"]]) for o in found])

    def ApplyAfterSale(self, request_iterator, ctx):
        member_id = context.require_user("applying for after-sales").user_id
        header, images = receive_upload(request_iterator, "application")
        draft = aftersales.Draft(
            order_id=header.order_id, kind=header.kind, reason_code=header.reason_code,
            text=header.text, seal_intact=header.seal_intact, photos=images,
            lines=[aftersales.LineDraft(x.line_id, x.quantity, x.exchange_sku_id)
                   for x in header.lines])
        return self._one(aftersales.apply(self.runtime, self.storage, member_id, draft,
                                          self.sku_products))

    def AddAfterSalePhotos(self, request_iterator, ctx):
        member_id = context.require_user("adding photos").user_id
        header, images = receive_upload(request_iterator, "more_photos")
        return self._one(aftersales.add_photos(self.runtime, self.storage, member_id,
                                               header.request_id, header.note, images))

    def WithdrawAfterSale(self, request, ctx):
        member_id = context.require_user("withdrawing a request").user_id
        return self._one(aftersales.withdraw(self.runtime, member_id, request.request_id))

    def GetMyAfterSale(self, request, ctx):
        member_id = context.require_user("your after-sales").user_id
        with self.runtime.transaction() as session:
            found = aftersales._mine(session, member_id, request.request_id)
            return requests_pb(session, [found], self.storage)[0]

    def ListMyAfterSales(self, request, ctx):
        member_id = context.require_user("your after-sales").user_id
        size = paging.page_size(request.page.page_size)
        query = paging.fingerprint("my-aftersales", member_id)
        after = paging.decode("support", request.page.page_token, query)
        with self.runtime.transaction() as session:
            rows = aftersales.mine_page(session, member_id, size, after[0] if after else None)
            return pb.ListAfterSalesResponse(requests=requests_pb(session, rows[:size], self.storage),
                                             page=_next(rows, size, query))

    def ListAfterSaleReasons(self, request, ctx):
        return pb.ListAfterSaleReasonsResponse(reasons=[
            pb.AfterSaleReason(code=r.code, label=r.label, kinds=list(r.kinds), quality=r.quality)
            for r in rules.REASONS])


class AfterSaleAdminService(_Base, support_pb2_grpc.AfterSaleAdminServiceServicer):
    def ListAfterSales(self, request, ctx):
        context.require_roles(*DESK, action="the after-sales desk")
        if request.state and request.state not in rules.OPEN + (rules.CLOSED,):
            raise InvalidArgument.field("state", "known", ", ".join(rules.OPEN + (rules.CLOSED,)))
        if request.reason_code and request.reason_code not in rules.REASON_BY_CODE:
            raise InvalidArgument.field("reason_code", "known", "a reason code")
        if not 0 <= request.older_than_hours <= 24 * 366:
            raise InvalidArgument.field("older_than_hours", "range", "0 to 8784 hours")
        size = paging.page_size(request.page.page_size)
        query = paging.fingerprint("desk-aftersales", request.state, request.reason_code,
                                   request.product_id, request.older_than_hours)
        after = paging.decode("support", request.page.page_token, query)
        with self.runtime.transaction() as session:
            rows = aftersales.desk_page(session, size, after, state=request.state,
                                        reason_code=request.reason_code,
                                        product_id=request.product_id,
                                        older_than_hours=request.older_than_hours)
            more = len(rows) > size
            token = paging.encode("support", [int(rows[size - 1].priority), rows[size - 1].id],
                                  query) if more else ""
            return pb.ListAfterSalesResponse(
                requests=requests_pb(session, rows[:size], self.storage),
                page={"next_page_token": token})

    def GetAfterSale(self, request, ctx):
        context.require_roles(*DESK, action="an after-sales request")
        with self.runtime.transaction() as session:
            found = aftersales._any(session, request.request_id)
            return requests_pb(session, [found], self.storage)[0]

    def _decide(self, request, action: str):
        staff = context.require_roles(*DESK, action=f"after-sales: {action}")
        return self._one(aftersales.decide(self.runtime, staff.user_id, request.request_id,
                                           action, request.note))

    def ApproveAfterSale(self, request, ctx):
        return self._decide(request, "approve")

    def RefuseAfterSale(self, request, ctx):
        return self._decide(request, "refuse")

    def AskForAfterSalePhotos(self, request, ctx):
        return self._decide(request, "ask_photos")

    def RefundAfterSalePartially(self, request, ctx):
        staff = context.require_roles(*DESK, action="a partial refund")
        given = [x.line_id for x in request.lines]
        if len(set(given)) != len(given):
            raise InvalidArgument.field("lines", "unique", "each line once")
        return self._one(aftersales.refund_partially(
            self.runtime, staff.user_id, request.request_id,
            {x.line_id: x.refund_fen for x in request.lines}, given, request.reason))

    def GetAfterSaleSettings(self, request, ctx):
        context.require_roles(*DESK, action="the after-sales rules")
        with self.runtime.transaction() as session:
            return settings_pb(aftersales.settings_row(session))

    def UpdateAfterSaleSettings(self, request, ctx):
        staff = context.require_roles(roles.ADMIN, action="editing the after-sales rules")
        new = rules.Settings(
            no_reason_days=request.no_reason_days, quality_days=request.quality_days,
            intimate_category_ids=tuple(request.intimate_category_ids),
            intimate_product_ids=tuple(request.intimate_product_ids),
            final_sale_product_ids=tuple(request.final_sale_product_ids),
            repair_enabled=request.repair_enabled,
            repair_product_ids=tuple(request.repair_product_ids),
            free_return_tiers=tuple(request.free_return_tiers),
            auto_approve_refund_before_shipping=request.auto_approve_refund_before_shipping)
        return settings_pb(aftersales.update_settings(self.runtime, staff.user_id, new))


def register(server: grpc.Server, runtime: Runtime, storage: MediaStorage) -> list[str]:
    skus = CatalogSkus() if catalog_check_enabled() else None
    support_pb2_grpc.add_AfterSaleServiceServicer_to_server(
        AfterSaleService(runtime, storage, skus), server)
    support_pb2_grpc.add_AfterSaleAdminServiceServicer_to_server(
        AfterSaleAdminService(runtime, storage), server)
    return [pb.DESCRIPTOR.services_by_name[name].full_name
            for name in ("AfterSaleService", "AfterSaleAdminService")]
