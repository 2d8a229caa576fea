"""Paying (/v1/orders/{id}/payments) and the providers' notifications (/v1/payments/notify/...).

The amount is never the client's: payment takes it from the order, and a body carrying one has
it ignored. A notification's raw body and headers go to payment unchanged (payment verifies the
provider's signature over exactly those bytes) and the provider gets payment's answer unchanged.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from mall.payment.v1 import payment_pb2
from pydantic import AliasChoices, BaseModel, Field

from .. import auth
from ..convert import answer, to_json
from ..proto_models import model_of
from ..schemas import IDEMPOTENT, INT64_MAX, Id
from ..services import Payments

router = APIRouter(tags=["payments"])
MAX_NOTIFICATION_BYTES = 64 * 1024  # WeChat's and Alipay's notifications are a few kilobytes


class PaymentChoice(BaseModel):
    """Anything else in the body (an amount, say) is ignored: the order decides the amount."""
    method: str = Field(max_length=32, description="wechat_jsapi | alipay | card")
    # Alipay's own names (hb_fq_num, hb_fq_seller_percent) are accepted too: a client that
    # used them must not have them dropped as unknown fields and pay in one go unawares.
    installments: int = Field(0, ge=0, le=36, validation_alias=AliasChoices("installments", "hb_fq_num"),
                              description="Alipay Huabei: 3, 6 or 12 (0: pay at once); also hb_fq_num")
    seller_percent: int = Field(0, ge=0, le=100,
                                validation_alias=AliasChoices("seller_percent", "hb_fq_seller_percent"),
                                description="Huabei fee borne by the shop: 0 or 100; also hb_fq_seller_percent")
    payer_openid: str = Field("", max_length=128, description="WeChat JSAPI: the shopper's openid")


def request_payment_parameters(params: payment_pb2.WechatJsapiParams) -> dict[str, str]:
    """wx.requestPayment's own argument names, so the mini-program passes them on as they are."""
    return {"appId": params.app_id, "timeStamp": params.time_stamp, "nonceStr": params.nonce_str,
            "package": params.package, "signType": params.sign_type, "paySign": params.pay_sign}


class WxRequestPayment(BaseModel):
    """wx.requestPayment's arguments, under its own names."""
    appId: str
    timeStamp: str
    nonceStr: str
    package: str
    signType: str
    paySign: str


class PaymentStarted(BaseModel):
    """The payment, and what the client needs to hand to the provider's SDK for its method."""
    intent: model_of(payment_pb2.PaymentIntent)  # type: ignore[valid-type]
    wx_request_payment: WxRequestPayment | None = Field(None, description="wechat_jsapi")
    alipay_order_string: str | None = Field(None, description="alipay")
    card_client_secret: str | None = Field(None, description="card")


@router.post("/v1/orders/{order_id}/payments", status_code=201,
             dependencies=[Depends(auth.customer), IDEMPOTENT], response_model=PaymentStarted,
             summary="Pay what my order has due now: the whole amount, or a pre-sale's deposit, then its "
                     "balance in its window (send an Idempotency-Key: a retry answers the same payment)")
async def create_payment(payments: Payments, order_id: Id, choice: PaymentChoice) -> Response:
    reply = await payments.CreatePayment(payment_pb2.CreatePaymentRequest(
        order_id=order_id, method=choice.method, installments=choice.installments,
        seller_percent=choice.seller_percent, payer_openid=choice.payer_openid))
    started: dict[str, Any] = {"intent": to_json(reply.intent)}
    if reply.HasField("wechat"):
        started["wx_request_payment"] = request_payment_parameters(reply.wechat)
    if reply.alipay_order_string:
        started["alipay_order_string"] = reply.alipay_order_string
    if reply.card_client_secret:
        started["card_client_secret"] = reply.card_client_secret
    return answer(started, 201)


@router.get("/v1/orders/{order_id}/payment", dependencies=[Depends(auth.customer)],
            summary="My order's latest payment", response_model=model_of(payment_pb2.PaymentIntent))
async def get_my_payment(payments: Payments, order_id: Id) -> Response:
    return answer(await payments.GetPaymentIntent(
        payment_pb2.GetPaymentIntentRequest(order_id=order_id)))


@router.get("/v1/payment-methods", summary="The ways to pay, with Huabei installments priced for an amount",
            response_model=model_of(payment_pb2.ListPaymentMethodsResponse))
async def list_payment_methods(payments: Payments, amount_fen: int = Query(0, ge=0, le=INT64_MAX)) -> Response:
    return answer(await payments.ListPaymentMethods(
        payment_pb2.ListPaymentMethodsRequest(amount_fen=amount_fen)))


@router.post("/v1/payments/notify/{provider}", tags=["payment-notify"], response_class=Response,
             summary="A payment provider's signed notification (wechatpay, alipay, card); the "
                     "answer is payment's, in the provider's own format")
async def handle_payment_notification(payments: Payments, provider: Id, request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_NOTIFICATION_BYTES:
        return Response(status_code=413)
    reply = await payments.HandleNotification(payment_pb2.HandleNotificationRequest(
        provider=provider, raw_body=body, headers={k.lower(): v for k, v in request.headers.items()}))
    return Response(content=reply.body, status_code=reply.http_status,
                    media_type=reply.content_type or "application/json")
