"""gRPC: the calling member's cart and orders."""
from __future__ import annotations

import grpc
from mall.order.v1 import order_pb2, order_pb2_grpc

from servicekit import context, idempotency, roles
from servicekit.context import current
from servicekit.errors import InvalidArgument
from servicekit.runtime import Runtime

from . import cart, desk, erasure, gifts, orders, views
from .checkout import Checkout, Downstream, tier_rank


def caller_member_id() -> str:
    return context_member("the cart")


def cart_to_proto(view: cart.CartView) -> order_pb2.Cart:
    return order_pb2.Cart(
        lines=[order_pb2.CartLine(
            sku_id=line.sku_id, product_id=line.product_id, title=line.title,
            attributes=line.attributes, unit_price_fen=line.unit_price_fen,
            quantity=line.quantity, line_total_fen=line.line_total_fen,
            available=line.available, unavailable_reason=line.unavailable_reason,
            stock_level=line.stock_level)
            for line in view.lines],
        subtotal_fen=view.subtotal_fen, item_count=view.item_count,
        unavailable_line_count=view.unavailable_line_count)


class CartService(order_pb2_grpc.CartServiceServicer):
    def __init__(self, runtime: Runtime, downstream: Downstream | None = None):
        self.runtime = runtime
        self.downstream = downstream or Downstream()

    def _rank_of(self, member_id: str):
        """Her tier rank, asked of member only for a product still on early access."""
        def rank() -> int | None:
            return tier_rank(self.downstream, member_id)
        return rank

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
                                                         request.quantity,
                                                         self._rank_of(member_id))))

    def UpdateCartItem(self, request, context):
        member_id = caller_member_id()
        with self.runtime.transaction() as session:
            return cart_to_proto(cart.update_item(session, member_id, request.sku_id,
                                                  request.quantity, self._rank_of(member_id)))

    def RemoveCartItem(self, request, context):
        member_id = caller_member_id()
        with self.runtime.transaction() as session:
            return cart_to_proto(cart.remove_item(session, member_id, request.sku_id))


class OrderService(order_pb2_grpc.OrderServiceServicer):
    def __init__(self, runtime: Runtime, checkout: Checkout | None = None):
        self.runtime = runtime
        self.checkout = checkout or Checkout(runtime)

    def PreviewCheckout(self, request, context):
        member_id = context_member("checking out")
        return views.preview_view(self.checkout.preview(member_id, request))

    def PlaceOrder(self, request, context):
        member_id = context_member("placing an order")
        order = self.checkout.place(member_id, request, current().idempotency_key)
        with self.runtime.transaction() as session:
            return views.order_view(session, views.members_order(session, member_id, order.id),
                                    detail=True)

    def GetOrder(self, request, context):
        member_id = context_member("your orders")
        with self.runtime.transaction() as session:
            return views.order_view(session, views.members_order(session, member_id,
                                                                 request.order_id), detail=True)

    def ListMyOrders(self, request, context):
        member_id = context_member("your orders")
        with self.runtime.transaction() as session:
            return views.list_members_orders(session, member_id, request.tab, request.page)

    def CancelOrder(self, request, context):
        member_id = context_member("cancelling an order")
        with self.runtime.transaction() as session:
            order = views.members_order(session, member_id, request.order_id, lock=True)
            orders.cancel(session, self.runtime, order, actor=f"member:{member_id}",
                          reason=(request.reason or "cancelled by the shopper")[:200])
            return views.order_view(session, order, detail=True)

    def ConfirmReceipt(self, request, context):
        member_id = context_member("confirming receipt")
        with self.runtime.transaction() as session:
            order = views.members_order(session, member_id, request.order_id, lock=True)
            orders.confirm_receipt(session, self.runtime, order, member_id)
            return views.order_view(session, order, detail=True)

    def GetPayable(self, request, context):
        member_id = context_member("paying an order")
        with self.runtime.transaction() as session:
            return views.payable(session, member_id, request.order_id)

    def ExportMemberData(self, request, context):
        member_id = context_member_or_admin(request.member_id, "exporting a member's orders")
        with self.runtime.transaction() as session:
            return erasure.export(session, member_id,
                                  cart_to_proto(cart.get_cart(session, member_id)))




