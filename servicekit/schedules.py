"""When a time-limited offer is on: a UTC range, optionally narrowed to weekly sessions in
Asia/Shanghai ("every Friday and Saturday 20:00-22:00 Beijing time").

Pure arithmetic, no database and no clock of its own: every function takes the moment it asks
about. Promotion prices with it and catalog shows sale prices with it, so both agree on when a
session starts and ends. Asia/Shanghai has had no daylight-saving time since 1991, so a session
is always the same UTC hours (20:00-22:00 Beijing is 12:00-14:00 UTC); `zoneinfo` still does the
conversion, so the code never assumes the offset.

A session never crosses midnight (22:00-02:00 is two sessions on two days). The range is
half-open: `starts_at` is in, `ends_at` is out, and so is a session's end minute.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .times import SHANGHAI, as_utc

WEEKDAY_NAMES = ("", "周一", "周二", "周三", "周四", "周五", "周六", "周日")
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Schedule:
    starts_at: datetime              # inclusive, aware
    ends_at: datetime                # exclusive, aware
    weekdays: tuple[int, ...] = ()   # ISO 1 Monday .. 7 Sunday; empty: every moment of the range
    start_minute: int = 0            # minutes after midnight, Beijing time
    end_minute: int = 0              # exclusive; after start_minute, the same day

    @property
    def weekly(self) -> bool:
        return bool(self.weekdays)

    def contains(self, moment: datetime) -> bool:
        if not self.starts_at <= moment < self.ends_at:
            return False
        if not self.weekdays:
            return True
        local = moment.astimezone(SHANGHAI)
        minute = local.hour * 60 + local.minute
        return (local.isoweekday() in self.weekdays
                and self.start_minute <= minute < self.end_minute)

    def current(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The session `moment` is in, as (start, end) clipped to the range, or None."""
        if not self.contains(moment):
            return None
        if not self.weekdays:
            return self.starts_at, self.ends_at
        start, end = self._session_on(moment.astimezone(SHANGHAI).date())
        return max(start, self.starts_at), min(end, self.ends_at)

    def next_start(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The next session starting after `moment` (strictly later), clipped, or None."""
        if moment >= self.ends_at:
            return None
        if not self.weekdays:
            return (self.starts_at, self.ends_at) if moment < self.starts_at else None
        frm = max(moment, self.starts_at)
        day = frm.astimezone(SHANGHAI).date()
        for offset in range(8):
            d = day + timedelta(days=offset)
            if d.isoweekday() not in self.weekdays:
                continue
            start, end = self._session_on(d)
            start_clipped, end_clipped = max(start, self.starts_at), min(end, self.ends_at)
            if start_clipped >= end_clipped or end_clipped <= frm:
                continue
            if start_clipped > moment:
                return start_clipped, end_clipped
        return None

    def holds_until(self, moment: datetime) -> datetime | None:
        """When the session `moment` is in ends (None when not on)."""
        found = self.current(moment)
        return found[1] if found else None

    def session_key(self, moment: datetime) -> str:
        """Which weekly session `moment` falls in (its date in Beijing), "" without sessions."""
        return moment.astimezone(SHANGHAI).date().isoformat() if self.weekdays else ""

    def overlaps(self, other: "Schedule") -> bool:
        """Whether some moment is in both (sessions compared by weekday and time of day)."""
        if not (self.starts_at < other.ends_at and other.starts_at < self.ends_at):
            return False
        if not self.weekdays or not other.weekdays:
            return True
        return (bool(set(self.weekdays) & set(other.weekdays))
                and self.start_minute < other.end_minute
                and other.start_minute < self.end_minute)

    def describe(self) -> str:
        """"每周五、周六 20:00-22:00" (Beijing time); "" without sessions."""
        if not self.weekdays:
            return ""
        days = "、".join(WEEKDAY_NAMES[d] for d in sorted(self.weekdays))
        return f"每{days} {clock(self.start_minute)}-{clock(self.end_minute)}"

    def _session_on(self, day: date) -> tuple[datetime, datetime]:
        midnight = datetime.combine(day, time(0), tzinfo=SHANGHAI)
        return (as_utc(midnight + timedelta(minutes=self.start_minute)),
                as_utc(midnight + timedelta(minutes=self.end_minute)))


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_clock(text: str) -> int:
    """Minutes after midnight of "HH:MM" (00:00..23:59, or 24:00 for a session ending at
    midnight); -1 when it is not a clock."""
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isascii() \
            or not (text[:2] + text[3:]).isdigit():
        return -1
    hours, minutes = int(text[:2]), int(text[3:])
    if (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    return hours * 60 + minutes if hours < 24 and minutes < 60 else -1
