"""The order's own records of the checkout saga (checkout.py runs the remote steps):

1. `begin` claims the caller's idempotency key with an order in `placing` (its own transaction,
   so a retry finds it even if this process dies mid-saga);
2. the saga quotes, locks coupons and quota, and reserves stock, each step keyed by the order id;
3. `confirm` writes the priced lines and moves the order to PENDING_PAYMENT with order.created,
   or `fail` records why it could not be placed (everything taken was released by then).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mall.common.v1 import common_pb2
from mall.events.v1 import order_events_pb2 as events
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from servicekit import idempotency
from servicekit.errors import FailedPrecondition
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from . import numbering, privacy, states
from .models import CartItem, Order, OrderLine, OrderLineCategory
from .orders import event_lines, lines_of

STALE_AFTER = timedelta(minutes=10)  # far beyond any saga's deadlines
PLACEMENT_FAILED = "placement_failed"  # order.cancelled's reason for an order never shown


@dataclass(frozen=True)
class PricedLine:
    """A line as the quote priced it, with the product snapshot it keeps."""
    sku_id: str
    product_id: str
    title: str
    quantity: int
    unit_price_fen: int
    paid_fen: int
    discounts: dict[str, int] = field(default_factory=dict)  # fen by source: member, sale, coupon ...
    sku_code: str = ""
    sku_label: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    image_url: str = ""
    category_ids: tuple[str, ...] = ()
    gift: bool = False


@dataclass(frozen=True)
class PricedOrder:
    lines: list[PricedLine]
    list_total_fen: int
    discount_fen: int
    points_deduction_fen: int
    shipping_fee_fen: int
    payable_fen: int
    points_used: int = 0
    coupon_ids: tuple[str, ...] = ()
    explanation: tuple[str, ...] = ()
    member_tier: str = ""
    member_tier_rank: int = 0
    flash_sale: bool = False


def begin(session: Session, *, member_id: str, idempotency_key: str, fingerprint: str,
          channel: str, now: datetime) -> tuple[Order, bool]:
    """The order this request places: a new one in `placing`, or the one an earlier call with the
    same key made (True when new). The same key for a different cart is refused."""
    def create() -> Order:
        order = Order(id=str(uuid.uuid4()), order_no=numbering.next_order_no(session, now),
                      member_id=member_id, status="placing", channel=channel,
                      idempotency_key=idempotency_key or None, request_fingerprint=fingerprint,
                      created_at=now, updated_at=now)
        session.add(order)
        session.flush()
        return order

    return idempotency.create_once(
        session, key=idempotency_key, create=create,
        find=lambda: session.scalar(select(Order).where(Order.member_id == member_id,
                                                        Order.idempotency_key == idempotency_key)),
        same=lambda done: done.request_fingerprint == fingerprint)


def confirm(session: Session, runtime: Runtime, order: Order, priced: PricedOrder, *,
            address: common_pb2.Address, discreet: bool, allocation: list[dict],
            pay_window: timedelta, now: datetime, shopper_note: str = "") -> None:
    """Writes the priced order and moves it to PENDING_PAYMENT; announces order.created."""
    for number, line in enumerate(priced.lines, start=1):
        session.add(OrderLine(
            id=f"{order.id}-{number}", order_id=order.id, line_no=number, sku_id=line.sku_id,
            product_id=line.product_id, sku_code=line.sku_code, title=line.title,
            sku_label=line.sku_label, attributes=dict(line.attributes), image_url=line.image_url,
            category_ids=list(line.category_ids), quantity=line.quantity,
            unit_price_fen=line.unit_price_fen, discounts=dict(line.discounts),
            paid_fen=line.paid_fen, gift=line.gift))
    for category_id in sorted({c for line in priced.lines for c in line.category_ids}):
        session.add(OrderLineCategory(order_id=order.id, category_id=category_id))
    order.list_total_fen, order.discount_fen = priced.list_total_fen, priced.discount_fen
    order.points_deduction_fen, order.shipping_fee_fen = priced.points_deduction_fen, priced.shipping_fee_fen
    order.payable_fen, order.points_used = priced.payable_fen, priced.points_used
    order.coupon_ids, order.explanation = list(priced.coupon_ids), list(priced.explanation)
    order.member_tier, order.member_tier_rank = priced.member_tier, priced.member_tier_rank
    order.flash_sale, order.discreet_packaging = priced.flash_sale, discreet
    order.address_sealed, order.province = privacy.seal_address(order.id, address), address.province
    order.allocation, order.shopper_note = allocation, shopper_note[:200]
    order.pay_deadline = now + pay_window
    session.flush()
    states.move(session, order, "pending_payment", actor=f"member:{order.member_id}",
                reason="placed", now=now)
    runtime.emit(session, "order.created", events.OrderCreated(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        payable_fen=order.payable_fen, lines=event_lines(lines_of(session, order)),
        created_at=rfc3339(now), pay_deadline=rfc3339(order.pay_deadline), channel=order.channel,
        points_used=order.points_used, coupon_ids=order.coupon_ids,
        status_seq=states.history_seq(session, order)))


def replay(order: Order) -> Order:
    """What a retry with the same idempotency key gets: the order, or why it was not placed."""
    if order.status == "placing":
        raise FailedPrecondition(f"order {order.order_no} is still being placed: ask again in a "
                                 "moment with the same idempotency key")
    if order.status == "failed":
        raise FailedPrecondition(f"this checkout was not placed: {order.failure}. Fix it and "
                                 "check out again with a new idempotency key")
    return order


def clear_cart(session: Session, member_id: str, sku_ids: list[str]) -> None:
    """What was ordered leaves the cart, in the order's own transaction."""
    session.execute(delete(CartItem).where(CartItem.member_id == member_id,
                                           CartItem.sku_id.in_(sku_ids)))


def sweep_stale(session: Session, runtime: Runtime, now: datetime,
                older_than: timedelta = STALE_AFTER, limit: int = 100) -> int:
    """Orders left in `placing` by a crashed api process: failed, and announced as cancelled
    (reason placement_failed) so points, coupons and stock held for them come back even before
    their own expiry. SKIP LOCKED: replicas share the sweep."""
    stale = session.scalars(
        select(Order).where(Order.status == "placing", Order.created_at < now - older_than)
        .order_by(Order.created_at).limit(limit).with_for_update(skip_locked=True)).all()
    for order in stale:
        fail(session, order, "the checkout did not finish (the server stopped mid-way)", now)
        runtime.emit(session, "order.cancelled", events.OrderCancelled(
            order_id=order.id, member_id=order.member_id, reason=PLACEMENT_FAILED,
            order_no=order.order_no, points_used=order.points_used))
    return len(stale)


def fail(session: Session, order: Order, reason: str, now: datetime) -> None:
    """The saga could not place the order: kept (with why) so a retry with the same key gets the
    same answer instead of placing it again."""
    order.failure = reason[:2000]
    states.move(session, order, "failed", actor=f"member:{order.member_id}", reason=reason[:500],
                now=now)

