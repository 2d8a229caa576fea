"""After-sales (售后), kept by support: what a shopper may apply for on each line of her order
and why not, applying (refund only, return and refund, exchange, repair) with a reason, text and
up to 6 photos, adding the photos customer service asked for, withdrawing; customer service's
desk (roles cs_agent, admin): the list (exclusive service first, then the oldest), approve,
refuse, ask for photos, partial refunds; the merchant's rules (admin edits them). Returns are
booked and inspected through logistics (its own routes)."""
from __future__ import annotations

import json
from typing import Annotated, AsyncIterator, Literal

import grpc
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from mall.common.v1 import common_pb2
from mall.support.v1 import support_pb2
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from servicekit import roles
from servicekit.ids import ascii_int

from .. import auth
from ..convert import answer
from ..problems import Problem, from_rpc_error
from ..proto_models import model_of
from ..schemas import Code, Fen, Id, PageSize, PageToken
from ..services import MEDIA_UPLOAD_DEADLINE, AfterSaleDesk, AfterSales

router = APIRouter(prefix="/v1/me", tags=["me-aftersales"], dependencies=[Depends(auth.customer)])
staff_router = APIRouter(prefix="/v1/admin", tags=["admin-aftersales"])

CHUNK = 1024 * 1024
MAX_PHOTOS = 6
MAX_UPLOAD_BYTES = MAX_PHOTOS * 10 * 1024 * 1024 + 1024 * 1024
MAX_LINES = 50

Kind = Literal["refund_only", "return_refund", "exchange", "repair"]
State = Literal["applied", "awaiting_photos", "awaiting_return", "returning", "inspected",
                "inspection_failed", "refunding", "closed"]
Note = Annotated[str, Field(max_length=500)]
Request_ = model_of(support_pb2.AfterSaleRequest)
RequestList = model_of(support_pb2.ListAfterSalesResponse)
Units = Annotated[int, Field(ge=1, le=9999)]


class LineIn(BaseModel):
    line_id: Id
    quantity: Units
    exchange_sku_id: Id = ""


LINES = TypeAdapter(list[LineIn])


def _lines(text: str) -> list[LineIn]:
    """The form's `lines`: a JSON list of {line_id, quantity, exchange_sku_id}."""
    try:
        lines = LINES.validate_python(json.loads(text))
    except (ValueError, ValidationError) as err:
        errors = [{"field": "lines" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                             for p in e["loc"]), "rule": e["type"],
                   "message": e["msg"]} for e in err.errors()] \
            if isinstance(err, ValidationError) else [
                {"field": "lines", "rule": "json", "message": "a JSON list of lines"}]
        raise Problem(400, "invalid-argument", "the lines are invalid", errors=errors) from None
    if len(lines) > MAX_LINES:
        raise Problem(400, "invalid-argument", "too many lines", errors=[
            {"field": "lines", "rule": "max_items", "message": f"at most {MAX_LINES} lines"}])
    return lines


def _refuse_too_large(request: Request) -> None:
    length = request.headers.get("content-length", "")
    if (declared := ascii_int(length)) is not None and declared > MAX_UPLOAD_BYTES:
        raise Problem(413, "too-large", f"a request's photos are at most {MAX_PHOTOS} of 10 MiB")


async def _stream(header: support_pb2.AfterSaleUploadRequest,
                  photos: list[UploadFile]) -> AsyncIterator[support_pb2.AfterSaleUploadRequest]:
    yield header
    for index, photo in enumerate(photos):
        while chunk := await photo.read(CHUNK):
            yield support_pb2.AfterSaleUploadRequest(
                photo=support_pb2.PhotoChunk(index=index, data=chunk))


async def _send(call, header, photos: list[UploadFile], status: int) -> Response:
    if len(photos) > MAX_PHOTOS:
        raise Problem(400, "invalid-argument", "too many photos", errors=[
            {"field": "photos", "rule": "max_items", "message": f"at most {MAX_PHOTOS} photos"}])
    try:
        request = await call(_stream(header, photos), timeout=MEDIA_UPLOAD_DEADLINE)
    except grpc.aio.AioRpcError as err:
        raise from_rpc_error(err) from None
    return answer(request, status)


Photos = Annotated[list[UploadFile], File(description="JPEG, PNG, WebP or GIF, up to 6 of "
                                                      "10 MiB each")]


# ------------------------------------------------------------------ the shopper

