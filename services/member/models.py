"""The member service's tables: shoppers (by WeChat openid), their shopping habits, staff
accounts, and the refresh tokens in circulation."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.db import BigId, UtcDateTime, declarative_base

Base = declarative_base()


class Member(Base):
    """A shopper, created the first time their WeChat openid signs in. A deleted member keeps
    this row, anonymised (openid replaced, nickname and avatar cleared), for the orders naming it."""
    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    avatar_url: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ShoppingHabits(Base):
    """What a member's paid orders say about them, folded from `order.paid` events.

    Keyed by member id without a foreign key: an order event may name a member this database
    has not seen (imported orders), and that must not park the event as a dead letter."""
    __tablename__ = "shopping_habits"

    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    total_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    average_order_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    last_order_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # category id -> units bought (gift lines excluded): the favourite categories are the top ones.
    category_units: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Staff(Base):
    """A member of the merchant's staff, signing in to the admin console."""
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string format
    roles: Mapped[list[str]] = mapped_column(JSON)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RefreshToken(Base):
    """One issued refresh token (by its jti). Spent on first use; all tokens descending from one
    sign-in share a family, so presenting a spent token again revokes the whole family."""
    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # "customer" | "staff"
    subject_id: Mapped[str] = mapped_column(String(36))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    spent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_refresh_tokens_subject", "subject_kind", "subject_id"),)


# --- personal data (ciphertexts: see servicekit.pii) --------------------------------------------------

class MemberProfile(Base):
    """What a shopper tells us about themselves. Name, phone and birthday are AES-GCM ciphertexts
    (`pii.Cipher`, key id beside each); the phone's keyed hash finds a member by phone. Sizes are
    not personal data in the privacy rule's sense and stay readable for reports."""
    __tablename__ = "member_profiles"

    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name_enc: Mapped[str | None] = mapped_column(Text)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    birthday_enc: Mapped[str | None] = mapped_column(Text)  # ISO date
    bra_band: Mapped[int | None] = mapped_column(Integer)    # e.g. 75
    bra_cup: Mapped[str] = mapped_column(String(4), default="")     # e.g. B
    bottoms_size: Mapped[str] = mapped_column(String(8), default="")  # e.g. M
    # The last year a birthday gift was granted, so the daily timer skips those already served.
    birthday_gift_year: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Address(Base):
    """A shipping address; everything but the flags is one ciphertext of its JSON."""
    __tablename__ = "addresses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(36), index=True)
    payload_enc: Mapped[str] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsentRecord(Base):
    """Append-only: every grant and withdrawal, with when and through what; the latest counts."""
    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(32))   # marketing
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))    # e.g. miniprogram:profile_page
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_consent_records_member", "member_id", "purpose", "id"),)


# --- tiers --------------------------------------------------------------------------------------

class Tier(Base):
    """A membership tier and its benefits. A member holds the highest-ranked tier whose threshold
    they reach (cumulative completed spend minus refunds, or lifetime earned points)."""
    __tablename__ = "tiers"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    threshold_kind: Mapped[str] = mapped_column(String(8))  # spend | points
    threshold: Mapped[int] = mapped_column(BigInteger)      # fen or points
    discount_percent: Mapped[int] = mapped_column(Integer)  # 95 = 95折, 100 = none
    points_multiplier_percent: Mapped[int] = mapped_column(Integer)  # 150 = 1.5x
    free_shipping_threshold_fen: Mapped[int] = mapped_column(BigInteger)  # 0: no tier benefit
    priority_shipping: Mapped[bool] = mapped_column(Boolean)
    exclusive_service: Mapped[bool] = mapped_column(Boolean)
    early_access: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("threshold >= 0", name="threshold_not_negative"),)


