"""Carriers' tracking pushes (/v1/logistics/notify/<carrier>): the raw body and headers are
handed to logistics unchanged, which checks the carrier's signature and timestamp and says what
to answer in the carrier's own format. No token: the signature is the authentication."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response
from mall.logistics.v1 import logistics_pb2

from ..schemas import Id
from ..services import Logistics

router = APIRouter(prefix="/v1/logistics/notify", tags=["carrier-notify"])

MAX_BODY_BYTES = 1 << 20  # a route push is a few kilobytes


# The carrier's own answer format, not ours: response_model=None.
@router.post("/{carrier}", response_class=Response, response_model=None,
             summary="A carrier's signed tracking push (SF Fengqiao route push); the answer is "
                     "logistics', in the carrier's own format")
async def handle_carrier_notification(carrier: Id, request: Request, logistics: Logistics) -> Response:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return Response(status_code=413)
    reply = await logistics.HandleCarrierNotification(logistics_pb2.CarrierNotification(
        carrier=carrier, body=body, headers={k.lower(): v for k, v in request.headers.items()}))
    return Response(content=reply.body, status_code=reply.http_status,
                    media_type=reply.content_type or "application/json")
