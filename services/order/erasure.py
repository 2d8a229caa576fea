"""A member's erasure (member.deleted) and export, as far as orders go.

Orders are transaction records the law requires the shop to keep (amounts, lines, states stay
whole for the accounts), so they are anonymised, not deleted: the shipping address keeps province
and city (accounts and analytics by region) and loses recipient, phone, district, street and
postal code; the shopper's note is cleared (free text she wrote, often a phone or a door code);
staff remarks on her orders are replaced by a marker (free text that may quote her, and not a
transaction record), keeping who wrote one and when. Her cart is emptied. An order still waiting
for payment is cancelled first (she can no longer pay it, and an anonymised address could not be
shipped to; a payment that still arrives is refunded as paid-after-cancel): its order.cancelled
gives back stock, coupons and points.
"""
from __future__ import annotations

from datetime import datetime

from mall.common.v1 import common_pb2
from mall.order.v1 import order_pb2
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from servicekit import erasure
from servicekit.runtime import Runtime

from . import orders as ordering
from . import presale, privacy, views
from .models import CartItem, Order, OrderRemark

ERASED_REMARK = "[erased with the member's personal data]"


def anonymised(address: common_pb2.Address) -> common_pb2.Address:
    return common_pb2.Address(province=address.province, city=address.city)


def erase_member(session: Session, runtime: Runtime, member_id: str,
                 erased_at: datetime | None = None) -> dict:
    """Cancels her unpaid orders, anonymises every order of hers and empties her cart, in the
    caller's transaction. Running it again finds nothing more to change."""
    erasure.remember(session, member_id, erased_at)
    orders = list(session.scalars(select(Order).where(Order.member_id == member_id)
                                  .order_by(Order.id).with_for_update()))
    # ... and a pre-sale waiting for its balance, which she can no longer pay: its deposit is
    # refunded (she did not let the window lapse; she left)
    unpaid = [order for order in orders if order.status in ("pending_payment", *presale.WAITING)]
    for order in unpaid:
        ordering.cancel(session, runtime, order, actor="event:member.deleted",
                        reason="member_deleted")
    for order in orders:
        if order.address_sealed:
            address = privacy.open_address(order.id, order.address_sealed)
            order.address_sealed = privacy.seal_address(order.id, anonymised(address))
        order.shopper_note = ""
    remarks = session.execute(
        update(OrderRemark).where(OrderRemark.order_id.in_([o.id for o in orders]),
                                  OrderRemark.text != ERASED_REMARK)
        .values(text=ERASED_REMARK)).rowcount if orders else 0
    cart_lines = session.execute(delete(CartItem).where(CartItem.member_id == member_id)).rowcount
    counts = {"orders_anonymised": len(orders), "unpaid_cancelled": len(unpaid),
              "remarks_erased": remarks,
              "cart_lines_deleted": cart_lines}
    erasure.report("order", member_id, **counts)
    return counts


def export(session: Session, member_id: str, cart_view: order_pb2.Cart) -> order_pb2.MemberOrderData:
    # every order that holds her data, the saga's unfinished or failed ones too
    orders = session.scalars(select(Order).where(Order.member_id == member_id)
                             .order_by(Order.created_at, Order.id))
    return order_pb2.MemberOrderData(
        orders=[views.order_view(session, o, detail=True) for o in orders], cart=cart_view)

