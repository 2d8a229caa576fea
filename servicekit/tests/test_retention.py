"""Outbox rows go once published and past retention, inbox rows once past the redelivery horizon."""
from datetime import datetime, timedelta, timezone

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from sqlalchemy import select

from servicekit import metrics, retention
from servicekit.tests import kitdemo
from servicekit.tests.kitdemo.worker import Worker

NAME = kitdemo.NAME
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def outbox_row(event_id: str, created: timedelta, published: timedelta | None) -> dict:
    return {"event_id": event_id, "event_type": "note.written", "body": "{}", "headers": "{}",
            "created_at": NOW - created, "attempts": 0,
            "published_at": None if published is None else NOW - published}


def inbox_row(event_id: str, handler: str, processed: timedelta) -> dict:
    return {"event_id": event_id, "handler": handler, "event_type": "note.written",
            "processed_at": NOW - processed}


@pytest.fixture
def filled(runtime_for):
    rt = runtime_for(NAME)
    with rt.transaction() as s:
        s.execute(rt.outbox_table.insert(), [
            outbox_row("sent-long-ago", timedelta(days=2), timedelta(days=2)),
            outbox_row("sent-2h-ago", timedelta(hours=2), timedelta(hours=2)),
            outbox_row("sent-just-now", timedelta(minutes=5), timedelta(minutes=1)),
            outbox_row("never-sent", timedelta(days=3), None)])
        s.execute(rt.inbox_table.insert(), [
            inbox_row("old", "kitdemo.a", timedelta(days=8)),
            inbox_row("old", "kitdemo.b", timedelta(days=1)),  # replayed to b later: kept
            inbox_row("recent", "kitdemo.a", timedelta(days=6))])
    return rt


def kept(rt):
    with rt.transaction() as s:
        return (s.scalars(select(rt.outbox_table.c.event_id).order_by(rt.outbox_table.c.id)).all(),
                sorted(s.execute(select(rt.inbox_table.c.event_id, rt.inbox_table.c.handler)).all()))


def test_the_defaults_keep_an_hour_of_sent_events_and_a_week_of_inbox(filled):
    assert retention.prune(filled, NOW) == (2, 1)
    assert kept(filled) == (["sent-just-now", "never-sent"],
                            [("old", "kitdemo.b"), ("recent", "kitdemo.a")])
    assert metrics.OUTBOX_ROWS.labels(NAME)._value.get() == 2
    assert metrics.INBOX_ROWS.labels(NAME)._value.get() == 2
    assert retention.prune(filled, NOW) == (0, 0)  # nothing more to do


def test_zero_keeps_no_sent_event_but_never_an_unsent_one(filled, monkeypatch):
    monkeypatch.setenv("MALL_OUTBOX_RETENTION_SECONDS", "0")
    monkeypatch.setenv(f"MALL_{NAME.upper()}_INBOX_RETENTION_SECONDS", str(30 * 24 * 3600))
    assert retention.prune(filled, NOW) == (3, 0)
    assert kept(filled)[0] == ["never-sent"]


def test_chunks_delete_everything_past_retention(filled, monkeypatch):
    monkeypatch.setattr(retention, "CHUNK", 1)
    monkeypatch.setenv("MALL_INBOX_RETENTION_SECONDS", "0")
    assert retention.prune(filled, NOW) == (2, 3)
    assert kept(filled) == (["sent-just-now", "never-sent"], [])


def test_a_negative_retention_is_refused(monkeypatch):
    monkeypatch.setenv("MALL_INBOX_RETENTION_SECONDS", "-1")
    with pytest.raises(ValueError, match="MALL_INBOX_RETENTION_SECONDS must be 0 or more"):
        retention.Retention.load(NAME)


def test_every_worker_prunes_on_a_timer():
    (entrypoint,) = getattr(Worker.prune_plumbing, ENTRYPOINT_EXTENSIONS_ATTR)
    assert entrypoint.interval == retention.PRUNE_INTERVAL_SECONDS
