"""Orders as their readers see them (mall.order.v1.OrderView), and the shopper's lists."""
from __future__ import annotations

from datetime import datetime, timezone

from mall.events.v1 import logistics_events_pb2 as shipping
from mall.order.v1 import order_pb2
from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from servicekit import paging
from servicekit.errors import InvalidArgument, NotFound
from servicekit.times import rfc3339

from . import aftersales, placement, presale, privacy, states
from .models import Order, OrderLine, OrderRemark, OrderShipment, OrderStatusChange

SHIPMENT_STATES = {value: name.removeprefix("SHIPMENT_").lower()
                   for name, value in shipping.ShipmentState.items() if value}


def priced_lines(lines) -> list[order_pb2.PricedLineView]:
    return [order_pb2.PricedLineView(
        sku_id=line.sku_id, product_id=line.product_id, title=line.title, sku_label=line.sku_label,
        quantity=line.quantity, unit_price_fen=line.unit_price_fen, paid_fen=line.paid_fen,
        discounts=line.discounts, gift=line.gift, image_url=line.image_url,
        sale_ends_at=getattr(line, "sale_ends_at", "")) for line in lines]  # previews only


def order_lines(lines: list[OrderLine]) -> list[order_pb2.PricedLineView]:
    """An order's lines: priced as sold, with their ids (a per-line refund names one) and
    what each got back."""
    views = priced_lines(lines)
    for view, line in zip(views, lines, strict=True):
        view.line_id, view.refunded_fen = line.id, line.refunded_fen
        view.refunded_quantity = line.refunded_quantity or 0
        view.gift_outcome, view.gift_deducted_fen = line.gift_outcome or "", line.gift_deducted_fen or 0
    return views


def summaries(session: Session, orders: list[Order]) -> list[order_pb2.OrderView]:
    """A page of orders without their detail, their lines read in one query (not one per order)."""
    lines: dict[str, list[OrderLine]] = {o.id: [] for o in orders}
    if orders:
        for line in session.scalars(select(OrderLine).where(OrderLine.order_id.in_(list(lines)))
                                    .order_by(OrderLine.order_id, OrderLine.line_no)):
            lines[line.order_id].append(line)
    return [order_view(session, o, detail=False, lines=lines[o.id]) for o in orders]


def order_view(session: Session, order: Order, *, detail: bool,
               lines: list[OrderLine] | None = None) -> order_pb2.OrderView:
    """`lines`: the order's lines when the caller has them (`summaries`), else read here."""
    if lines is None:
        lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)
                                .order_by(OrderLine.line_no)).all()
    view = order_pb2.OrderView(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        status=order.status, channel=order.channel, lines=order_lines(lines),
        list_total_fen=order.list_total_fen, discount_fen=order.discount_fen,
        points_deduction_fen=order.points_deduction_fen, shipping_fee_fen=order.shipping_fee_fen,
        payable_fen=order.payable_fen, paid_fen=order.paid_fen, refunded_fen=order.refunded_fen,
        points_used=order.points_used, coupon_ids=order.coupon_ids,
        explanation=order.explanation, discreet_packaging=order.discreet_packaging,
        note=order.shopper_note, created_at=rfc3339(order.created_at),
        pay_deadline=rfc3339(order.pay_deadline) if order.status == "pending_payment" else "",
        paid_at=rfc3339(order.paid_at), shipped_at=rfc3339(order.shipped_at),
        delivered_at=rfc3339(order.delivered_at), completed_at=rfc3339(order.completed_at),
        closed_at=rfc3339(order.closed_at), flash_sale=order.flash_sale,
        import_batch_id=order.import_batch_id or "")
    if order.is_presale:
        view.presale.CopyFrom(presale.view(order, datetime.now(timezone.utc)))
    if detail:
        requests = aftersales.of_order(session, order.id)
        view.aftersales.extend(aftersales.views(requests))
        on_lines = aftersales.line_views(requests)
        for line in view.lines:
            line.aftersales.extend(on_lines.get(line.line_id, []))
        view.shipping_address.CopyFrom(privacy.open_address(order.id, order.address_sealed))
        view.timeline.extend(order_pb2.StatusChange(
            from_status=c.from_status, to_status=c.to_status, actor_kind=c.actor.split(":")[0],
            reason=c.reason, at=rfc3339(c.at)) for c in session.scalars(
                select(OrderStatusChange).where(OrderStatusChange.order_id == order.id,
                                                OrderStatusChange.from_status != "placing")
                .order_by(OrderStatusChange.id)))
        view.shipments.extend(order_pb2.ShipmentRef(
            shipment_id=s.shipment_id, carrier=s.carrier, waybill_no=s.waybill_no,
            state=SHIPMENT_STATES.get(s.state, "created")) for s in session.scalars(
                select(OrderShipment).where(OrderShipment.order_id == order.id)
                .order_by(OrderShipment.shipment_id)))
    return view


