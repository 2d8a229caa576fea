"""Logistics' own tables. Quantities are whole units (BIGINT); on-hand stock only ever changes
together with a ledger entry saying who changed it and why."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from servicekit import erasure, idempotency
from servicekit.db import BigId, UtcDateTime, declarative_base

Base = declarative_base()
erasure.add_to(Base.metadata)  # members who asked for erasure (member.deleted)
idempotency.add_to(Base.metadata)  # stock changes under a client's key (stock.py)

LEDGER_KINDS = ("receipt", "count_correction", "damage", "transfer",
                "reservation", "release", "commit", "return", "quarantine")
RESERVATION_STATUSES = ("held", "committed", "released", "expired")
SHIPMENT_STATES = ("created", "picked_up", "in_transit", "out_for_delivery", "delivered",
                   "exception", "returned")


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
    # carrier codes that collect parcels here (e.g. ["sf", "zto"]); shipments choose among them
    carriers: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


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
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Stock(Base):
    __tablename__ = "stock"

    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.sku_id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    safety_stock: Mapped[int] = mapped_column(BigInteger, default=0)
    low_stock_threshold: Mapped[int] = mapped_column(BigInteger)
    # returned goods set aside (used, damaged, seal broken): not on hand, never sellable
    quarantined: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    warehouse: Mapped[Warehouse] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("quarantined >= 0", name="quarantined_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("safety_stock >= 0", name="safety_not_negative"),
        CheckConstraint("low_stock_threshold >= 0", name="threshold_not_negative"),
        Index("ix_stock_sku", "sku_id"),
    )

    @property
    def sellable(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class LedgerEntry(Base):
    """One change of a stock row: `quantity` is the signed change of on_hand, `reserved_change`
    the signed change of reserved (a reservation changes only reserved, a commit both)."""
    __tablename__ = "stock_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.sku_id"))
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(BigInteger)  # signed change of on_hand
    on_hand_after: Mapped[int] = mapped_column(BigInteger)
    reserved_change: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reserved_after: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # signed change of quarantined (a return set aside), and the figure after
    quarantine_change: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    quarantined_after: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    order_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    actor_user_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    warehouse: Mapped[Warehouse] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("quantity <> 0 OR reserved_change <> 0 OR quarantine_change <> 0",
                        name="changes_something"),
        CheckConstraint("on_hand_after >= 0", name="on_hand_after_not_negative"),
        CheckConstraint("reserved_after >= 0", name="reserved_after_not_negative"),
        CheckConstraint("kind IN ('receipt', 'count_correction', 'damage', 'transfer', "
                        "'reservation', 'release', 'commit', 'return', 'quarantine')",
                        name="kind_is_known"),
        Index("ix_stock_ledger_sku", "sku_id", "id"),
    )


class Reservation(Base):
    """Stock held for one order, allocated to warehouses by the shipping address."""
    __tablename__ = "reservations"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the lines: retries match
    lines: Mapped[list] = mapped_column(JSON)              # [{"sku_id", "quantity"}], as asked
    province: Mapped[str] = mapped_column(String(50))      # the destination (no personal data)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")  # why released / expired
    # lines that could not be reserved again when a paid order's hold had lapsed
    shortfall: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    allocations: Mapped[list["Allocation"]] = relationship(
        lazy="selectin", order_by="Allocation.id", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("status IN ('held', 'committed', 'released', 'expired')",
                        name="status_is_known"),
        Index("ix_reservations_held_expiry", "status", "expires_at"),
    )


class Allocation(Base):
    __tablename__ = "reservation_allocations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("reservations.order_id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.sku_id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    warehouse: Mapped[Warehouse] = relationship(lazy="joined")

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class Shipment(Base):
    """One parcel: the goods of one order from one warehouse, with one carrier's waybill."""
    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # stable per order+warehouse
    order_id: Mapped[str] = mapped_column(String(64), index=True)  # "" for a points-mall gift
    # a points-mall gift's parcel: the member's redemption (see gifts.py)
    redemption_id: Mapped[str | None] = mapped_column(String(64), index=True)
    order_no: Mapped[str] = mapped_column(String(64), default="")
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    carrier: Mapped[str] = mapped_column(String(20))
    # None until the carrier issued it (a timer books waybills outside the order.paid handler,
    # so a carrier outage never holds up a payment); unique per carrier once issued
    waybill_no: Mapped[str | None] = mapped_column(String(40), nullable=True)
    booking_error: Mapped[str] = mapped_column(String(500), default="", server_default="")
    state: Mapped[str] = mapped_column(String(20))
    state_at: Mapped[datetime] = mapped_column(UtcDateTime)  # carrier's time of it
    discreet: Mapped[bool] = mapped_column(Boolean, default=False)
    # the member's priority shipping (order.paid): picked and booked before the others, with
    # the warehouse's fastest carrier
    priority: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sender_name: Mapped[str] = mapped_column(String(100))
    destination_province: Mapped[str] = mapped_column(String(50))
    destination_city: Mapped[str] = mapped_column(String(50), default="")
    # recipient, phone and street, AES-GCM sealed (personal data; see sealed.py)
    recipient_sealed: Mapped[str] = mapped_column(Text)
    items: Mapped[list] = mapped_column(JSON)  # [{"sku_id", "title", "sku_label", "quantity"}]
    last_heard_at: Mapped[datetime] = mapped_column(UtcDateTime)  # last push or poll
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Its order was cancelled or refunded in full: the carrier is to cancel or intercept it
    # (stopping.py; a timer asks, and asks again after a failure until it answered).
    stop_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    stop_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    stop_outcome: Mapped[str] = mapped_column(String(30), default="", server_default="")
    stop_error: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # A pre-sale's release date (order.paid's ships_from): no waybill is booked before it.
    ship_after: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # an exchange's replacement (returns.py): the after-sale request it ships for
    aftersale_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True,
                                                             index=True)
    # a returned parcel whose goods were put back on the shelf (stopping.py), once
    restocked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    warehouse: Mapped[Warehouse] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("state IN ('created', 'picked_up', 'in_transit', 'out_for_delivery', "
                        "'delivered', 'exception', 'returned', 'cancelled', 'returning')",
                        name="state_is_known"),
        UniqueConstraint("carrier", "waybill_no", name="uq_shipments_waybill"),
        Index("ix_shipments_state_heard", "state", "last_heard_at"),
    )


