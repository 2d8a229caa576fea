"""The promotion service's tables: coupon templates and issued coupons, campaigns and their
quotas, per-member counters, and the locks an order holds."""
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
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.db import BigId, UtcDateTime, declarative_base

Base = declarative_base()

KINDS = ("fixed_amount", "percentage", "no_threshold")
SCOPES = ("all", "categories", "products")
COUPON_STATES = ("available", "locked", "used", "expired", "revoked")
COUPON_SOURCES = ("claim", "staff", "points", "birthday")
CAMPAIGN_KINDS = ("flash_sale", "threshold", "gift", "presale", "sale")
CAMPAIGN_STATES = ("active", "ended")
LOCK_STATES = ("locked", "consumed", "released")


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
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_days_after_claim: Mapped[int | None] = mapped_column(Integer)
    per_member_limit: Mapped[int] = mapped_column(Integer)
    total_quantity: Mapped[int] = mapped_column(BigInteger)
    issued_count: Mapped[int] = mapped_column(BigInteger, default=0)
    scope: Mapped[str] = mapped_column(String(16))
    category_ids: Mapped[list] = mapped_column(JSON, default=list)
    product_ids: Mapped[list] = mapped_column(JSON, default=list)
    claimable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    # 1 when created, +1 per edit or retirement: an edit names the version it was made on.
    version: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    # Retired: no new claims or issues; coupons already issued stay valid and usable.
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retired_by: Mapped[str] = mapped_column(String(64), default="", server_default="")


class IssuedCoupon(Base):
    """One coupon in a member's wallet. `locked` while an unpaid order holds it."""
    __tablename__ = "issued_coupons"
    __table_args__ = (
        CheckConstraint(_one_of("status", COUPON_STATES), name="status_known"),
        CheckConstraint("(status = 'locked') = (locked_order_id IS NOT NULL)", name="lock_has_order"),
        CheckConstraint(_one_of("source", COUPON_SOURCES), name="source_known"),
        Index("ix_issued_coupons_member_status", "member_id", "status"),
        # The expiry timer and the reminder look for available coupons by end of validity.
        Index("ix_issued_coupons_status_valid_until", "status", "valid_until"),
        # An event (redemption, birthday grant) issues its coupon once, however often delivered.
        UniqueConstraint("issue_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    used_order_id: Mapped[str | None] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(12), default="claim", server_default="claim")
    source_ref: Mapped[str] = mapped_column(String(64), default="", server_default="")
    issue_key: Mapped[str | None] = mapped_column(String(250))  # "staff:<staff>:<key>:<member>" ...
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")


class MemberCouponCount(Base):
    """How many coupons of a template a member holds: the per-member limit, raced safely by one
    conditional upsert."""
    __tablename__ = "member_coupon_counts"
    __table_args__ = (CheckConstraint("issued >= 0", name="non_negative"),)

    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued: Mapped[int] = mapped_column(Integer)


class Campaign(Base):
    """A flash sale, a threshold ladder, a gift with purchase, a pre-sale or a sale. Kind-specific
    terms (rungs, gift, pre-sale items, flash prices, a sale's scope) are in `terms`; quotas are
    rows of their own. `version` is 1 when created, +1 per change (campaign.changed carries it;
    an edit names the version it was made on)."""
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(_one_of("kind", CAMPAIGN_KINDS), name="kind_known"),
        CheckConstraint(_one_of("status", CAMPAIGN_STATES), name="status_known"),
        CheckConstraint(_one_of("scope", SCOPES), name="scope_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("weekday BETWEEN 0 AND 7", name="weekday_known"),
        UniqueConstraint("created_by", "idempotency_key"),
        Index("ix_campaigns_status_ends_at", "status", "ends_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(8), default="active")
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # 0: no weekly session
    # Several session days (a sale on Fridays and Saturdays); empty: `weekday` alone.
    weekdays: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    session_start_minute: Mapped[int] = mapped_column(Integer, default=0)
    session_end_minute: Mapped[int] = mapped_column(Integer, default=0)
    per_member_limit: Mapped[int] = mapped_column(Integer, default=0)
    scope: Mapped[str] = mapped_column(String(16), default="all")
    category_ids: Mapped[list] = mapped_column(JSON, default=list)
    product_ids: Mapped[list] = mapped_column(JSON, default=list)
    terms: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")

    def session_days(self) -> tuple[int, ...]:
        return tuple(self.weekdays or ()) or ((self.weekday,) if self.weekday else ())


class StackingSettings(Base):
    """The merchant's stacking rules for sale lines and the price floor: one row (id 1), absent
    until staff set them (then the environment's defaults apply)."""
    __tablename__ = "stacking_settings"
    __table_args__ = (CheckConstraint("floor_percent BETWEEN 0 AND 100", name="floor_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_discount_on_sale_items: Mapped[bool] = mapped_column(Boolean)
    threshold_on_sale_items: Mapped[bool] = mapped_column(Boolean)
    coupons_on_sale_items: Mapped[bool] = mapped_column(Boolean)
    points_on_sale_items: Mapped[bool] = mapped_column(Boolean)
    floor_percent: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CampaignQuota(Base):
    """Units of a SKU a campaign may give at its price (flash sale) or as a gift; `taken` counts
    locked and sold units and never passes `total` (one conditional UPDATE takes them).
    A weekly flash sale has a quota per session (`session_key`, the session's date in Beijing,
    its row made by the first lock); every other campaign one quota (`session_key` empty)."""
    __tablename__ = "campaign_quotas"
    __table_args__ = (CheckConstraint("taken >= 0 AND taken <= total", name="within_total"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_key: Mapped[str] = mapped_column(String(10), primary_key=True, default="",
                                             server_default="")
    total: Mapped[int] = mapped_column(BigInteger)
    taken: Mapped[int] = mapped_column(BigInteger, default=0)


class MemberQuotaUsage(Base):
    """Units of a campaign (per session, for a weekly one) a member holds, locked or bought: its
    per-member limit."""
    __tablename__ = "member_quota_usage"
    __table_args__ = (CheckConstraint("used >= 0", name="non_negative"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_key: Mapped[str] = mapped_column(String(10), primary_key=True, default="",
                                             server_default="")
    used: Mapped[int] = mapped_column(BigInteger)


class OrderLock(Base):
    """What one order holds (coupons, quota units) from LockForOrder until paid or released."""
    __tablename__ = "order_locks"
    __table_args__ = (
        CheckConstraint(_one_of("status", LOCK_STATES), name="status_known"),
        Index("ix_order_locks_status_expires_at", "status", "expires_at"),
    )

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    coupon_ids: Mapped[list] = mapped_column(JSON, default=list)
    # [[campaign_id, sku_id, quantity, session_key]]: what to give back on release
    flash_lines: Mapped[list] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    request_fingerprint: Mapped[str] = mapped_column(String(64))


HISTORY_SUBJECTS = ("campaign", "coupon_template")
HISTORY_ACTIONS = ("created", "updated", "ended", "retired")


class ChangeRecord(Base):
    """One staff change of a campaign or a coupon template: who, when, and each field's value
    before and after ([[field, before, after]], values as text, "" for unset)."""
    __tablename__ = "change_history"
    __table_args__ = (
        CheckConstraint(_one_of("subject", HISTORY_SUBJECTS), name="subject_known"),
        CheckConstraint(_one_of("action", HISTORY_ACTIONS), name="action_known"),
        Index("ix_change_history_subject", "subject", "subject_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(BigInteger)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changes: Mapped[list] = mapped_column(JSON, default=list)
