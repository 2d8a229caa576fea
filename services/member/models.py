"""The member service's tables: shoppers (by WeChat openid), their shopping habits, staff
accounts, and the refresh tokens in circulation."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.db import declarative_base

Base = declarative_base()


class Member(Base):
    """A shopper, created the first time their WeChat openid signs in."""
    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    avatar_url: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ShoppingHabits(Base):
    """What a member's paid orders say about them, folded from `order.paid` events.

    Keyed by member id without a foreign key: an order event may name a member this database
    has not seen (imported orders), and that must not park the event as a dead letter."""
    __tablename__ = "shopping_habits"

    member_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    total_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    average_order_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    last_order_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Staff(Base):
    """A member of the merchant's staff, signing in to the admin console."""
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string format
    roles: Mapped[list[str]] = mapped_column(JSON)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """One issued refresh token (by its jti). Spent on first use; all tokens descending from one
    sign-in share a family, so presenting a spent token again revokes the whole family."""
    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # "customer" | "staff"
    subject_id: Mapped[str] = mapped_column(String(36))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    spent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_refresh_tokens_subject", "subject_kind", "subject_id"),)
