"""The order's own records of the checkout saga (checkout.py runs the remote steps):

1. `begin` claims the caller's idempotency key with an order in `placing` (its own transaction,
   so a retry finds it even if this process dies mid-saga), leased to the request placing it;
2. the saga quotes (the quote kept on the order: `keep_quote`), locks coupons and quota, and
   reserves stock, each step keyed by the order id, renewing its lease before each (`renew`);
3. `confirm` writes the priced lines and moves the order to PENDING_PAYMENT with order.created,
   or `undo` fails it (with why) and announces what must come back.

The lease: `placing_owner` names the request running the saga and `lease_until` how long it holds
it (`MALL_ORDER_PLACING_LEASE_SECONDS`, 10; every step's deadline is 5 s). A retry with the same
key (`take_over`) while the lease runs is told to come back shortly (409, Retry-After); once it
lapsed (the process died) the retry owns the placement and runs the saga again with the kept
quote: each remote step replays what the dead one did. Only the owner confirms or undoes, each under the row's lock, so
one request finishes a placement. One nobody retries is undone by the worker's sweep once its
lease lapsed `MALL_ORDER_ABANDONED_PLACEMENT_SECONDS` (20) ago.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from mall.common.v1 import common_pb2
from mall.events.v1 import order_events_pb2 as events
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from servicekit import idempotency
from servicekit.config import env_float
from servicekit.errors import FailedPrecondition, FieldViolation
from servicekit.runtime import Runtime
from servicekit.times import rfc3339

from . import numbering, privacy, states
from . import presale as presale_terms
from .models import CartItem, Order, OrderLine, OrderLineCategory
from .orders import event_lines, lines_of

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
    # a gift line: its campaign's terms (gifts.GiftTerms), qualifying lines by line number
    gift_terms: dict | None = None
    sale_ends_at: str = ""           # RFC 3339: until when the sale price holds (previews show it)


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
    presale: presale_terms.Terms | None = None   # a pre-sale: the deposit first, the balance later
    priority_shipping: bool = False   # the member's tier benefits at checkout
    exclusive_service: bool = False


def _gift_terms(order_id: str, terms: dict | None) -> dict | None:
    """A gift's terms with its qualifying lines named by their order line ids."""
    if terms is None:
        return None
    return {**terms, "qualifying": {f"{order_id}-{n}": fen
                                    for n, fen in terms.get("qualifying", {}).items()}}


def lease() -> timedelta:
    """How long a placement is held by the request running it without a sign of life."""
    return timedelta(seconds=env_float("PLACING_LEASE_SECONDS", 10, "order"))


def abandoned_after() -> timedelta:
    """How long past its lease the sweep leaves a placement for its shopper's retry."""
    return timedelta(seconds=env_float("ABANDONED_PLACEMENT_SECONDS", 20, "order"))


def _clock() -> datetime:
    # Leases run on the real clock, whatever moment the saga prices at.
    return datetime.now(timezone.utc)


class LeaseLost(Exception):
    """Another request took this placement over (this one was presumed dead): it stops here,
    taking and undoing nothing more."""


def new_owner() -> str:
    return str(uuid.uuid4())


def begin(session: Session, *, member_id: str, idempotency_key: str, fingerprint: str,
          channel: str, now: datetime, owner: str = "") -> tuple[Order, bool]:
    """The order this request places: a new one in `placing`, leased to `owner`, or the one an
    earlier call with the same key made (True when new). The same key for a different cart is
    refused."""
    def create() -> Order:
        order = Order(id=str(uuid.uuid4()), order_no=numbering.next_order_no(session, now),
                      member_id=member_id, status="placing", channel=channel,
                      idempotency_key=idempotency_key or None, request_fingerprint=fingerprint,
                      placing_owner=owner, lease_until=_clock() + lease(),
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
            paid_fen=line.paid_fen, gift=line.gift,
            gift_terms=_gift_terms(order.id, line.gift_terms)))
    for category_id in sorted({c for line in priced.lines for c in line.category_ids}):
        session.add(OrderLineCategory(order_id=order.id, category_id=category_id))
    order.list_total_fen, order.discount_fen = priced.list_total_fen, priced.discount_fen
    order.points_deduction_fen, order.shipping_fee_fen = priced.points_deduction_fen, priced.shipping_fee_fen
    order.payable_fen, order.points_used = priced.payable_fen, priced.points_used
    order.coupon_ids, order.explanation = list(priced.coupon_ids), list(priced.explanation)
    order.member_tier, order.member_tier_rank = priced.member_tier, priced.member_tier_rank
    order.priority_shipping, order.exclusive_service = priced.priority_shipping, priced.exclusive_service
    order.flash_sale, order.discreet_packaging = priced.flash_sale, discreet
    order.address_sealed, order.province = privacy.seal_address(order.id, address), address.province
    order.allocation, order.shopper_note = allocation, shopper_note[:200]
    order.pay_deadline = now + pay_window
    presale_terms.apply_terms(order, priced.presale)
    order.placing_owner, order.lease_until = "", None
    order.placing_quote = order.placing_profile = None
    session.flush()
    states.move(session, order, "pending_payment", actor=f"member:{order.member_id}",
                reason="placed", now=now)
    runtime.emit(session, "order.created", events.OrderCreated(
        order_id=order.id, order_no=order.order_no, member_id=order.member_id,
        payable_fen=order.payable_fen, lines=event_lines(lines_of(session, order)),
        created_at=rfc3339(now), pay_deadline=rfc3339(order.pay_deadline), channel=order.channel,
        points_used=order.points_used, coupon_ids=order.coupon_ids,
        status_seq=states.history_seq(session, order)))


