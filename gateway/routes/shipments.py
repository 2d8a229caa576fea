"""The shopper's shipments (/v1/shipments): their own only (logistics scopes them to the caller);
someone else's shipment is 404, like one that does not exist. Discreet parcels show masked
product names here too."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from mall.common.v1 import common_pb2
from mall.logistics.v1 import logistics_pb2

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..schemas import Id, PageTokenText
from ..services import Logistics

router = APIRouter(prefix="/v1/shipments", tags=["shipments"],
                   dependencies=[Depends(auth.customer)])


@router.get("", summary="My shipments, newest first (optionally of one order)",
            response_model=model_of(logistics_pb2.ListShipmentsResponse))
async def list_my_shipments(logistics: Logistics, order_id: str = Query("", max_length=64),
                            page_size: int = Query(20, ge=1, le=100), page_token: PageTokenText = "") -> Response:
    return answer(await logistics.ListShipments(logistics_pb2.ListShipmentsRequest(
        order_id=order_id, page=common_pb2.PageRequest(page_size=page_size,
                                                       page_token=page_token))))


@router.get("/{shipment_id}", summary="One of my shipments with its tracking timeline",
            response_model=model_of(logistics_pb2.Shipment))
async def get_my_shipment(logistics: Logistics, shipment_id: Id) -> Response:
    return answer(await logistics.GetShipment(logistics_pb2.GetShipmentRequest(shipment_id=shipment_id)))
