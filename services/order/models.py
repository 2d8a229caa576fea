"""The order service's tables. First slice: the cart, and the product read model it prices from."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servicekit import idempotency
from servicekit.db import BigId, declarative_base

Base = declarative_base()
idempotency.add_to(Base.metadata)  # PlaceOrder and AddCartItem honour idempotency keys


class ProductSku(Base):
    """One sellable SKU as catalog last announced it (product.published/updated/unpublished).

    Order never asks catalog at cart time: it prices from this copy, so a cart works while
    catalog is down, and shows the current price rather than the price when the line was added.
    """
    __tablename__ = "product_skus"

    sku_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)  # size, colour, cup/band ...
    price_fen: Mapped[int] = mapped_column(BigInteger)
    published: Mapped[bool] = mapped_column(Boolean)
    # catalog's product version last applied: an older event arriving late is ignored.
    product_version: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CartItem(Base):
    """One line of a member's cart: a SKU and how many."""
    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("member_id", "sku_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    sku_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
