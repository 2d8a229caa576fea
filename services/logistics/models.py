"""Logistics' own tables. Quantities are whole units (BIGINT); on-hand stock only ever changes
together with a ledger entry saying who changed it and why."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from servicekit.db import BigId, declarative_base

Base = declarative_base()

LEDGER_KINDS = ("receipt", "count_correction", "damage", "transfer")


class Warehouse(Base):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    province: Mapped[str] = mapped_column(String(50))
    city: Mapped[str] = mapped_column(String(50))
    district: Mapped[str] = mapped_column(String(50), default="")
    latitude: Mapped[float] = mapped_column(Float)   # coordinates, not money: a float is right
    longitude: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Sku(Base):
    """A SKU logistics may stock, learned from catalog's product events (never by calling it)."""
    __tablename__ = "skus"

    sku_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    code: Mapped[str] = mapped_column(String(64), default="")  # the merchant's SKU code
    title: Mapped[str] = mapped_column(String(200), default="")
    # Buyable in catalog (product published and SKU active). Goods of an inactive SKU can still
    # be received, counted and moved: they are on the shelves either way.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # catalog's product version this row reflects: an older event arriving late is ignored.
    catalog_version: Mapped[int] = mapped_column(BigInteger)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Stock(Base):
    __tablename__ = "stock"

    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.sku_id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    safety_stock: Mapped[int] = mapped_column(BigInteger, default=0)
    low_stock_threshold: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    warehouse: Mapped[Warehouse] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("safety_stock >= 0", name="safety_not_negative"),
        CheckConstraint("low_stock_threshold >= 0", name="threshold_not_negative"),
        Index("ix_stock_sku", "sku_id"),
    )

    @property
    def sellable(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class LedgerEntry(Base):
    __tablename__ = "stock_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.sku_id"))
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(BigInteger)  # signed change of on_hand
    on_hand_after: Mapped[int] = mapped_column(BigInteger)
    actor_user_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    warehouse: Mapped[Warehouse] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        CheckConstraint("on_hand_after >= 0", name="on_hand_after_not_negative"),
        CheckConstraint("kind IN ('receipt', 'count_correction', 'damage', 'transfer')",
                        name="kind_known"),
        Index("ix_stock_ledger_sku", "sku_id", "id"),
    )


class IdempotentRequest(Base):
    """A stock change done under a client's idempotency key: a retry finds it and changes nothing."""
    __tablename__ = "idempotent_requests"

    operation: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the request's fields
    entry_ids: Mapped[list] = mapped_column(JSON)          # the ledger entries it wrote
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
