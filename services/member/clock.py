"""The member's clock: UTC now, Shanghai dates and years (with the kit's zone and RFC 3339 form)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from servicekit.times import SHANGHAI, rfc3339

__all__ = ["SHANGHAI", "rfc3339", "shanghai_today", "start_of_shanghai_year", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def shanghai_today(now: datetime | None = None) -> date:
    """Business dates (birthdays, point expiry years) are Asia/Shanghai dates."""
    return (now or utcnow()).astimezone(SHANGHAI).date()


def start_of_shanghai_year(year: int) -> datetime:
    """00:00 on 1 January of `year` in Asia/Shanghai, as UTC."""
    return datetime(year, 1, 1, tzinfo=SHANGHAI).astimezone(timezone.utc)
