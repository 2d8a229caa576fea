from datetime import datetime

from sqlalchemy import DateTime, Integer, String
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
