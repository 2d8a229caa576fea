"""The cart: a member's SKUs and quantities, priced from the product read model when read."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from servicekit.db import dialect_insert
from servicekit.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Violations,
)

from . import early_access
from .models import CartItem, ProductSku, SkuStock

MIN_QUANTITY, MAX_QUANTITY = 1, 99
MAX_LINES = 50  # a cart is a shopping list, not a warehouse: keeps checkout quotes bounded
MAX_SKU_ID_LENGTH = 64


@dataclass(frozen=True)
class CartLineView:
    sku_id: str
    product_id: str
    title: str
    attributes: dict[str, str]
    unit_price_fen: int
    quantity: int
    available: bool
    unavailable_reason: str = ""
    stock_level: str = "unknown"  # in_stock | low | out, from logistics' events; unknown before one

    @property
    def line_total_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class CartView:
    lines: list[CartLineView] = field(default_factory=list)

    @property
    def subtotal_fen(self) -> int:
        return sum(line.line_total_fen for line in self.lines if line.available)

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines if line.available)

    @property
    def unavailable_line_count(self) -> int:
        return sum(1 for line in self.lines if not line.available)


def get_cart(session: Session, member_id: str) -> CartView:
    rows = session.execute(
        select(CartItem, ProductSku, SkuStock.level)
        .outerjoin(ProductSku, ProductSku.sku_id == CartItem.sku_id)
        .outerjoin(SkuStock, SkuStock.sku_id == CartItem.sku_id)
        .where(CartItem.member_id == member_id)
        .order_by(CartItem.added_at.desc(), CartItem.id.desc())).all()
    lines = []
    for item, sku, level in rows:
        if sku is None:  # the read model lost it (never happens unless rebuilt): show, don't price
            lines.append(CartLineView(item.sku_id, "", "", {}, 0, item.quantity, False, "unknown"))
            continue
        lines.append(CartLineView(
            sku_id=item.sku_id, product_id=sku.product_id, title=sku.title,
            attributes=dict(sku.attributes or {}), unit_price_fen=sku.price_fen,
            quantity=item.quantity, available=sku.published,
            unavailable_reason="" if sku.published else "unpublished",
            stock_level=level or "unknown"))
    return CartView(lines)


def _guest() -> int | None:
    return None


def add_item(session: Session, member_id: str, sku_id: str, quantity: int,
             rank_of: Callable[[], int | None] = _guest) -> CartView:
    """Adds to the cart (quantities of the same SKU sum). Adding is not idempotent: the api runs
    it under the caller's idempotency key. `rank_of` tells her tier rank, asked only for a product
    on early access (early_access.py)."""
    _check_input(sku_id, quantity)
    sku = _require_buyable(session, sku_id)
    now = datetime.now(timezone.utc)
    early_access.check(session, [("sku_id", sku)], member_id, rank_of, now)
    line = _line_for_update(session, member_id, sku_id)
    if line is None:
        if _line_count(session, member_id) >= MAX_LINES:
            raise ResourceExhausted(
                f"the cart already holds {MAX_LINES} different items; remove one to add another")
        if _insert_new(session, CartItem, member_id=member_id, sku_id=sku_id, quantity=quantity,
                       added_at=now, updated_at=now):
            return get_cart(session, member_id)
        line = _line_for_update(session, member_id, sku_id)  # a concurrent add inserted it first
    total = line.quantity + quantity
    if total > MAX_QUANTITY:
        raise InvalidArgument.field(
            "quantity", "max_per_line",
            f"the cart already holds {line.quantity} of this item; at most {MAX_QUANTITY} per item, "
            f"so add at most {MAX_QUANTITY - line.quantity}")
    line.quantity, line.updated_at = total, now
    return get_cart(session, member_id)


def update_item(session: Session, member_id: str, sku_id: str, quantity: int,
                rank_of: Callable[[], int | None] = _guest) -> CartView:
    _check_input(sku_id, quantity, zero_hint=True)
    line = _line_for_update(session, member_id, sku_id)
    if line is None:
        raise NotFound(f"SKU {sku_id} is not in the cart; add it first")
    if quantity > line.quantity:
        # Raising the quantity is buying more: only while the product is on sale and open to her.
        sku = _require_buyable(session, sku_id)
        early_access.check(session, [("sku_id", sku)], member_id, rank_of,
                           datetime.now(timezone.utc))
    line.quantity, line.updated_at = quantity, datetime.now(timezone.utc)
    return get_cart(session, member_id)


def remove_item(session: Session, member_id: str, sku_id: str) -> CartView:
    """Removing a SKU that is not in the cart changes nothing, so a retried removal succeeds."""
    if not sku_id:
        raise InvalidArgument.field("sku_id", "required", "sku_id is required")
    session.execute(delete(CartItem).where(CartItem.member_id == member_id,
                                           CartItem.sku_id == sku_id))
    return get_cart(session, member_id)


def _check_input(sku_id: str, quantity: int, *, zero_hint: bool = False) -> None:
    problems = Violations()
    if problems.check(bool(sku_id), "sku_id", "required", "sku_id is required"):
        problems.check(len(sku_id) <= MAX_SKU_ID_LENGTH, "sku_id", "max_length",
                       f"sku_id has at most {MAX_SKU_ID_LENGTH} characters")
    hint = "; to take an item out of the cart use RemoveCartItem" if zero_hint and quantity == 0 else ""
    problems.check(MIN_QUANTITY <= quantity <= MAX_QUANTITY, "quantity", "range",
                   f"quantity must be between {MIN_QUANTITY} and {MAX_QUANTITY}, got {quantity}{hint}")
    problems.raise_if_any()


def _require_buyable(session: Session, sku_id: str) -> ProductSku:
    sku = session.get(ProductSku, sku_id)
    if sku is None:
        raise InvalidArgument.field("sku_id", "exists", f"there is no SKU {sku_id}; "
                                    "pick a size and colour of a product on sale")
    if not sku.published:
        raise FailedPrecondition(
            f"SKU {sku_id} ({sku.title}) is no longer on sale",
            [FieldViolation("sku_id", "published",
                            f"{sku.title} is no longer on sale; choose a product on sale")])
    return sku


def _line_for_update(session: Session, member_id: str, sku_id: str) -> CartItem | None:
    return session.scalars(select(CartItem).where(CartItem.member_id == member_id,
                                                  CartItem.sku_id == sku_id)
                           .with_for_update()).first()


def _line_count(session: Session, member_id: str) -> int:
    return session.scalar(select(func.count()).select_from(CartItem)
                          .where(CartItem.member_id == member_id))


def _insert_new(session: Session, model, **values) -> bool:
    """INSERT that does nothing when the row's unique key is taken (by a concurrent request too);
    True when it inserted."""
    return session.execute(dialect_insert(session, model).values(**values).on_conflict_do_nothing()).rowcount == 1
