"""When a campaign is on: a UTC date range, optionally narrowed to a weekly session in
Asia/Shanghai (e.g. every Friday 20:00-22:00 Beijing time)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ("", "周一", "周二", "周三", "周四", "周五", "周六", "周日")


@dataclass(frozen=True)
class Window:
    starts_at: datetime              # inclusive, aware
    ends_at: datetime                # exclusive, aware
    weekday: int = 0                 # 1 Monday .. 7 Sunday (ISO); 0: every moment of the range
    session_start_minute: int = 0    # minutes after midnight, Beijing time
    session_end_minute: int = 0      # exclusive; a session never crosses midnight

    def contains(self, moment: datetime) -> bool:
        if not self.starts_at <= moment < self.ends_at:
            return False
        if not self.weekday:
            return True
        local = moment.astimezone(SHANGHAI)
        minute = local.hour * 60 + local.minute
        return (local.isoweekday() == self.weekday
                and self.session_start_minute <= minute < self.session_end_minute)

    def session_key(self, moment: datetime) -> str:
        """Which weekly session `moment` falls in (its date in Beijing), "" without sessions."""
        return moment.astimezone(SHANGHAI).date().isoformat() if self.weekday else ""

    def overlaps(self, other: "Window") -> bool:
        """Whether some moment is in both (sessions compared by weekday and time of day)."""
        if not (self.starts_at < other.ends_at and other.starts_at < self.ends_at):
            return False
        if not self.weekday or not other.weekday:
            return True
        return (self.weekday == other.weekday
                and self.session_start_minute < other.session_end_minute
                and other.session_start_minute < self.session_end_minute)

    def describe(self) -> str:
        if not self.weekday:
            return ""
        start, end = divmod(self.session_start_minute, 60), divmod(self.session_end_minute, 60)
        return f"每{WEEKDAYS[self.weekday]} {start[0]:02d}:{start[1]:02d}-{end[0]:02d}:{end[1]:02d}"
