"""The merchant's order desk (/v1/admin/orders): staff admin, operator or cs_agent."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from mall.order.v1 import order_pb2
from pydantic import BaseModel, Field

from servicekit import roles

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..schemas import INT64_MAX, MAX_ID, Id, PageTokenText, Word
from ..services import FILE_DEADLINE, OrderDesk
from ..streams import file_response

router = APIRouter(prefix="/v1/admin/orders", tags=["admin-orders"],
                   dependencies=[Depends(auth.staff(*roles.ORDER_DESK))])


class StaffCancel(BaseModel):
    reason: str = Field(min_length=1, max_length=200, description="the shopper is told")


class NewRemark(BaseModel):
    text: str = Field(min_length=1, max_length=1000)


def order_filter(status: list[Word] = Query([], max_length=20, description="any of pending_payment, paid, "
                                           "partly_shipped, shipped, delivered, completed, "
                                           "cancelled, refunded"),
                 created_from: str = Query("", max_length=40, description="RFC 3339, inclusive"),
                 created_to: str = Query("", max_length=40, description="RFC 3339, exclusive"),
                 member_id: Id = "", channel: Id = "", product_id: Id = "", sku_id: Id = "",
                 category_id: Id = "", order_no: Id = "",
                 import_batch_id: str = Query("", max_length=MAX_ID, description="the import job's id: the orders "
                                              "one import brought in"),
                 min_payable_fen: int = Query(0, ge=0, le=INT64_MAX),
                 max_payable_fen: int = Query(0, ge=0, le=INT64_MAX),
                 ) -> order_pb2.OrderFilter:
    return order_pb2.OrderFilter(
        statuses=status, created_from=created_from, created_to=created_to, member_id=member_id,
        channel=channel, product_id=product_id, sku_id=sku_id, category_id=category_id,
        order_no=order_no, import_batch_id=import_batch_id, min_payable_fen=min_payable_fen,
        max_payable_fen=max_payable_fen)


@router.get("", summary="Orders by filter and sort, cursor-paged",
            response_model=model_of(order_pb2.ListOrdersResponse))
async def list_orders(order_desk: OrderDesk, filters: order_pb2.OrderFilter = Depends(order_filter),
                      sort: str = Query("created_desc", max_length=32, description="created_desc | created_asc "
                                                                    "| payable_desc | payable_asc"),
                      page_size: int = Query(20, ge=1, le=100), page_token: PageTokenText = "") -> Response:
    req = order_pb2.ListOrdersRequest(filter=filters, sort=sort,
                                      page={"page_size": page_size, "page_token": page_token})
    return answer(await order_desk.ListOrders(req))


@router.get("/export", summary="Every matching order as CSV or Excel, streamed",
            response_class=StreamingResponse)
async def export_orders(order_desk: OrderDesk, filters: order_pb2.OrderFilter = Depends(order_filter),
                        format: str = Query("csv", max_length=8, description="csv | xlsx")):
    stream = order_desk.ExportOrders(order_pb2.ExportOrdersRequest(filter=filters, format=format),
                                     timeout=FILE_DEADLINE)
    return await file_response(stream)


@router.get("/{order_id}", summary="One order with its timeline, shipments and address",
            response_model=model_of(order_pb2.OrderView))
async def get_order(order_desk: OrderDesk, order_id: Id) -> Response:
    return answer(await order_desk.GetOrder(order_pb2.GetOrderRequest(order_id=order_id)))


@router.post("/{order_id}/cancel", summary="Cancel before anything shipped (a paid order is refunded)",
             response_model=model_of(order_pb2.OrderView))
async def cancel_order(order_desk: OrderDesk, order_id: Id, body: StaffCancel) -> Response:
    return answer(await order_desk.CancelOrder(order_pb2.CancelOrderRequest(order_id=order_id,
                                                                 reason=body.reason)))


@router.get("/{order_id}/remarks", summary="Staff remarks on an order",
            response_model=model_of(order_pb2.ListRemarksResponse))
async def list_remarks(order_desk: OrderDesk, order_id: Id) -> Response:
    return answer(await order_desk.ListRemarks(order_pb2.ListRemarksRequest(order_id=order_id)))


@router.post("/{order_id}/remarks", status_code=201, summary="Add a staff remark",
             response_model=model_of(order_pb2.Remark))
async def add_remark(order_desk: OrderDesk, order_id: Id, body: NewRemark) -> Response:
    return answer(await order_desk.AddRemark(
        order_pb2.AddRemarkRequest(order_id=order_id, text=body.text)), 201)
