"""The support service's tables: the shoppers' notification inbox, and the consents it checks."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servicekit import consents, erasure
from servicekit.db import BigId, UtcDateTime, declarative_base

Base = declarative_base()
consents.add_to(Base.metadata)  # members' consents, from member.consent_changed (marketing.py)
erasure.add_to(Base.metadata)  # members who asked for erasure (member.deleted)

KINDS = ("order_created", "order_paid", "order_cancelled", "order_partly_shipped", "order_shipped",
         "order_delivered", "order_completed", "order_refunded", "coupon_expiring",
         "order_partly_refunded", "points_redemption_failed", "order_deposit_paid",
         "order_balance_due")


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
