"""UTC now and the RFC 3339 form the contracts use."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; we only ever store UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_today(now: datetime | None = None) -> date:
    """Business dates (birthdays, point expiry years) are Asia/Shanghai dates."""
    return (now or utcnow()).astimezone(SHANGHAI).date()


def start_of_shanghai_year(year: int) -> datetime:
    """00:00 on 1 January of `year` in Asia/Shanghai, as UTC."""
    return datetime(year, 1, 1, tzinfo=SHANGHAI).astimezone(timezone.utc)