def still_placing(order: Order) -> FailedPrecondition:
    """The answer to a retry while a live request is placing the order: come back shortly."""
    left = (order.lease_until - _clock()).total_seconds() if order.lease_until else 0
    key = order.idempotency_key or ""
    return FailedPrecondition(
        f"order {order.order_no} is still being placed: ask again in a moment with the same "
        f"idempotency key {key!r}",
        [FieldViolation(idempotency.KEY_FIELD, "in_progress",
                        "another request with this key is placing the order; retry it shortly")],
        retry_after_seconds=max(1, min(math.ceil(left), math.ceil(lease().total_seconds()))))


def take_over(session: Session, order: Order, owner: str) -> tuple[Order, bool]:
    """A retry's turn at an order its key already made: (order, True) when this request now owns
    a placement whose lease lapsed and must run the saga again; (order, False) when the order is
    settled (placed, or failed: `replay` answers). A live placement is not taken (still_placing)."""
    locked = session.get(Order, order.id, with_for_update=True, populate_existing=True)
    if locked.status != "placing":
        return locked, False
    now = _clock()
    if locked.lease_until is not None and locked.lease_until > now:
        raise still_placing(locked)
    locked.placing_owner, locked.lease_until = owner, now + lease()
    return locked, True


def renew(session: Session, order_id: str, owner: str) -> None:
    """The owner's sign of life before each step; LeaseLost when another request took over."""
    renewed = session.execute(
        update(Order).where(Order.id == order_id, Order.status == "placing",
                            Order.placing_owner == owner)
        .values(lease_until=_clock() + lease())).rowcount
    if not renewed:
        raise LeaseLost(order_id)


def keep_quote(session: Session, order_id: str, owner: str, quote: bytes, profile: bytes) -> None:
    """The quote about to be locked and reserved by, kept (with the lease renewed) so a retry
    resumes with the very same one: once its coupons and quota are locked, quoting again would
    find them taken."""
    kept = session.execute(
        update(Order).where(Order.id == order_id, Order.status == "placing",
                            Order.placing_owner == owner)
        .values(lease_until=_clock() + lease(), placing_quote=quote, placing_profile=profile)).rowcount
    if not kept:
        raise LeaseLost(order_id)


def owned(session: Session, order_id: str, owner: str) -> Order:
    """The order locked for its owner's last move (confirm or undo); LeaseLost otherwise."""
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or order.status != "placing" or order.placing_owner != owner:
        raise LeaseLost(order_id)
    return order


def replay(order: Order) -> Order:
    """What a retry with the same idempotency key gets: the order, or why it was not placed."""
    if order.status == "placing":
        raise still_placing(order)
    if order.status == "failed":
        raise FailedPrecondition(f"this checkout was not placed: {order.failure}. Fix it and "
                                 "check out again with a new idempotency key")
    return order


def clear_cart(session: Session, member_id: str, sku_ids: list[str]) -> None:
    """What was ordered leaves the cart, in the order's own transaction."""
    session.execute(delete(CartItem).where(CartItem.member_id == member_id,
                                           CartItem.sku_id.in_(sku_ids)))


def sweep_stale(session: Session, runtime: Runtime, now: datetime,
                older_than: timedelta | None = None, limit: int = 100) -> int:
    """Orders left in `placing` by a crashed api process and not retried: undone once their
    lease lapsed `older_than` ago (abandoned_after()), so points, coupons and stock held for
    them come back even before their own expiry. SKIP LOCKED: replicas share the sweep."""
    cutoff = now - (abandoned_after() if older_than is None else older_than)
    # A row from before leases (lease_until NULL) counts from its creation.
    lapsed = func.coalesce(Order.lease_until, Order.created_at)
    stale = session.scalars(
        select(Order).where(Order.status == "placing", lapsed < cutoff)
        .order_by(Order.created_at).limit(limit).with_for_update(skip_locked=True)).all()
    for order in stale:
        undo(session, runtime, order, "the checkout did not finish (the server stopped mid-way)",
             now)
    return len(stale)


def undo(session: Session, runtime: Runtime, order: Order, reason: str, now: datetime,
         announce: bool = True) -> None:
    """Fails the order and, when the saga may have taken something (`announce`), announces it
    cancelled (reason placement_failed): member gives the points back, promotion the coupons
    and quota, logistics the stock, each from the outbox, so the undo survives a crash too."""
    fail(session, order, reason, now)
    if announce:
        runtime.emit(session, "order.cancelled", events.OrderCancelled(
            order_id=order.id, member_id=order.member_id, reason=PLACEMENT_FAILED,
            order_no=order.order_no, points_used=order.points_used))


def fail(session: Session, order: Order, reason: str, now: datetime) -> None:
    """The saga could not place the order: kept (with why) so a retry with the same key gets the
    same answer instead of placing it again."""
    order.failure = reason[:2000]
    order.placing_owner, order.lease_until = "", None
    order.placing_quote = order.placing_profile = None
    states.move(session, order, "failed", actor=f"member:{order.member_id}", reason=reason[:500],
                now=now)