@router.get("/orders/{order_id}/aftersale-options",
            response_model=model_of(support_pb2.AfterSaleOptions),
            summary="Per line of my order: what I may apply for (kinds, reasons, units) and why not")
async def aftersale_options(aftersales: AfterSales, order_id: Id) -> Response:
    return answer(await aftersales.GetAfterSaleOptions(
        support_pb2.GetAfterSaleOptionsRequest(order_id=order_id)))


@router.get("/aftersale-reasons", response_model=model_of(support_pb2.ListAfterSaleReasonsResponse),
            summary="The reasons (codes and Chinese labels) and the kinds each is for")
async def aftersale_reasons(aftersales: AfterSales) -> Response:
    return answer(await aftersales.ListAfterSaleReasons(
        support_pb2.ListAfterSaleReasonsRequest()))


@router.post("/aftersales", status_code=201, response_model=Request_,
             summary="Apply for after-sales on lines of my order, with up to 6 photos",
             responses={413: {"description": "The photos are larger than 6 × 10 MiB"}})
async def apply(
        request: Request, aftersales: AfterSales,
        order_id: Annotated[Id, Form()], kind: Annotated[Kind, Form()],
        reason_code: Annotated[Code, Form(description="GET /v1/me/aftersale-reasons")],
        lines: Annotated[str, Form(max_length=8000, description='JSON: [{"line_id": "...", '
                                   '"quantity": 1, "exchange_sku_id": ""}]')],
        text: Annotated[Note, Form()] = "",
        seal_intact: Annotated[bool, Form(description="the hygiene seal is unbroken "
                                                      "(intimate goods, no-reason returns)")] = False,
        photos: Photos = [],  # noqa: B006
) -> Response:
    _refuse_too_large(request)
    header = support_pb2.AfterSaleUploadRequest(application=support_pb2.AfterSaleDraft(
        order_id=order_id, kind=kind, reason_code=reason_code, text=text, seal_intact=seal_intact,
        lines=[support_pb2.AfterSaleLineDraft(line_id=x.line_id, quantity=x.quantity,
                                              exchange_sku_id=x.exchange_sku_id)
               for x in _lines(lines)]))
    return await _send(aftersales.ApplyAfterSale, header, photos, 201)


@router.post("/aftersales/{request_id}/photos", response_model=Request_,
             summary="Add the photos customer service asked for (back to applied)",
             responses={413: {"description": "The photos are larger than 6 × 10 MiB"}})
async def add_photos(request: Request, aftersales: AfterSales, request_id: Id,
                     photos: Photos, note: Annotated[Note, Form()] = "") -> Response:
    _refuse_too_large(request)
    header = support_pb2.AfterSaleUploadRequest(more_photos=support_pb2.AfterSalePhotosDraft(
        request_id=request_id, note=note))
    return await _send(aftersales.AddAfterSalePhotos, header, photos, 200)


@router.post("/aftersales/{request_id}/withdraw", response_model=Request_,
             summary="Withdraw my request (before the goods are on their way back)")
async def withdraw(aftersales: AfterSales, request_id: Id) -> Response:
    return answer(await aftersales.WithdrawAfterSale(
        support_pb2.AfterSaleIdRequest(request_id=request_id)))


