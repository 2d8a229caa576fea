from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from servicekit import idempotency
from servicekit.db import declarative_base

Base = declarative_base()
idempotency.add_to(Base.metadata)


class Note(Base):  # type: ignore[valid-type, misc]  # mypy takes no base class made by a call
    """One row per handled event: duplicates would show as two rows with the same event id."""
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    text: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Booking(Base):  # type: ignore[valid-type, misc]
    """A row that keeps the idempotency key of the request that made it (idempotency.create_once)."""
    __tablename__ = "bookings"
    __table_args__ = (UniqueConstraint("owner", "idempotency_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(36))
    text: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
