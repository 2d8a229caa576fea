"""After-sales returns on logistics' side: the shopper books the parcel of her own request back
(a pick-up by the carrier, or her own carrier and tracking number), and warehouse staff list the
returns expected and record what they received. Logistics checks the rules (her own request
only: another's is 404); the gateway checks shapes."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from mall.common.v1 import common_pb2
from mall.logistics.v1 import logistics_pb2
from pydantic import BaseModel, Field

from servicekit import roles

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..schemas import Code, Id, PageTokenText, Timestamp
from ..services import Logistics

router = APIRouter(prefix="/v1/me/aftersales", tags=["aftersales-returns"],
                   dependencies=[Depends(auth.customer)])
staff_router = APIRouter(prefix="/v1/admin/returns", tags=["admin-returns"],
                         dependencies=[Depends(auth.staff(roles.WAREHOUSE, roles.ADMIN))])

MAX_UNITS = 1_000_000
Waybill = Annotated[str, Field(min_length=6, max_length=40, pattern=r"^[A-Za-z0-9-]+$",
                               examples=["SF1234567890123"])]


class ReturnBooking(BaseModel):
    """`pickup`: the carrier collects at the order's address (SF's return order); `own`: she sent
    it herself and gives the carrier and the tracking number."""
    mode: Literal["pickup", "own"]
    carrier: Code = Field("", description="sf or zto; pickup: empty means sf", examples=["sf"])
    waybill_no: Waybill | None = Field(None, description="own: the tracking number")
    pickup_at: Timestamp = Field("", description="pickup: RFC 3339, when the courier may come")


class ReceivedLine(BaseModel):
    line_id: Id
    quantity: int = Field(strict=True, ge=0, le=MAX_UNITS, description="units received")


class InspectionInput(BaseModel):
    lines: list[ReceivedLine] = Field(min_length=1, max_length=100)
    seal_intact: bool
    condition: Literal["as_new", "used", "damaged"]
    accepted: bool
    note: str = Field("", max_length=500, description="required when refused")


@router.post("/{request_id}/return", summary="Send my after-sale parcel back: a pick-up or my own waybill",
             response_model=model_of(logistics_pb2.ReturnExpectation))
async def book_return(logistics: Logistics, request_id: Id, body: ReturnBooking) -> Response:
    return answer(await logistics.BookReturn(logistics_pb2.BookReturnRequest(
        request_id=request_id, own_waybill=body.mode == "own", carrier=body.carrier,
        waybill_no=body.waybill_no or "", pickup_at=body.pickup_at)))


@staff_router.get("", summary="Returns expected, booked or received, newest first",
                  response_model=model_of(logistics_pb2.ListReturnsResponse))
async def list_returns(logistics: Logistics,
                       status: Literal["expected", "booked", "inspected", "closed"] | None = None,
                       warehouse_code: Id = "", request_id: Id = "",
                       page_size: int = Query(20, ge=1, le=100),
                       page_token: PageTokenText = "") -> Response:
    return answer(await logistics.ListReturns(logistics_pb2.ListReturnsRequest(
        status=status or "", warehouse_code=warehouse_code, request_id=request_id,
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token))))


@staff_router.post("/{request_id}/inspection",
                   summary="Record what came back: sellable (as new, seal intact) or quarantine",
                   response_model=model_of(logistics_pb2.ReturnExpectation))
async def inspect_return(logistics: Logistics, request_id: Id, body: InspectionInput) -> Response:
    return answer(await logistics.InspectReturn(logistics_pb2.InspectReturnRequest(
        request_id=request_id, seal_intact=body.seal_intact, condition=body.condition,
        accepted=body.accepted, note=body.note,
        lines=[logistics_pb2.InspectedLine(line_id=x.line_id, quantity=x.quantity)
               for x in body.lines])))