class TrackingEvent(Base):
    """A step of a shipment's journey as the carrier reported it (pushed or polled)."""
    __tablename__ = "tracking_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.id"))
    state: Mapped[str] = mapped_column(String(20))
    carrier_code: Mapped[str] = mapped_column(String(20), default="")  # e.g. SF's opCode "80"
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    location: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(10))  # system | push | poll
    dedupe_key: Mapped[str] = mapped_column(String(120))  # a repeated push finds its row
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("shipment_id", "dedupe_key", name="uq_tracking_events_dedupe"),
        Index("ix_tracking_events_shipment", "shipment_id", "occurred_at"),
    )


class StoppedOrder(Base):
    """An order cancelled or refunded in full: nothing of it ships any more, even if its
    order.paid comes after (events arrive in any order)."""
    __tablename__ = "stopped_orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    why: Mapped[str] = mapped_column(String(200))
    stopped_at: Mapped[datetime] = mapped_column(UtcDateTime)


RETURN_STATUSES = ("expected", "booked", "inspected", "closed")


class ReturnExpectation(Base):
    """A parcel an after-sale request sends back (support's aftersale.approved), its waybill, its
    inspection, and an exchange's replacement (reservation `exchange:<request id>`)."""
    __tablename__ = "return_expectations"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # [{"line_id", "sku_id", "product_id", "quantity", "exchange_sku_id", "received"}]
    lines: Mapped[list] = mapped_column(JSON)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"), nullable=True)
    free_return_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    return_by: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(12))
    carrier: Mapped[str] = mapped_column(String(20), default="", server_default="")
    waybill_no: Mapped[str] = mapped_column(String(40), default="", server_default="")
    own_waybill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    booked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # the inspection: {"accepted", "seal_intact", "condition", "lines", "restocked_to",
    # "inspected_by", "inspected_at", "note"}; {} until inspected
    inspection: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    exchange_status: Mapped[str] = mapped_column(String(12), default="", server_default="")
    exchange_shipment_id: Mapped[str] = mapped_column(String(40), default="", server_default="")
    closed_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # loaded on use: rows are locked FOR UPDATE, which an outer join does not allow
    warehouse: Mapped[Warehouse | None] = relationship(lazy="select")

    __table_args__ = (
        CheckConstraint("status IN ('expected', 'booked', 'inspected', 'closed')",
                        name="status_is_known"),
        Index("ix_return_expectations_status", "status", "created_at"),
    )
