"""The promotion service's tables. First slice: coupon templates and issued coupons."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.db import BigId, declarative_base

Base = declarative_base()

KINDS = ("fixed_amount", "percentage", "no_threshold")
SCOPES = ("all", "categories", "products")
COUPON_STATES = ("available", "locked", "used", "expired", "revoked")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class CouponTemplate(Base):
    """What a coupon is worth, to whom, for how long and how many: coupons are issued from it."""
    __tablename__ = "coupon_templates"
    __table_args__ = (
        CheckConstraint(_one_of("kind", KINDS), name="kind_known"),
        CheckConstraint(_one_of("scope", SCOPES), name="scope_known"),
        CheckConstraint("issued_count <= total_quantity", name="within_quantity"),
        # A retried create (same staff member, same key) finds the template it made.
        UniqueConstraint("created_by", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    threshold_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    percent_off: Mapped[int] = mapped_column(Integer, default=0)
    cap_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # Either a fixed window, or a number of days counted from each claim.
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_days_after_claim: Mapped[int | None] = mapped_column(Integer)
    per_member_limit: Mapped[int] = mapped_column(Integer)
    total_quantity: Mapped[int] = mapped_column(BigInteger)
    issued_count: Mapped[int] = mapped_column(BigInteger, default=0)
    scope: Mapped[str] = mapped_column(String(16))
    category_ids: Mapped[list] = mapped_column(JSON, default=list)
    product_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))


class IssuedCoupon(Base):
    """One coupon in a member's wallet. `locked` while an unpaid order holds it."""
    __tablename__ = "issued_coupons"
    __table_args__ = (
        CheckConstraint(_one_of("status", COUPON_STATES), name="status_known"),
        CheckConstraint("(status = 'locked') = (locked_order_id IS NOT NULL)", name="lock_has_order"),
        Index("ix_issued_coupons_member_status", "member_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_order_id: Mapped[str | None] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
