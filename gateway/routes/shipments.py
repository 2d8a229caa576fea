"""The shopper's shipments (/v1/shipments): their own only (logistics scopes them to the caller);
someone else's shipment is 404, like one that does not exist. Discreet parcels show masked
product names here too."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from mall.common.v1 import common_pb2
from mall.logistics.v1 import logistics_pb2, logistics_pb2_grpc

from .. import auth
from ..convert import to_json

router = APIRouter(prefix="/v1/shipments", tags=["shipments"],
                   dependencies=[Depends(auth.customer)])


async def _call(request: Request, method: str, message) -> dict:
    stub = request.app.state.clients.stub("logistics", logistics_pb2_grpc.LogisticsServiceStub)
    return to_json(await request.app.state.clients.call(getattr(stub, method), message))


@router.get("", summary="My shipments, newest first (optionally of one order)")
async def my_shipments(request: Request, order_id: str = Query("", max_length=64),
                       page_size: int = Query(20, ge=1, le=100), page_token: str = "") -> dict:
    return await _call(request, "ListShipments", logistics_pb2.ListShipmentsRequest(
        order_id=order_id, page=common_pb2.PageRequest(page_size=page_size,
                                                       page_token=page_token)))


@router.get("/{shipment_id}", summary="One of my shipments with its tracking timeline")
async def my_shipment(shipment_id: str, request: Request) -> dict:
    return await _call(request, "GetShipment",
                       logistics_pb2.GetShipmentRequest(shipment_id=shipment_id))
