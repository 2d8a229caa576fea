"""Counts over facts: windows, per type, per Shanghai day; bad input named field by field."""
from datetime import date, datetime, timedelta, timezone

import pytest

from servicekit.errors import InvalidArgument
from services.analytics import queries
from services.analytics.facts import record_fact

from .helpers import event

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai, 2026-11-20


@pytest.fixture
def recorded(runtime):
    with runtime.transaction() as session:
        for hours in (0, 1, 24, 48):
            record_fact(session, event("order", "order.paid", {"orderId": f"o{hours}"},
                                       occurred_at=T0 + timedelta(hours=hours)))
        record_fact(session, event("logistics", "inventory.availability_changed", {"skus": []},
                                   occurred_at=T0))
    return runtime


def run(runtime, fn, *args, **kwargs):
    with runtime.transaction() as session:
        return fn(session, *args, **kwargs)


def violated(err):
    return [(v.field, v.rule) for v in err.value.violations]


def test_count_events_in_a_half_open_window(recorded):
    assert run(recorded, queries.count_events, "order.paid") == 4
    assert run(recorded, queries.count_events, "order.paid", T0, T0 + timedelta(hours=1)) == 1
    assert run(recorded, queries.count_events, "order.paid", T0 + timedelta(hours=1)) == 3
    assert run(recorded, queries.count_events, "order.paid", None, T0) == 0
    assert run(recorded, queries.count_events, "coupon.issued") == 0


def test_event_counts_per_type(recorded):
    counts = run(recorded, queries.event_counts)
    assert [(c.event_type, c.source, c.count) for c in counts] == [
        ("inventory.availability_changed", "logistics", 1), ("order.paid", "order", 4)]
    later = run(recorded, queries.event_counts, T0 + timedelta(minutes=1))
    assert [(c.event_type, c.count) for c in later] == [("order.paid", 3)]


def test_daily_counts_fill_empty_days_oldest_first(recorded):
    days = run(recorded, queries.daily_counts, "order.paid", 5, today=date(2026, 11, 23))
    assert days == [(date(2026, 11, 19), 0), (date(2026, 11, 20), 2), (date(2026, 11, 21), 1),
                    (date(2026, 11, 22), 1), (date(2026, 11, 23), 0)]
    assert len(run(recorded, queries.daily_counts, "order.paid", 0)) == queries.DEFAULT_DAYS


def test_bad_input_names_every_field(runtime):
    with pytest.raises(InvalidArgument) as err:
        run(runtime, queries.count_events, "", T0, T0)
    assert violated(err) == [("type", "required"), ("since", "before_until")]
    with pytest.raises(InvalidArgument) as err:
        run(runtime, queries.count_events, "Order Paid")
    assert violated(err) == [("type", "format")]
    with pytest.raises(InvalidArgument) as err:
        run(runtime, queries.daily_counts, "order.paid", 400)
    assert violated(err) == [("days", "range")]
    with pytest.raises(InvalidArgument) as err:
        run(runtime, queries.event_counts, T0 + timedelta(days=1), T0)
    assert violated(err) == [("since", "before_until")]
