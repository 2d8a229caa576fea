"""Business rules run on Shanghai time (Asia/Shanghai); times are stored in UTC. One place for the
zone and the conversions every service needs."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already (that is how we store)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def shanghai_day(moment: datetime) -> date:
    return as_utc(moment).astimezone(SHANGHAI).date()


def today_in_shanghai(now: datetime | None = None) -> date:
    return shanghai_day(now or datetime.now(timezone.utc))