class OrderDeskService(order_pb2_grpc.OrderDeskServiceServicer):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def ListOrders(self, request, context):
        context_staff("the order desk")
        with self.runtime.transaction() as session:
            return desk.list_orders(session, request)

    def GetOrder(self, request, context):
        context_staff("the order desk")
        with self.runtime.transaction() as session:
            return views.order_view(session, orders.lock(session, request.order_id, for_update=False),
                                    detail=True)

    def CancelOrder(self, request, context):
        staff_id = context_staff("cancelling orders")
        if not request.reason.strip():
            raise InvalidArgument.field("reason", "required",
                                        "say why (the shopper is told), up to 200 characters")
        with self.runtime.transaction() as session:
            order = orders.lock(session, request.order_id)
            orders.cancel(session, self.runtime, order, actor=f"staff:{staff_id}",
                          reason=request.reason.strip()[:200])
            return views.order_view(session, order, detail=True)

    def AddRemark(self, request, context):
        staff_id = context_staff("order remarks")
        with self.runtime.transaction() as session:
            return views.remark_view(orders.add_remark(session, request.order_id, staff_id,
                                                       request.text))

    def ListRemarks(self, request, context):
        context_staff("order remarks")
        with self.runtime.transaction() as session:
            return order_pb2.ListRemarksResponse(remarks=[
                views.remark_view(r) for r in orders.remarks(session, request.order_id)])

    def GetRefundTerms(self, request, context):
        context_staff("refunding orders")
        with self.runtime.transaction() as session:
            order, decided = gifts.refund_terms(
                session, request.order_id,
                [(line.line_id, line.quantity, line.amount_fen) for line in request.lines])
            return order_pb2.RefundTerms(
                order_id=order.id, deduct_fen=sum(d.outcome.deduct_fen for d in decided),
                gifts=[order_pb2.GiftTerm(gift_line_id=d.line.id, outcome=d.outcome.outcome,
                                          deduct_fen=d.outcome.deduct_fen,
                                          explanation=gifts.explain(d.line.title, d.terms, d.outcome))
                       for d in decided])

    def ExportOrders(self, request, context):
        context_staff("exporting orders")
        formats = {"csv": (desk.export_csv, "text/csv; charset=utf-8"),
                   "xlsx": (desk.export_xlsx, "application/vnd.openxmlformats-officedocument."
                                              "spreadsheetml.sheet")}
        fmt = request.format or "csv"
        if fmt not in formats:
            raise InvalidArgument.field("format", "one_of", "csv or xlsx")
        export, content_type = formats[fmt]
        desk.filtered(request.filter)  # bad filters refused before the stream starts
        with self.runtime.transaction() as session:
            first = True
            for data in export(session, request.filter):
                if first:
                    yield order_pb2.ExportChunk(data=data, content_type=content_type,
                                                filename=f"orders.{fmt}")
                    first = False
                else:
                    yield order_pb2.ExportChunk(data=data)


def context_staff(action: str) -> str:
    return context.require_roles(*roles.ORDER_DESK, action=action).user_id


def context_member(action: str) -> str:
    return context.require_user(action).user_id


def context_member_or_admin(member_id: str, action: str) -> str:
    context.require_self_or_roles(member_id, roles.ADMIN, action=action)
    return member_id


def register(server: grpc.Server, runtime: Runtime) -> list[str]:
    order_pb2_grpc.add_CartServiceServicer_to_server(CartService(runtime), server)
    order_pb2_grpc.add_OrderServiceServicer_to_server(OrderService(runtime), server)
    order_pb2_grpc.add_OrderDeskServiceServicer_to_server(OrderDeskService(runtime), server)
    return [order_pb2.DESCRIPTOR.services_by_name[name].full_name
            for name in ("CartService", "OrderService", "OrderDeskService")]
