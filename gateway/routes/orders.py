"""The shopper's cart, checkout and orders (/v1/cart, /v1/checkout, /v1/orders). Every route acts
for the signed-in shopper; another shopper's order is 404, like one that does not exist."""
from __future__ import annotations

import grpc
from fastapi import APIRouter, Depends, Query, Request
from mall.order.v1 import order_pb2, order_pb2_grpc
from pydantic import BaseModel, Field

from .. import auth
from ..convert import from_json, to_json

router = APIRouter(tags=["orders"], dependencies=[Depends(auth.customer)])


class CartAdd(BaseModel):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=99)


class CartQuantity(BaseModel):
    quantity: int = Field(ge=1, le=99)


class Address(BaseModel):
    recipient: str = Field(max_length=32)
    phone: str = Field(max_length=20, description="mainland mobile; +86, spaces, dashes accepted")
    province: str = Field(max_length=16, description="e.g. 广东省")
    city: str = Field(max_length=32)
    district: str = Field(default="", max_length=32)
    detail: str = Field(max_length=120)
    postal_code: str = Field(default="", max_length=6)


class Line(BaseModel):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=99)


class Checkout(BaseModel):
    lines: list[Line] = Field(default_factory=list, max_length=50,
                              description="empty: every available line of the cart")
    shipping_address: Address | None = None
    coupon_ids: list[str] = Field(default_factory=list, max_length=5)
    points_to_use: int = Field(default=0, ge=0)
    discreet_packaging: bool = Field(default=False, description="plain package, neutral sender, "
                                                                "product names masked")
    note: str = Field(default="", max_length=200)
    channel: str = Field(default="miniprogram", description="miniprogram | h5")
    expected_total_fen: int = Field(default=0, ge=0, description="the total the shopper saw; "
                                                                  "a different total now is 409")


class Cancel(BaseModel):
    reason: str = Field(default="", max_length=200)


def _cart(request: Request) -> order_pb2_grpc.CartServiceStub:
    return request.app.state.clients.stub("order", order_pb2_grpc.CartServiceStub)


def _orders(request: Request) -> order_pb2_grpc.OrderServiceStub:
    return request.app.state.clients.stub("order", order_pb2_grpc.OrderServiceStub)


async def _call(request: Request, method, message) -> dict:
    return to_json(await request.app.state.clients.call(method, message))


@router.get("/v1/cart", summary="My cart at today's prices and stock, with a quote of its "
                                 "available lines (null when it cannot be priced now)")
async def get_cart(request: Request) -> dict:
    cart = await _call(request, _cart(request).GetCart, order_pb2.GetCartRequest())
    cart["quote"] = None
    if any(line["available"] for line in cart["lines"]):
        try:  # the cart is still useful when promotion cannot price it this moment
            cart["quote"] = await _call(request, _orders(request).PreviewCheckout,
                                        order_pb2.CheckoutRequest())
        except grpc.aio.AioRpcError as err:
            cart["quote_unavailable"] = err.details() or err.code().name
    return cart


@router.post("/v1/cart/items", summary="Add to my cart (send an Idempotency-Key to retry safely)")
async def add_to_cart(body: CartAdd, request: Request) -> dict:
    return await _call(request, _cart(request).AddCartItem,
                       order_pb2.AddCartItemRequest(**body.model_dump()))


@router.put("/v1/cart/items/{sku_id}", summary="Set the quantity of a SKU in my cart")
async def set_cart_quantity(sku_id: str, body: CartQuantity, request: Request) -> dict:
    return await _call(request, _cart(request).UpdateCartItem,
                       order_pb2.UpdateCartItemRequest(sku_id=sku_id, quantity=body.quantity))


@router.delete("/v1/cart/items/{sku_id}", summary="Remove a SKU from my cart")
async def remove_from_cart(sku_id: str, request: Request) -> dict:
    return await _call(request, _cart(request).RemoveCartItem,
                       order_pb2.RemoveCartItemRequest(sku_id=sku_id))


@router.post("/v1/checkout/preview", summary="Price a checkout now, explained fen by fen")
async def preview(body: Checkout, request: Request) -> dict:
    return await _call(request, _orders(request).PreviewCheckout,
                       from_json(body.model_dump(exclude_none=True), order_pb2.CheckoutRequest))


@router.post("/v1/orders", status_code=201,
             summary="Place the order (send an Idempotency-Key: a retry returns the first order)")
async def place_order(body: Checkout, request: Request) -> dict:
    return await _call(request, _orders(request).PlaceOrder,
                       from_json(body.model_dump(exclude_none=True), order_pb2.CheckoutRequest))


@router.get("/v1/orders", summary="My orders by tab, newest first")
async def my_orders(request: Request,
                    tab: str = Query("", description="to_pay 待付款 | to_ship 待发货 | to_receive "
                                                     "待收货 | to_review 待评价 | refunds 退款/售后"),
                    page_size: int = Query(20, ge=1, le=100), page_token: str = "") -> dict:
    return await _call(request, _orders(request).ListMyOrders, order_pb2.ListMyOrdersRequest(
        tab=tab, page={"page_size": page_size, "page_token": page_token}))


@router.get("/v1/orders/{order_id}", summary="One of my orders, with its timeline and shipments")
async def my_order(order_id: str, request: Request) -> dict:
    return await _call(request, _orders(request).GetOrder,
                       order_pb2.GetOrderRequest(order_id=order_id))


@router.post("/v1/orders/{order_id}/cancel", summary="Cancel my unpaid order")
async def cancel(order_id: str, body: Cancel, request: Request) -> dict:
    return await _call(request, _orders(request).CancelOrder,
                       order_pb2.CancelOrderRequest(order_id=order_id, reason=body.reason))


@router.post("/v1/orders/{order_id}/confirm-receipt", summary="The parcel arrived")
async def confirm_receipt(order_id: str, request: Request) -> dict:
    return await _call(request, _orders(request).ConfirmReceipt,
                       order_pb2.ConfirmReceiptRequest(order_id=order_id))
