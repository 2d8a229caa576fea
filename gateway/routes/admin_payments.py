"""Staff and payments (/v1/admin/orders/{id}/payment, /refunds): what was paid, refunds in full
or per line through the provider, and asking the provider now. Payment enforces the money rules
(never more than was paid, one refund per request id); the gateway checks shapes and roles."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from mall.payment.v1 import payment_pb2
from pydantic import BaseModel, Field

from servicekit import roles

from .. import auth
from ..convert import answer
from ..proto_models import model_of
from ..schemas import JSON_SAFE_MAX, Id, PositiveFen, Quantity
from ..services import Payments

router = APIRouter(prefix="/v1/admin/orders", tags=["admin-payments"],
                   dependencies=[Depends(auth.staff(*roles.ORDER_DESK))])


class RefundLine(BaseModel):
    line_id: str = Field(min_length=1, max_length=64)
    sku_id: str = Field("", max_length=64)
    quantity: Quantity = 0
    amount_fen: PositiveFen


class RefundInput(BaseModel):
    refund_request_id: str = Field(min_length=1, max_length=64,
                                   description="your id for this refund: a retry sends the same one")
    amount_fen: int = Field(0, ge=0, le=JSON_SAFE_MAX, description="the whole refund; 0 with lines: their sum")
    lines: list[RefundLine] = Field(default_factory=list, max_length=200)
    reason: str = Field("", max_length=200)


@router.get("/{order_id}/payment", summary="The order's latest payment",
            response_model=model_of(payment_pb2.PaymentIntent))
async def get_order_payment(payments: Payments, order_id: Id) -> Response:
    return answer(await payments.GetPaymentIntent(payment_pb2.GetPaymentIntentRequest(order_id=order_id)))


@router.get("/{order_id}/refunds", summary="The order's refunds, newest first",
            response_model=model_of(payment_pb2.ListRefundsResponse))
async def list_order_refunds(payments: Payments, order_id: Id) -> Response:
    return answer(await payments.ListRefunds(payment_pb2.ListRefundsRequest(order_id=order_id)))


@router.post("/{order_id}/refunds", status_code=201,
             summary="Refund in full or per line through the provider (idempotent by refund_request_id)",
             response_model=model_of(payment_pb2.Refund))
async def refund_order(payments: Payments, order_id: Id, body: RefundInput) -> Response:
    return answer(await payments.RefundPayment(payment_pb2.RefundPaymentRequest(
        order_id=order_id, refund_request_id=body.refund_request_id, amount_fen=body.amount_fen,
        reason=body.reason, lines=[payment_pb2.RefundLine(**line.model_dump()) for line in body.lines])), 201)


@router.post("/{order_id}/payment/reconcile", summary="Ask the provider now about the open payment",
             response_model=model_of(payment_pb2.PaymentIntent))
async def reconcile_payment(payments: Payments, order_id: Id) -> Response:
    return answer(await payments.ReconcilePayment(payment_pb2.ReconcilePaymentRequest(order_id=order_id)))
