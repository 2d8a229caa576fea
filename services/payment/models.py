"""The payment service's tables: payment intents, refunds, the provider notification log, and the
kit's idempotency keys (CreatePayment)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from servicekit import idempotency
from servicekit.db import UtcDateTime, declarative_base

Base = declarative_base()
idempotency.add_to(Base.metadata)  # CreatePayment's keys

METHODS = ("wechat_jsapi", "alipay", "card")
PHASES = ("full", "deposit", "balance")   # a pre-sale order is paid twice: deposit, then balance
STATUSES = ("created", "pending", "succeeded", "failed", "cancelled", "refunded")
PROVIDERS = ("wechatpay", "alipay", "card")
REFUND_STATUSES = ("requested", "processing", "succeeded", "failed")  # requested: not yet accepted by the provider
NOTIFICATION_OUTCOMES = ("applied", "duplicate", "refused", "ignored", "error")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PaymentIntent(Base):
    """One attempt to collect an order's amount (or a pre-sale's deposit or balance: `phase`)
    through one method. An order may have several (the shopper switched from WeChat Pay to
    Alipay); at most one per phase ever succeeds."""
    __tablename__ = "payment_intents"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("currency = 'CNY'", name="currency_cny"),
        CheckConstraint(_one_of("method", METHODS), name="method_known"),
        CheckConstraint(_one_of("status", STATUSES), name="status_known"),
        CheckConstraint(_one_of("phase", PHASES), name="phase_known"),
        Index("ix_payment_intents_order_created", "order_id", "created_at"),
        # At most one open intent per order: a second create for another method cancels the first.
        Index("uq_payment_intents_open_order", "order_id", unique=True,
              postgresql_where=text("status IN ('created', 'pending')"),
              sqlite_where=text("status IN ('created', 'pending')")),
        Index("ix_payment_intents_status_updated", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    status: Mapped[str] = mapped_column(String(12))
    installment_periods: Mapped[int] = mapped_column(Integer, default=0)  # Huabei: 3, 6, 12
    provider_transaction_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Our number for it at the provider (WeChat/Alipay out_trade_no): 32 characters.
    out_trade_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    seller_percent: Mapped[int] = mapped_column(Integer, default=0)  # Huabei fee: 0 shopper, 100 seller
    # What the client was given to pay with (JSON), handed out again while the intent is open.
    client_payload: Mapped[str | None] = mapped_column(Text)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # refunds that succeeded
    # Money that arrived after the intent was cancelled (and is refunded automatically).
    paid_late_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # reconciliation
    # What of the order it collects: the whole amount, or a pre-sale's deposit or balance (order's
    # GetPayable says which is due; each phase is paid by one intent at most).
    phase: Mapped[str] = mapped_column(String(10), default="full", server_default="full")


class Refund(Base):
    """Money given back through the provider, for the whole payment or some lines. The sum of an
    intent's refunds (processing or succeeded) never exceeds what it took."""
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(_one_of("status", REFUND_STATUSES), name="status_known"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # also our out_refund_no
    payment_intent_id: Mapped[str] = mapped_column(ForeignKey("payment_intents.id"), index=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    refund_request_id: Mapped[str] = mapped_column(String(64), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(200), default="")
    lines: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [{line_id, sku_id, quantity, amount_fen}]
    provider_refund_id: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(64), default="")
    failure: Mapped[str] = mapped_column(Text, default="")  # the provider's word when it failed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class NotificationLog(Base):
    """Every notification a provider sent, verified or not, with what became of it and why."""
    __tablename__ = "notification_log"
    __table_args__ = (
        CheckConstraint(_one_of("provider", PROVIDERS), name="provider_known"),
        CheckConstraint(_one_of("outcome", NOTIFICATION_OUTCOMES), name="outcome_known"),
        Index("ix_notification_log_provider_received", "provider", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    provider: Mapped[str] = mapped_column(String(12))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    headers: Mapped[str] = mapped_column(Text)      # JSON, as received
    body: Mapped[str] = mapped_column(Text)         # as received (still encrypted for WeChat)
    verified: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(40), default="")   # e.g. TRANSACTION.SUCCESS, trade_status
    out_trade_no: Mapped[str] = mapped_column(String(64), default="", index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(36))
