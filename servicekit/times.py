"""Times: stored in UTC, written as RFC 3339 ("...Z") in events and JSON, and business rules on
Shanghai time (Asia/Shanghai). One place for the zone and the conversions every service needs."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Now, aware, in UTC (never the machine's local time)."""
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already (that is how we store)."""
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
    return shanghai_day(now or utcnow())


def shanghai_midnight(day: date) -> datetime:
    """00:00 of `day` in Asia/Shanghai, as an aware UTC datetime (where a Shanghai day begins)."""
    return datetime.combine(day, time(), SHANGHAI).astimezone(timezone.utc)
