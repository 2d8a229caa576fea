"""Analytics' own tables: one row per fact (event) and a per-day, per-type counter rollup."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from servicekit import consents, erasure
from servicekit.db import UtcDateTime, declarative_base

Base = declarative_base()
consents.add_to(Base.metadata)  # members' consents, from member.consent_changed (tracking_consent.py)
erasure.add_to(Base.metadata)  # members who asked for erasure (member.deleted)

# JSONB on PostgreSQL (queryable, compact), plain JSON text on SQLite.
JsonData = JSON().with_variant(JSONB(), "postgresql")


class Fact(Base):
    """An event as it was published. The event id is the key, so a fact is stored once."""
    __tablename__ = "facts"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Shanghai calendar day of occurred_at: the rollup's key, kept here to rebuild it.
    day: Mapped[date] = mapped_column(Date)
    data: Mapped[dict] = mapped_column(JsonData)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_facts_type_occurred", "event_type", "occurred_at"),
                      Index("ix_facts_occurred", "occurred_at"))


class DailyEventCount(Base):
    """How many facts of a type occurred on a Shanghai calendar day; updated with each fact."""
    __tablename__ = "daily_event_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(BigInteger)


class ReturnLine(Base):
    """One line of an after-sale request (support's aftersale.applied, then aftersale.closed):
    what returns are counted by (reason, product, size). No member id: nothing personal."""
    __tablename__ = "return_lines"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(20), default="")
    reason_code: Mapped[str] = mapped_column(String(40), default="")
    product_id: Mapped[str] = mapped_column(String(64), default="")
    sku_id: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[str] = mapped_column(String(40), default="")
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)   # when applied (or first heard of)
    outcome: Mapped[str] = mapped_column(String(20), default="")  # "" until closed
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_return_lines_applied", "applied_at"),)
