"""Counts over the recorded facts. Inputs are validated here, so the API layer only translates."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from servicekit.errors import Violations
from servicekit.times import as_utc, rfc3339, today_in_shanghai

from .models import DailyEventCount, Fact

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
DEFAULT_DAYS = 7
MAX_DAYS = 366


@dataclass(frozen=True)
class Window:
    since: datetime | None
    until: datetime | None  # None: no upper bound (a producer's clock may run a little ahead)


@dataclass(frozen=True)
class TypeCount:
    event_type: str
    source: str
    count: int


def _check_type(violations: Violations, event_type: str) -> None:
    if violations.check(bool(event_type), "type", "required",
                        "the event type is required, e.g. order.paid"):
        violations.check(bool(EVENT_TYPE.match(event_type)), "type", "format",
                         f"{event_type!r} is not an event type: lower-case words joined by "
                         "dots, e.g. order.paid or inventory.availability_changed")


def _window(violations: Violations, since: datetime | None, until: datetime | None) -> Window:
    since = as_utc(since) if since else None
    until = as_utc(until) if until else None
    if since is not None and until is not None:
        violations.check(since < until, "since", "before_until",
                         f"since ({rfc3339(since)}) must be earlier than until "
                         f"({rfc3339(until)})")
    return Window(since, until)


def _in_window(query, window: Window):
    if window.since is not None:
        query = query.where(Fact.occurred_at >= window.since)
    if window.until is not None:
        query = query.where(Fact.occurred_at < window.until)
    return query


def count_events(session: Session, event_type: str, since: datetime | None = None,
                 until: datetime | None = None) -> int:
    violations = Violations()
    _check_type(violations, event_type)
    window = _window(violations, since, until)
    violations.raise_if_any()
    query = _in_window(select(func.count()).select_from(Fact).where(Fact.event_type == event_type),
                       window)
    return session.execute(query).scalar_one()


def event_counts(session: Session, since: datetime | None = None,
                 until: datetime | None = None) -> list[TypeCount]:
    violations = Violations()
    window = _window(violations, since, until)
    violations.raise_if_any()
    query = _in_window(
        select(Fact.event_type, Fact.source, func.count()).group_by(Fact.event_type, Fact.source),
        window).order_by(Fact.event_type, Fact.source)
    return [TypeCount(t, s, n) for t, s, n in session.execute(query)]


def daily_counts(session: Session, event_type: str, days: int = 0, *,
                 today: date | None = None) -> list[tuple[date, int]]:
    """(day, count) for the last `days` Shanghai days, today included, oldest first."""
    violations = Violations()
    _check_type(violations, event_type)
    days = days or DEFAULT_DAYS
    violations.check(1 <= days <= MAX_DAYS, "days", "range",
                     f"days must be between 1 and {MAX_DAYS} (0 means {DEFAULT_DAYS}), "
                     f"not {days}")
    violations.raise_if_any()
    last = today or today_in_shanghai()
    first = last - timedelta(days=days - 1)
    rows = session.execute(
        select(DailyEventCount.day, func.sum(DailyEventCount.count))
        .where(DailyEventCount.event_type == event_type,
               DailyEventCount.day >= first, DailyEventCount.day <= last)
        .group_by(DailyEventCount.day))
    counted = {day: int(n) for day, n in rows}
    return [(first + timedelta(days=i), counted.get(first + timedelta(days=i), 0))
            for i in range(days)]
