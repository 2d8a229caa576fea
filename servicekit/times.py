"""Times: stored in UTC, written as RFC 3339 ("...Z") in events and JSON, and business rules on
Shanghai time (Asia/Shanghai). One place for the zone and the conversions every service needs."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already (that is how we store, and
    SQLite hands it back naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def rfc3339(moment: datetime | None) -> str:
    """2026-11-23T12:00:00Z; "" for no time at all (proto3 strings have no null)."""
    return as_utc(moment).isoformat().replace("+00:00", "Z") if moment else ""


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def shanghai_day(moment: datetime) -> date:
    return as_utc(moment).astimezone(SHANGHAI).date()


def today_in_shanghai(now: datetime | None = None) -> date:
    return shanghai_day(now or datetime.now(timezone.utc))
