"""Weekly sessions in Asia/Shanghai: the Friday 20:00 and 22:00 boundaries, several weekdays,
the current session's end and the next session's start, clipped to the range."""
from datetime import datetime, timedelta, timezone

import pytest

from servicekit.schedules import Schedule, parse_clock

UTC = timezone.utc
# Friday 2026-12-04 20:00 Beijing = 12:00 UTC (Shanghai: UTC+8 all year, no DST).
FRI_20 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
FRI_22 = FRI_20 + timedelta(hours=2)
RANGE = (FRI_20 - timedelta(days=30), FRI_20 + timedelta(days=30))
FRIDAY_NIGHTS = Schedule(*RANGE, weekdays=(5,), start_minute=20 * 60, end_minute=22 * 60)
FRI_SAT = Schedule(*RANGE, weekdays=(5, 6), start_minute=20 * 60, end_minute=22 * 60)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize("moment,on", [
    (FRI_20 - SECOND, False),            # 19:59:59 Friday
    (FRI_20, True),                      # 20:00:00 opens
    (FRI_22 - SECOND, True),             # 21:59:59
    (FRI_22, False),                     # 22:00:00 closed (end exclusive)
    (FRI_20 + timedelta(days=1), False),  # Saturday 20:00: Friday only
    (FRI_20 + timedelta(days=7), True),  # next Friday
])
def test_friday_boundaries(moment, on):
    assert FRIDAY_NIGHTS.contains(moment) is on


def test_boundaries_are_beijing_time_all_year():
    # A Friday in July (summer in Europe/US): still 12:00 UTC.
    july = datetime(2026, 7, 3, 12, 0, tzinfo=UTC)
    s = Schedule(july - timedelta(days=1), july + timedelta(days=1), (5,), 20 * 60, 22 * 60)
    assert s.contains(july) and not s.contains(july - SECOND)
    assert s.current(july) == (july, july + timedelta(hours=2))


def test_current_session_end_and_next_start():
    assert FRIDAY_NIGHTS.current(FRI_20 + timedelta(minutes=59)) == (FRI_20, FRI_22)
    assert FRIDAY_NIGHTS.holds_until(FRI_22 - SECOND) == FRI_22
    assert FRIDAY_NIGHTS.holds_until(FRI_22) is None
    assert FRIDAY_NIGHTS.next_start(FRI_22) == (FRI_20 + timedelta(days=7), FRI_22 + timedelta(days=7))
    assert FRIDAY_NIGHTS.next_start(FRI_20 - SECOND) == (FRI_20, FRI_22)
    # During a session the next one is next week's.
    assert FRIDAY_NIGHTS.next_start(FRI_20) == (FRI_20 + timedelta(days=7), FRI_22 + timedelta(days=7))


def test_several_weekdays():
    sat_20 = FRI_20 + timedelta(days=1)
    assert FRI_SAT.contains(sat_20) and not FRI_SAT.contains(sat_20 + timedelta(days=1))
    assert FRI_SAT.next_start(FRI_22) == (sat_20, sat_20 + timedelta(hours=2))
    assert FRI_SAT.describe() == "每周五、周六 20:00-22:00"


def test_clipped_to_the_range():
    # The range ends at 21:00 on the Friday: the session holds until 21:00, then none follows.
    s = Schedule(FRI_20 - timedelta(days=3), FRI_20 + timedelta(hours=1), (5,), 20 * 60, 22 * 60)
    assert s.holds_until(FRI_20) == FRI_20 + timedelta(hours=1)
    assert s.next_start(FRI_20) is None
    # Starting mid-session: the session shows from the range's start.
    late = Schedule(FRI_20 + timedelta(minutes=30), RANGE[1], (5,), 20 * 60, 22 * 60)
    assert late.next_start(FRI_20) == (FRI_20 + timedelta(minutes=30), FRI_22)


def test_one_window_without_sessions():
    s = Schedule(FRI_20, FRI_22)
    assert s.current(FRI_20) == (FRI_20, FRI_22) and s.holds_until(FRI_22) is None
    assert s.next_start(FRI_20 - SECOND) == (FRI_20, FRI_22) and s.next_start(FRI_20) is None


def test_overlaps_by_weekday_and_hours():
    sat = Schedule(*RANGE, weekdays=(6,), start_minute=20 * 60, end_minute=22 * 60)
    thu_fri_morning = Schedule(*RANGE, weekdays=(4, 5), start_minute=8 * 60, end_minute=10 * 60)
    assert not FRIDAY_NIGHTS.overlaps(sat) and FRI_SAT.overlaps(sat)
    assert not FRI_SAT.overlaps(thu_fri_morning)
    assert FRIDAY_NIGHTS.overlaps(Schedule(*RANGE))


def test_clock():
    assert parse_clock("20:00") == 1200 and parse_clock("24:00") == 1440
    assert parse_clock("24:01") == -1 and parse_clock("2:00") == -1 and parse_clock("２0:00") == -1
