"""The points mall: what staff list for points, and redeeming it (points and stock debited in
one transaction, `points.redeemed` written to the outbox in the same one)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from mall.common.v1 import common_pb2
from mall.events.v1 import member_events_pb2
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from servicekit import idempotency
from servicekit.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted, Violations
from servicekit.runtime import Runtime
from servicekit.times import rfc3339, utcnow

from ..identity.accounts import require_member
from ..models import MallItem, Redemption
from . import points

KINDS = ("coupon", "gift")
MAX_QUANTITY = 99


@dataclass(frozen=True)
class ShipTo:
    """Where a gift ships: the member's saved address, opened by the caller."""
    address_id: str
    address: dict  # recipient, phone, province, city, district, detail, postal_code


@dataclass(frozen=True)
class Redeemed:
    redemption: Redemption
    balance: int


def put_item(session: Session, item: MallItem) -> MallItem:
    v = Violations()
    v.check(item.kind in KINDS, "kind", "known_kind", "coupon (promotion issues it) or gift")
    v.check(0 < len(item.title.strip()) <= 64, "title", "required", "1 to 64 characters")
    if item.kind == "coupon":
        v.check(bool(item.coupon_template_id), "coupon_template_id", "required",
                "the promotion coupon template this item issues")
    if item.kind == "gift":
        v.check(0 < len(item.gift_sku_id or "") <= 64, "gift_sku_id", "required",
                "the SKU logistics ships for this gift, 1..64 characters")
    v.check(item.points_price > 0, "points_price", "positive", "at least 1 point")
    v.check(item.stock >= 0, "stock", "not_negative", "0 or more")
    v.check(item.per_member_limit >= 0, "per_member_limit", "not_negative", "0 (no limit) or more")
    if item.starts_at and item.ends_at:
        v.check(item.starts_at < item.ends_at, "ends_at", "after_start",
                "the window must end after it starts")
    v.raise_if_any()
    now = utcnow()
    if item.id:
        current = session.get(MallItem, item.id, with_for_update=True)
        if current is None:
            raise NotFound(f"no points mall item {item.id}")
        item.created_at = current.created_at
    else:
        item.id, item.created_at = str(uuid.uuid4()), now
    item.title, item.updated_at = item.title.strip(), now
    return session.merge(item)


def _on_sale(now: datetime):
    return (MallItem.active.is_(True),
            or_(MallItem.starts_at.is_(None), MallItem.starts_at <= now),
            or_(MallItem.ends_at.is_(None), MallItem.ends_at > now))


def on_sale(session: Session, now: datetime | None = None) -> list[MallItem]:
    return list(session.scalars(select(MallItem).where(*_on_sale(now or utcnow()))
                                .order_by(MallItem.points_price, MallItem.id)))


def all_items(session: Session) -> list[MallItem]:
    return list(session.scalars(select(MallItem).order_by(MallItem.created_at.desc())))


def redeem(runtime: Runtime, session: Session, member_id: str, item_id: str, quantity: int,
           request_key: str = "", ship_to: ShipTo | None = None) -> Redeemed:
    """`ship_to`: the member's saved address a gift item ships to (required for gifts)."""
    quantity = quantity or 1
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidArgument.field("quantity", "range", f"1..{MAX_QUANTITY}")
    require_member(session, member_id)
    account = points.account(session, member_id)  # first: the member's changes queue here

    def create() -> Redemption:
        item = _item(session, item_id)
        if item.kind == "gift" and ship_to is None:
            raise InvalidArgument.field("address_id", "required",
                                        "a gift ships: give one of your saved addresses' id")
        now = utcnow()
        if not session.scalar(select(func.count()).select_from(MallItem)
                              .where(MallItem.id == item.id, *_on_sale(now))):
            raise FailedPrecondition(f"{item.title} is not on sale now")
        if item.stock < quantity:
            raise ResourceExhausted(f"{item.title}: {item.stock} left, {quantity} asked")
        if item.per_member_limit:
            had = session.scalar(select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                Redemption.member_id == member_id, Redemption.item_id == item.id))
            if had + quantity > item.per_member_limit:
                raise ResourceExhausted(f"{item.title}: at most {item.per_member_limit} per member, "
                                        f"you have {had}")
        cost = item.points_price * quantity
        redemption = Redemption(id=str(uuid.uuid4()), member_id=member_id, item_id=item.id,
                                quantity=quantity, points=cost, request_key=request_key or None,
                                created_at=now, status="pending",
                                address_id=ship_to.address_id if item.kind == "gift" else None)
        points.debit(session, member_id, points.REDEEM, cost, ref=redemption.id, now=now,
                     reason=f"points mall: {quantity} x {item.title}")
        item.stock -= quantity
        session.add(redemption)
        runtime.emit(session, "points.redeemed", member_events_pb2.PointsRedeemed(
            redemption_id=redemption.id, member_id=member_id, item_id=item.id, item_kind=item.kind,
            coupon_template_id=item.coupon_template_id if item.kind == "coupon" else "",
            points=cost, quantity=quantity, redeemed_at=rfc3339(now)), event_id=redemption.id)
        if item.kind == "gift":
            runtime.emit(session, "points.gift_redeemed", member_events_pb2.PointsGiftRedeemed(
                redemption_id=redemption.id, member_id=member_id, item_id=item.id,
                title=item.title, sku_id=item.gift_sku_id, quantity=quantity,
                shipping_address=common_pb2.Address(**ship_to.address),
                redeemed_at=rfc3339(now)))
        return redemption

    redemption, _ = idempotency.create_once(
        session, key=request_key, create=create,
        find=lambda: session.scalar(select(Redemption).where(
            Redemption.member_id == member_id, Redemption.request_key == request_key)),
        same=lambda done: (done.item_id, done.quantity) == (item_id, quantity))
    return Redeemed(redemption, account.balance)


def _item(session: Session, item_id: str) -> MallItem:
    try:
        uuid.UUID(item_id)
    except ValueError:
        raise InvalidArgument.field("item_id", "uuid", "an item id from the points mall") from None
    item = session.get(MallItem, item_id, with_for_update=True)
    if item is None:
        raise NotFound(f"no points mall item {item_id}")
    return item