class MemberTier(Base):
    """The tier a member holds now, and when it last changed."""
    __tablename__ = "member_tiers"

    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tier_code: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    evaluated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MemberOrder(Base):
    """What member knows of one order, folded from its events in whatever order they arrive
    (loyalty/order_effects.py): what it cost, what was refunded, whether it was cancelled, and the
    points it earns and gave up. Tier spend and refund claw-backs are computed from here."""
    __tablename__ = "member_orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(36), index=True)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)   # sum of order.refunded
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # as order.completed said
    points_earned: Mapped[int] = mapped_column(BigInteger, default=0)    # credited by the earn entry
    # Claimed back: clawed back after the earn, or withheld from it when the refund came first.
    points_clawed_back: Mapped[int] = mapped_column(BigInteger, default=0)
    earn_settled: Mapped[bool] = mapped_column(Boolean, default=False)  # order.paid has been heard
    points_basis: Mapped[int] = mapped_column(BigInteger, default=0)     # what the payment earns whole
    refunded_in_full: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class YearlyReview(Base):
    """One row per year whose tier review ran: the replica that inserts it does the review."""
    __tablename__ = "yearly_reviews"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --- points -------------------------------------------------------------------------------------

class PointsAccount(Base):
    """A member's balance (the sum of their ledger), locked row by row when it changes."""
    __tablename__ = "points_accounts"

    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    earned_total: Mapped[int] = mapped_column(BigInteger, default=0)  # earned minus clawed back
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)


class PointsEntry(Base):
    """The ledger: appended, never updated except `remaining` of a credit (the lot it forms,
    consumed first-in first-out by debits and by expiry)."""
    __tablename__ = "points_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))  # earn redeem expire adjust clawback spend return
    points: Mapped[int] = mapped_column(BigInteger)  # + credit, - debit
    balance_after: Mapped[int] = mapped_column(BigInteger)
    ref: Mapped[str | None] = mapped_column(String(200))  # order id, redemption id, "<staff>:<key>" ...
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(36), default="")  # staff id of an adjustment
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # credits
    remaining: Mapped[int] = mapped_column(BigInteger, default=0)  # credits: not yet consumed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_points_entries_member", "member_id", "id"),
        # One entry per (kind, reference): an order earns once, spends once, is returned once.
        Index("uq_points_entries_kind_ref", "kind", "ref", unique=True),
        Index("ix_points_entries_open_lots", "expires_at", "id"),
    )


class PointsAllocation(Base):
    """Which lots a debit consumed, so a returned spend goes back to the lots it came from (with
    their own expiry) instead of renewing points that were about to expire."""
    __tablename__ = "points_allocations"

    debit_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger)


class LoyaltySettings(Base):
    """Staff-configurable rules, one row (id 1)."""
    __tablename__ = "loyalty_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    earn_unit_fen: Mapped[int] = mapped_column(BigInteger)       # every 10000 fen (¥100) paid ...
    earn_points_per_unit: Mapped[int] = mapped_column(Integer)   # ... earns 10 points
    expire_after_years: Mapped[int] = mapped_column(Integer)     # 1: at the end of the next year
    birthday_coupon_template_id: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(36), default="")


# --- points mall and birthday gifts ---------------------------------------------------------------

class MallItem(Base):
    """Something points buy: a coupon (issued by promotion on `points.redeemed`) or a gift."""
    __tablename__ = "mall_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # coupon | gift
    title: Mapped[str] = mapped_column(String(64))
    coupon_template_id: Mapped[str] = mapped_column(String(64), default="")
    # gift items: the SKU logistics ships (from the nearest warehouse with stock)
    gift_sku_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    points_price: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(BigInteger)
    per_member_limit: Mapped[int] = mapped_column(Integer, default=0)  # 0: no limit
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("stock >= 0", name="stock_not_negative"),
                      CheckConstraint("points_price > 0", name="price_positive"))


class Redemption(Base):
    __tablename__ = "redemptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(36))
    item_id: Mapped[str] = mapped_column(String(36))
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    request_key: Mapped[str | None] = mapped_column(String(128))  # the client's idempotency key
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # pending until promotion issued the coupon or logistics shipped the gift (fulfilled), or
    # it could not and the points went back (failed); see loyalty/redemption_outcomes.py
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    failed_reason: Mapped[str] = mapped_column(String(32), default="", server_default="")
    address_id: Mapped[str | None] = mapped_column(String(36))  # gifts: where it ships (an id only)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_redemptions_member_item", "member_id", "item_id"),
                      CheckConstraint("status IN ('pending', 'fulfilled', 'failed')",
                                      name="redemption_status_known"),
                      Index("uq_redemptions_member_key", "member_id", "request_key", unique=True))


