"""gRPC: the cart of the calling member."""
from __future__ import annotations

import grpc
from mall.order.v1 import order_pb2, order_pb2_grpc

from servicekit import context, idempotency
from servicekit.context import current
from servicekit.runtime import Runtime

from . import cart


def caller_member_id() -> str:
    return context.require_user("the cart").user_id


def cart_to_proto(view: cart.CartView) -> order_pb2.Cart:
    return order_pb2.Cart(
        lines=[order_pb2.CartLine(
            sku_id=line.sku_id, product_id=line.product_id, title=line.title,
            attributes=line.attributes, unit_price_fen=line.unit_price_fen,
            quantity=line.quantity, line_total_fen=line.line_total_fen,
            available=line.available, unavailable_reason=line.unavailable_reason)
            for line in view.lines],
        subtotal_fen=view.subtotal_fen, item_count=view.item_count,
        unavailable_line_count=view.unavailable_line_count)


class CartService(order_pb2_grpc.CartServiceServicer):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def GetCart(self, request, context):
        member_id = caller_member_id()
        with self.runtime.transaction() as session:
            return cart_to_proto(cart.get_cart(session, member_id))

    def AddCartItem(self, request, context):
        member_id = caller_member_id()
        with self.runtime.transaction() as session:
            return idempotency.run_once(
                session, scope=f"cart.add:{member_id}", key=current().idempotency_key,
                request={"sku_id": request.sku_id, "quantity": request.quantity},
                response_type=order_pb2.Cart,
                work=lambda: cart_to_proto(cart.add_item(session, member_id, request.sku_id,
                                                         request.quantity)))

    def UpdateCartItem(self, request, context):
        member_id = caller_member_id()
        with self.runtime.transaction() as session:
            return cart_to_proto(cart.update_item(session, member_id, request.sku_id,
                                                  request.quantity))

    def RemoveCartItem(self, request, context):
        member_id = caller_member_id()
        with self.runtime.transaction() as session:
            return cart_to_proto(cart.remove_item(session, member_id, request.sku_id))


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    order_pb2_grpc.add_CartServiceServicer_to_server(CartService(runtime), server)
    return [order_pb2.DESCRIPTOR.services_by_name["CartService"].full_name]