@router.get("/aftersales", response_model=RequestList, summary="My requests, newest first")
async def list_mine(aftersales: AfterSales, page_size: PageSize = 20,
                    page_token: PageToken = "") -> Response:
    return answer(await aftersales.ListMyAfterSales(support_pb2.ListMyAfterSalesRequest(
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@router.get("/aftersales/{request_id}", response_model=Request_,
            summary="One of my requests, with its history")
async def get_mine(aftersales: AfterSales, request_id: Id) -> Response:
    return answer(await aftersales.GetMyAfterSale(
        support_pb2.AfterSaleIdRequest(request_id=request_id)))


# ------------------------------------------------------------------ customer service

DESK = [Depends(auth.staff(roles.ADMIN, roles.CS_AGENT))]
ADMIN = [Depends(auth.staff(roles.ADMIN))]


class NoteBody(BaseModel):
    note: Note = ""


class RequiredNote(BaseModel):
    note: Annotated[str, Field(min_length=1, max_length=500)]


class RefundLine(BaseModel):
    line_id: Id
    refund_fen: Fen


class PartialRefundBody(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    lines: Annotated[list[RefundLine], Field(min_length=1, max_length=MAX_LINES)]


IdList = Annotated[list[Id], Field(max_length=1000)]


class SettingsBody(BaseModel):
    no_reason_days: Annotated[int, Field(ge=1, le=90)] = 7
    quality_days: Annotated[int, Field(ge=1, le=365)] = 15
    intimate_category_ids: IdList = []
    intimate_product_ids: IdList = []
    final_sale_product_ids: IdList = []
    repair_enabled: bool = False
    repair_product_ids: IdList = []
    free_return_tiers: Annotated[list[Code], Field(max_length=20)] = []
    auto_approve_refund_before_shipping: bool = True


@staff_router.get("/aftersales", dependencies=DESK, response_model=RequestList,
                  summary="The desk: open requests (or one state), exclusive service first, "
                          "then the oldest; by reason, product, age")
async def desk_list(desk: AfterSaleDesk, state: State | None = None,
                    reason_code: Code = "", product_id: Id = "",
                    older_than_hours: Annotated[int, Query(ge=0, le=8784)] = 0,
                    page_size: PageSize = 20, page_token: PageToken = "") -> Response:
    return answer(await desk.ListAfterSales(support_pb2.ListAfterSalesRequest(
        state=state or "", reason_code=reason_code, product_id=product_id,
        older_than_hours=older_than_hours,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@staff_router.get("/aftersales/{request_id}", dependencies=DESK, response_model=Request_,
                  summary="A request with its lines, photos and history")
async def desk_get(desk: AfterSaleDesk, request_id: Id) -> Response:
    return answer(await desk.GetAfterSale(support_pb2.AfterSaleIdRequest(request_id=request_id)))


@staff_router.post("/aftersales/{request_id}/approve", dependencies=DESK, response_model=Request_,
                   summary="Approve (refund only: refunded at once; returns: she sends it back)")
async def desk_approve(desk: AfterSaleDesk, request_id: Id, body: NoteBody) -> Response:
    return answer(await desk.ApproveAfterSale(support_pb2.DecideAfterSaleRequest(
        request_id=request_id, note=body.note)))


@staff_router.post("/aftersales/{request_id}/refuse", dependencies=DESK, response_model=Request_,
                   summary="Refuse, with the reason she reads")
async def desk_refuse(desk: AfterSaleDesk, request_id: Id, body: RequiredNote) -> Response:
    return answer(await desk.RefuseAfterSale(support_pb2.DecideAfterSaleRequest(
        request_id=request_id, note=body.note)))


@staff_router.post("/aftersales/{request_id}/ask-photos", dependencies=DESK,
                   response_model=Request_,
                   summary="Ask her for more photos (the request goes back to her with the note)")
async def desk_ask_photos(desk: AfterSaleDesk, request_id: Id, body: RequiredNote) -> Response:
    return answer(await desk.AskForAfterSalePhotos(support_pb2.DecideAfterSaleRequest(
        request_id=request_id, note=body.note)))


@staff_router.post("/aftersales/{request_id}/partial-refund", dependencies=DESK,
                   response_model=Request_,
                   summary="Refund part (per line at most what she paid for those units), "
                           "with the reason")
async def desk_partial_refund(desk: AfterSaleDesk, request_id: Id,
                              body: PartialRefundBody) -> Response:
    return answer(await desk.RefundAfterSalePartially(support_pb2.PartialRefundRequest(
        request_id=request_id, reason=body.reason,
        lines=[support_pb2.PartialRefundLine(line_id=x.line_id, refund_fen=x.refund_fen)
               for x in body.lines])))


@staff_router.get("/aftersale-settings", dependencies=DESK,
                  response_model=model_of(support_pb2.AfterSaleSettings),
                  summary="The merchant's after-sales rules")
async def get_settings(desk: AfterSaleDesk) -> Response:
    return answer(await desk.GetAfterSaleSettings(support_pb2.GetAfterSaleSettingsRequest()))


@staff_router.put("/aftersale-settings", dependencies=ADMIN,
                  response_model=model_of(support_pb2.AfterSaleSettings),
                  summary="Edit the rules: windows, intimate categories/products, final sale, "
                          "repair, free return tiers, auto-approval")
async def put_settings(desk: AfterSaleDesk, body: SettingsBody) -> Response:
    return answer(await desk.UpdateAfterSaleSettings(support_pb2.AfterSaleSettings(
        **body.model_dump())))