class BirthdayGrant(Base):
    """One per member and year: the unique key is what makes the daily timer safe on replicas."""
    __tablename__ = "birthday_grants"

    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    grant_id: Mapped[str] = mapped_column(String(36), unique=True)
    coupon_template_id: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- WeChat subscribe messages ------------------------------------------------------------------

class WechatPush(Base):
    """One row per support notification: what became of pushing it to the shopper's WeChat.

    Keyed by the notification id, so a redelivered `notification.created` finds its row and
    never pushes twice. `sending` is written (and committed) before WeChat is called: a row left
    in it means the worker stopped mid-call, and the outcome is unknown, so it is not retried."""
    __tablename__ = "wechat_pushes"

    notification_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # sending | sent | refused | skipped | failed
    reason: Mapped[str] = mapped_column(String(32), default="")  # why skipped / failed, a code
    template_id: Mapped[str] = mapped_column(String(64), default="")
    errcode: Mapped[int | None] = mapped_column(Integer)  # WeChat's, when it answered one
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls to subscribe/send
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint(
        "status IN ('sending', 'sent', 'refused', 'skipped', 'failed')",
        name="wechat_push_status"),)


# --- Partner ERPs' credentials ------------------------------------------------------------------

class PartnerCredential(Base):
    """A key a partner's ERP signs its requests with. The secret is kept sealed (pii.Cipher, key
    id inside for rotation) because verifying needs it in clear; it is shown to staff only once."""
    __tablename__ = "partner_credentials"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    partner_name: Mapped[str] = mapped_column(String(128), default="")
    secret_sealed: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PartnerNonce(Base):
    """Nonces seen per key within the signature window: the primary key makes a replay (even two
    at once) lose; the worker prunes rows older than the window, which cannot be replayed anyway."""
    __tablename__ = "partner_nonces"

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


# --- WeChat's shipping-info management (发货信息管理): what was told, and what WeChat answered ----


class WechatShippingOrder(Base):
    """An order as WeChat's shipping-info service needs it, folded from events in any order:
    how it was paid (`payment.succeeded`: only WeChat Pay orders are uploaded, by WeChat's
    transaction id) and into how many shipments logistics split it (the shipment events)."""
    __tablename__ = "wechat_shipping_orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64), default="")
    payment_method: Mapped[str] = mapped_column(String(32), default="")  # "" until paid
    transaction_id: Mapped[str | None] = mapped_column(String(64))  # WeChat Pay's, when paid so
    shipment_count: Mapped[int] = mapped_column(Integer, default=0)  # 0 until a shipment is heard
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WechatShippingCall(Base):
    """One call WeChat must receive: an `upload` of one waybill's shipping info, or the order's one
    `confirm` (notify_confirm_receive). Keyed by (order, kind, waybill), so a redelivered or
    reordered event finds its row and never makes a second call. `pending` until it may go
    (the order paid with WeChat Pay, the uploads before the reminder), `sending` while claimed,
    then `done`, or `pending` again with `next_attempt_at` when WeChat asked to try later, or
    `failed` (WeChat refused what we sent: an operator's look), or `skipped` (not WeChat Pay)."""
    __tablename__ = "wechat_shipping_calls"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # upload | confirm
    waybill_no: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" for confirm
    carrier: Mapped[str] = mapped_column(String(16), default="")
    shipment_id: Mapped[str] = mapped_column(String(64), default="")
    item_desc: Mapped[str] = mapped_column(String(512), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the carrier's word
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # tries (each one claim)
    calls: Mapped[int] = mapped_column(Integer, default=0)  # HTTP calls made over all tries
    last_errcode: Mapped[int | None] = mapped_column(Integer)
    last_errmsg: Mapped[str] = mapped_column(String(256), default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint(
        "status IN ('pending', 'sending', 'done', 'failed', 'skipped')",
        name="wechat_shipping_call_status"),
        CheckConstraint("kind IN ('upload', 'confirm')", name="wechat_shipping_call_kind"))
