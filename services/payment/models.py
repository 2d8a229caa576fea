"""The payment service's tables. First slice: payment intents."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.db import declarative_base

Base = declarative_base()

METHODS = ("wechat_jsapi", "alipay", "card")
STATUSES = ("created", "pending", "succeeded", "failed", "cancelled", "refunded")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PaymentIntent(Base):
    """One attempt to collect an order's amount through one method. An order may have several
    (the shopper switched from WeChat Pay to Alipay); at most one ever succeeds."""
    __tablename__ = "payment_intents"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("currency = 'CNY'", name="currency_cny"),
        CheckConstraint(_one_of("method", METHODS), name="method_known"),
        CheckConstraint(_one_of("status", STATUSES), name="status_known"),
        Index("ix_payment_intents_order_created", "order_id", "created_at"),
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
