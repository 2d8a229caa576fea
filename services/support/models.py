"""The support service's tables: the shoppers' notification inbox and the consents it checks;
reviews, with what they need to know who may review what (delivered order lines)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from servicekit import consents, erasure
from servicekit.db import BigId, UtcDateTime, declarative_base

Base = declarative_base()
consents.add_to(Base.metadata)  # members' consents, from member.consent_changed (marketing.py)
erasure.add_to(Base.metadata)  # members who asked for erasure (member.deleted)

KINDS = ("order_created", "order_paid", "order_cancelled", "order_partly_shipped", "order_shipped",
         "order_delivered", "order_completed", "order_refunded", "coupon_expiring",
         "order_partly_refunded", "points_redemption_failed", "order_deposit_paid",
         "order_balance_due", "aftersale_applied", "aftersale_approved", "aftersale_refused",
         "aftersale_photos_wanted", "aftersale_inspection_failed", "aftersale_exchange_unavailable",
         "aftersale_refunding", "aftersale_closed")


class Notification(Base):
    """One message in a member's inbox, about an order or a coupon."""
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in KINDS)})", name="kind_known"),
        # One notice per order and kind (and refund: an order may be refunded in parts), even if
        # the producer announced the same fact twice under two event ids (the inbox only catches
        # the same event id).
        UniqueConstraint("member_id", "kind", "order_id", "refund_id",
                         name="uq_notifications_member_id_kind_order_id_refund_id"),
        UniqueConstraint("member_id", "kind", "coupon_id",
                         name="uq_notifications_member_id_kind_coupon_id"),
        UniqueConstraint("member_id", "kind", "redemption_id",
                         name="uq_notifications_member_id_kind_redemption_id"),
        Index("ix_notifications_member_id_id", "member_id", "id"),
        Index("ix_notifications_member_id_list_rank", "member_id", "list_rank"),
        Index("ix_notifications_member_unread", "member_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(String(1000))
    order_id: Mapped[str | None] = mapped_column(String(64))
    coupon_id: Mapped[str | None] = mapped_column(String(64))  # what a coupon notice is about
    redemption_id: Mapped[str | None] = mapped_column(String(64))  # a points-mall redemption
    refund_id: Mapped[str] = mapped_column(String(64), default="", server_default="")  # partial refunds
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Where the notice sits in its order's own history (inbox.history_position), and where it is
    # listed: the inbox lists by list_rank, the ids of an order's notices handed out again in the
    # order of its history, so a notice that arrived late never shows as the newest.
    history_position: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    list_rank: Mapped[int | None] = mapped_column(BigInteger)


# ------------------------------------------------------------------ reviews

FITS = ("runs_small", "true_to_size", "runs_large")


class OrderLine(Base):
    """A paid order's line, from order.paid: what the member bought, so she may review it once it
    is delivered (a Delivery of its SKU, or of the whole order)."""
    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "line_id", name="uq_order_lines_order_id_line_id"),
        Index("ix_order_lines_member_id_id", "member_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    order_no: Mapped[str] = mapped_column(String(64), default="")
    line_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    sku_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    sku_label: Mapped[str] = mapped_column(String(100), default="")
    size: Mapped[str] = mapped_column(String(16), default="")
    quantity: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # After-sales: what she paid for the line, its categories (intimate goods by category), the
    # tier benefits of the order (exclusive service: first in the desk's queue) and tier code.
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    category_ids: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    exclusive_service: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    member_tier: Mapped[str] = mapped_column(String(32), default="", server_default="")


class OrderShipped(Base):
    """An order that left the warehouse (order.status_changed to partly shipped, shipped,
    delivered or completed): a refund without return is then only for what did not arrive."""
    __tablename__ = "orders_shipped"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shipped_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LineRefund(Base):
    """Units of an order line refunded (order.refunded, one row per refund and line; line_id "*"
    for a full refund): after-sales counts them as no longer available."""
    __tablename__ = "order_line_refunds"
    __table_args__ = (
        UniqueConstraint("order_id", "refund_id", "line_id",
                         name="uq_order_line_refunds_order_id_refund_id_line_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64))
    refund_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)


class Delivery(Base):
    """What reached the member: a parcel's SKU (shipment.delivered), or the whole order (sku_id
    "" from order.status_changed to delivered or completed). Kept apart from the lines so either
    may arrive first."""
    __tablename__ = "order_deliveries"
    __table_args__ = (
        UniqueConstraint("order_id", "sku_id", name="uq_order_deliveries_order_id_sku_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64))
    sku_id: Mapped[str] = mapped_column(String(64), default="")
    delivered_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Review(Base):
    """One review of one order line; staff hide it (reason kept), never edit it."""
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("order_id", "line_id", name="uq_reviews_order_id_line_id"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),
        CheckConstraint(f"fit IN ('', {', '.join(repr(f) for f in FITS)})", name="fit_known"),
        Index("ix_reviews_product_id_id", "product_id", "id"),
        Index("ix_reviews_member_id_id", "member_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    sku_id: Mapped[str] = mapped_column(String(64))
    size: Mapped[str] = mapped_column(String(16), default="")
    sku_label: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    stars: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    fit: Mapped[str] = mapped_column(String(16), default="")
    usual_size: Mapped[str] = mapped_column(String(16), default="")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    has_photos: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    follow_up_text: Mapped[str | None] = mapped_column(Text)
    follow_up_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_by: Mapped[str | None] = mapped_column(String(64))
    reply_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reply_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    hidden_by: Mapped[str | None] = mapped_column(String(64))
    hidden_reason: Mapped[str | None] = mapped_column(String(500))


class StoredPhoto:
    """The columns of a checked photo stored under the media root (photos.Writer): a review's and
    an after-sale request's photos alike."""
    position: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(255))
    hd_key: Mapped[str] = mapped_column(String(255))
    thumbnail_key: Mapped[str] = mapped_column(String(255))


class ReviewPhoto(StoredPhoto, Base):
    """A photo of a review (or of its follow-up): the files under the media root."""
    __tablename__ = "review_photos"
    __table_args__ = (Index("ix_review_photos_review_id", "review_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(BigId, ForeignKey("reviews.id", ondelete="CASCADE"))
    follow_up: Mapped[bool] = mapped_column(Boolean, default=False)


class ReviewSummary(Base):
    """A product's visible reviews summed up (summary.py), as last published."""
    __tablename__ = "review_summaries"

    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReviewTask(Base):
    """Customer service's follow-up of a bad review (2 stars or fewer): open, then done."""
    __tablename__ = "review_tasks"
    __table_args__ = (
        UniqueConstraint("review_id", name="uq_review_tasks_review_id"),
        CheckConstraint("status IN ('open', 'done')", name="status_known"),
        Index("ix_review_tasks_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    review_id: Mapped[int] = mapped_column(BigId, ForeignKey("reviews.id", ondelete="CASCADE"))
    product_id: Mapped[str] = mapped_column(String(64))
    stars: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(8), default="open")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    done_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")


# ------------------------------------------------------------------ after-sales (售后)

AFTERSALE_KINDS = ("refund_only", "return_refund", "exchange", "repair")
AFTERSALE_STATES = ("applied", "awaiting_photos", "awaiting_return", "returning", "inspected",
                    "inspection_failed", "refunding", "closed")
AFTERSALE_OUTCOMES = ("", "refunded", "exchanged", "repaired", "refused", "withdrawn", "expired")


class AfterSale(Base):
    """A shopper's after-sales request about lines of one of her orders (aftersale_rules.py)."""
    __tablename__ = "aftersales"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in AFTERSALE_KINDS)})",
                        name="kind_known"),
        CheckConstraint(f"state IN ({', '.join(repr(k) for k in AFTERSALE_STATES)})",
                        name="state_known"),
        CheckConstraint(f"outcome IN ({', '.join(repr(k) for k in AFTERSALE_OUTCOMES)})",
                        name="outcome_known"),
        Index("ix_aftersales_member_id_id", "member_id", "id"),
        Index("ix_aftersales_state_deadline", "state", "deadline_at"),
        Index("ix_aftersales_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    order_no: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    seal_intact: Mapped[bool] = mapped_column(Boolean, default=False)
    hygiene: Mapped[bool] = mapped_column(Boolean, default=False)  # the warehouse must see the seal
    state: Mapped[str] = mapped_column(String(20), default="applied")
    outcome: Mapped[str] = mapped_column(String(16), default="")
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    free_return_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    exchange_unavailable: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str] = mapped_column(String(500), default="")
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    history: Mapped[list] = mapped_column(JSON, default=list)  # [{state, by, note, at}]


class AfterSaleLine(Base):
    __tablename__ = "aftersale_lines"
    __table_args__ = (
        UniqueConstraint("aftersale_id", "line_id", name="uq_aftersale_lines_aftersale_id_line_id"),
        Index("ix_aftersale_lines_order_id_line_id", "order_id", "line_id"),
        Index("ix_aftersale_lines_product_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    aftersale_id: Mapped[int] = mapped_column(BigId, ForeignKey("aftersales.id", ondelete="CASCADE"))
    order_id: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    sku_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    sku_label: Mapped[str] = mapped_column(String(100), default="")
    size: Mapped[str] = mapped_column(String(16), default="")
    quantity: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)   # her share for these units
    refund_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    exchange_sku_id: Mapped[str] = mapped_column(String(64), default="")


class AfterSalePhoto(StoredPhoto, Base):
    """A photo of a request (files under `aftersales/<id>/` in the media root)."""
    __tablename__ = "aftersale_photos"
    __table_args__ = (Index("ix_aftersale_photos_aftersale_id", "aftersale_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    aftersale_id: Mapped[int] = mapped_column(BigId, ForeignKey("aftersales.id", ondelete="CASCADE"))


class AfterSaleSettings(Base):
    """The merchant's after-sales rules: one row (id 1), edited by staff, versioned."""
    __tablename__ = "aftersale_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
