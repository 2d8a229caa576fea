"""The shopper's cart, checkout and orders (/v1/cart, /v1/checkout, /v1/orders). Every route acts
for the signed-in shopper; another shopper's order is 404, like one that does not exist."""
from __future__ import annotations

import grpc
from fastapi import APIRouter, Depends, Query, Response
from mall.order.v1 import order_pb2
from pydantic import BaseModel, Field, create_model

from .. import auth
from ..convert import answer, from_json, to_json
from ..proto_models import model_of
from ..schemas import IDEMPOTENT, INT64_MAX, Address, Id, PageTokenText, Points
from ..services import Cart, Orders

router = APIRouter(tags=["orders"], dependencies=[Depends(auth.customer)])


class CartAdd(BaseModel):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=99)


class CartQuantity(BaseModel):
    quantity: int = Field(ge=1, le=99)


class Line(BaseModel):
    sku_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=99)


class Checkout(BaseModel):
    lines: list[Line] = Field(default_factory=list, max_length=50,
                              description="empty: every available line of the cart")
    shipping_address: Address | None = None
    coupon_ids: list[Id] = Field(default_factory=list, max_length=5)
    points_to_use: Points = 0
    discreet_packaging: bool = Field(default=False, description="plain package, neutral sender, "
                                                                "product names masked")
    note: str = Field(default="", max_length=200)
    channel: str = Field(default="miniprogram", max_length=32, description="miniprogram | h5")
    expected_total_fen: int = Field(default=0, ge=0, le=INT64_MAX, description="the total the shopper saw; "
                                                                  "a different total now is 409")


class Cancel(BaseModel):
    reason: str = Field(default="", max_length=200)


CartWithQuote = create_model(
    "CartWithQuote", __base__=model_of(order_pb2.Cart), __module__=__name__,
    quote=(model_of(order_pb2.CheckoutPreview) | None,  # type: ignore[arg-type]
           Field(description="null when nothing is available or it cannot be priced now")),
    quote_unavailable=(str, Field(None, description="why it could not be priced now")))


@router.get("/v1/cart", summary="My cart at today's prices and stock, with a quote of its "
                                 "available lines (null when it cannot be priced now)",
            response_model=CartWithQuote)
async def get_cart(cart_service: Cart, orders: Orders) -> Response:
    cart = to_json(await cart_service.GetCart(order_pb2.GetCartRequest()))
    cart["quote"] = None
    if any(line["available"] for line in cart["lines"]):
        try:  # the cart is still useful when promotion cannot price it this moment
            cart["quote"] = to_json(await orders.PreviewCheckout(order_pb2.CheckoutRequest()))
        except grpc.aio.AioRpcError as err:
            cart["quote_unavailable"] = err.details() or err.code().name
    return answer(cart)


@router.post("/v1/cart/items", summary="Add to my cart (send an Idempotency-Key to retry safely)",
             dependencies=[IDEMPOTENT],
             response_model=model_of(order_pb2.Cart))
async def add_to_cart(cart: Cart, body: CartAdd) -> Response:
    return answer(await cart.AddCartItem(order_pb2.AddCartItemRequest(**body.model_dump())))


@router.put("/v1/cart/items/{sku_id}", summary="Set the quantity of a SKU in my cart",
            response_model=model_of(order_pb2.Cart))
async def set_cart_quantity(cart: Cart, sku_id: Id, body: CartQuantity) -> Response:
    return answer(await cart.UpdateCartItem(
        order_pb2.UpdateCartItemRequest(sku_id=sku_id, quantity=body.quantity)))


@router.delete("/v1/cart/items/{sku_id}", summary="Remove a SKU from my cart",
               response_model=model_of(order_pb2.Cart))
async def remove_from_cart(cart: Cart, sku_id: Id) -> Response:
    return answer(await cart.RemoveCartItem(order_pb2.RemoveCartItemRequest(sku_id=sku_id)))


@router.post("/v1/checkout/preview", summary="Price a checkout now, explained fen by fen",
             response_model=model_of(order_pb2.CheckoutPreview))
async def preview_checkout(orders: Orders, body: Checkout) -> Response:
    return answer(await orders.PreviewCheckout(
        from_json(body.model_dump(exclude_none=True), order_pb2.CheckoutRequest)))


@router.post("/v1/orders", status_code=201,
             summary="Place the order (send an Idempotency-Key: a retry returns the first order)",
             dependencies=[IDEMPOTENT],
             response_model=model_of(order_pb2.OrderView))
async def place_order(orders: Orders, body: Checkout) -> Response:
    return answer(await orders.PlaceOrder(
        from_json(body.model_dump(exclude_none=True), order_pb2.CheckoutRequest)), 201)


@router.get("/v1/orders", summary="My orders by tab, newest first",
            response_model=model_of(order_pb2.ListOrdersResponse))
async def list_my_orders(orders: Orders,
                         tab: str = Query("", max_length=32, description="to_pay 待付款 | to_ship 待发货 | "
                                          "to_receive 待收货 | to_review 待评价 | refunds 退款/售后"),
                         page_size: int = Query(20, ge=1, le=100), page_token: PageTokenText = "") -> Response:
    return answer(await orders.ListMyOrders(order_pb2.ListMyOrdersRequest(
        tab=tab, page={"page_size": page_size, "page_token": page_token})))


@router.get("/v1/orders/{order_id}", summary="One of my orders, with its timeline and shipments",
            response_model=model_of(order_pb2.OrderView))
async def get_my_order(orders: Orders, order_id: Id) -> Response:
    return answer(await orders.GetOrder(order_pb2.GetOrderRequest(order_id=order_id)))


@router.post("/v1/orders/{order_id}/cancel", summary="Cancel my unpaid order",
             response_model=model_of(order_pb2.OrderView))
async def cancel_my_order(orders: Orders, order_id: Id, body: Cancel) -> Response:
    return answer(await orders.CancelOrder(
        order_pb2.CancelOrderRequest(order_id=order_id, reason=body.reason)))


@router.post("/v1/orders/{order_id}/confirm-receipt", summary="The parcel arrived",
             response_model=model_of(order_pb2.OrderView))
async def confirm_receipt(orders: Orders, order_id: Id) -> Response:
    return answer(await orders.ConfirmReceipt(order_pb2.ConfirmReceiptRequest(order_id=order_id)))