def members_order(session: Session, member_id: str, order_id: str, *, lock: bool = False) -> Order:
    """The member's own order; another member's is NOT_FOUND, exactly like none at all."""
    query = select(Order).where(Order.id == order_id, Order.member_id == member_id,
                                Order.status.in_(states.VISIBLE))
    order = session.scalar(query.with_for_update() if lock else query)
    if order is None:
        raise NotFound(f"you have no order {order_id}")
    return order


def list_members_orders(session: Session, member_id: str, tab: str,
                        page: order_pb2.ListMyOrdersRequest) -> order_pb2.ListOrdersResponse:
    if tab and tab not in states.TABS:
        raise InvalidArgument.field("tab", "one_of", f"empty or one of {', '.join(states.TABS)}")
    statuses = states.TABS.get(tab, states.VISIBLE)
    size = paging.page_size(page.page_size)
    bound = paging.fingerprint("my-orders", member_id, tab)
    after = paging.decode("order", page.page_token, bound)
    shown_here = Order.status.in_(statuses)
    if tab == "refunds":  # 退款/售后 lists a partly refunded order too, whatever its status
        shown_here = or_(shown_here, Order.status.in_(states.VISIBLE) & (Order.refunded_fen > 0))
    query = select(Order).where(Order.member_id == member_id, shown_here)
    if after:
        query = query.where(tuple_(Order.created_at, Order.id)
                            < (datetime.fromisoformat(after[0]), after[1]))
    rows = session.scalars(query.order_by(Order.created_at.desc(), Order.id.desc())
                           .limit(size + 1)).all()
    shown = rows[:size]
    token = paging.encode("order", [shown[-1].created_at.isoformat(), shown[-1].id], bound) \
        if len(rows) > size else ""
    return order_pb2.ListOrdersResponse(
        orders=summaries(session, shown),
        page={"next_page_token": token})


def payable(session: Session, member_id: str, order_id: str) -> order_pb2.Payable:
    """What a payment of the order takes now: the whole amount, or a pre-sale's deposit, then
    its balance in its window (presale.due_now says when it opens)."""
    order = members_order(session, member_id, order_id)
    due = presale.due_now(order, datetime.now(timezone.utc))
    label = {"deposit": "定金 ", "balance": "尾款 "}.get(due.phase, "")
    return order_pb2.Payable(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        payable_fen=due.amount_fen, currency="CNY",
        description=f"内衣商城订单 {label}{order.order_no}", pay_deadline=rfc3339(due.deadline),
        status=order.status, flash_sale=order.flash_sale, phase=due.phase)


def preview_view(priced: placement.PricedOrder) -> order_pb2.CheckoutPreview:
    return order_pb2.CheckoutPreview(
        lines=priced_lines(priced.lines), list_total_fen=priced.list_total_fen,
        discount_fen=priced.discount_fen, points_deduction_fen=priced.points_deduction_fen,
        shipping_fee_fen=priced.shipping_fee_fen, total_fen=priced.payable_fen,
        explanation=list(priced.explanation),
        presale=presale.terms_view(priced.presale, priced.payable_fen))


def remark_view(remark: OrderRemark) -> order_pb2.Remark:
    return order_pb2.Remark(remark_id=remark.id, order_id=remark.order_id, staff_id=remark.staff_id,
                            text=remark.text, at=rfc3339(remark.at))
