"""When a campaign is on: `servicekit.schedules.Schedule` (a UTC range, optionally narrowed to
weekly sessions in Asia/Shanghai), built here with the campaign's column names."""
from __future__ import annotations

from datetime import datetime

from servicekit.schedules import SHANGHAI, WEEKDAY_NAMES, Schedule

__all__ = ["SHANGHAI", "WEEKDAY_NAMES", "Schedule", "Window"]


def Window(starts_at: datetime, ends_at: datetime, weekday: int = 0,  # noqa: N802 (a constructor)
           session_start_minute: int = 0, session_end_minute: int = 0,
           weekdays: tuple[int, ...] = ()) -> Schedule:
    """A schedule: every moment of starts_at..ends_at, or only the weekly sessions on `weekdays`
    (or the one `weekday`) from session_start_minute to session_end_minute, Beijing time."""
    days = tuple(sorted(set(weekdays))) or ((weekday,) if weekday else ())
    return Schedule(starts_at, ends_at, days, session_start_minute, session_end_minute)
