"""How long the plumbing tables keep rows: outbox rows once published, inbox rows once past the
redelivery horizon. Without it both grow forever, and the outbox holds every event ever sent.

- ``MALL_OUTBOX_RETENTION_SECONDS`` (default 3600; 0 keeps none): a published row is kept this
  long (to look at what went out recently), then deleted. Unpublished rows are never touched.
- ``MALL_INBOX_RETENTION_SECONDS`` (default 7 days): an inbox row proves an event was applied, so
  it must outlive any redelivery of that event (a broker's requeue, a dead letter replayed). A
  redelivery later than this would be applied again: keep it longer than dead letters are kept.

Every worker prunes its service's tables from a timer (`EventWorker.prune_plumbing`), in chunks,
so no transaction holds many locks; the rows kept are the gauges ``mall_outbox_rows`` and
``mall_inbox_rows``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select

from . import metrics
from .config import env_int

PRUNE_INTERVAL_SECONDS = 60
CHUNK = 5000  # rows per delete statement


@dataclass(frozen=True)
class Retention:
    outbox_seconds: int
    inbox_seconds: int

    @classmethod
    def load(cls, service: str) -> "Retention":
        outbox = env_int("OUTBOX_RETENTION_SECONDS", 3600, service)
        inbox = env_int("INBOX_RETENTION_SECONDS", 7 * 24 * 3600, service)
        for setting, value in (("OUTBOX_RETENTION_SECONDS", outbox), ("INBOX_RETENTION_SECONDS", inbox)):
            if value < 0:
                raise ValueError(f"MALL_{setting} must be 0 or more seconds, got {value}")
        return cls(outbox, inbox)


def _delete_in_chunks(runtime, table, key, condition) -> int:
    deleted = 0
    while True:
        with runtime.transaction() as session:
            chunk = select(key).where(condition).limit(CHUNK).scalar_subquery()
            count = session.execute(delete(table).where(key.in_(chunk) & condition)).rowcount
        deleted += count
        if count < CHUNK:
            return deleted


def prune(runtime, now: datetime | None = None) -> tuple[int, int]:
    """Deletes what is past retention in `runtime`'s outbox and inbox; (outbox, inbox) deleted.
    Sets the gauges of the rows kept."""
    now = now or datetime.now(timezone.utc)
    keep = Retention.load(runtime.name)
    outbox, inbox = runtime.outbox_table, runtime.inbox_table
    sent = _delete_in_chunks(runtime, outbox, outbox.c.id, outbox.c.published_at.is_not(None)
                             & (outbox.c.published_at <= now - timedelta(seconds=keep.outbox_seconds)))
    # The inbox's key is two columns: its rows are chosen by their time, a chunk at a time.
    seen = _delete_in_chunks(runtime, inbox, inbox.c.event_id,
                             inbox.c.processed_at <= now - timedelta(seconds=keep.inbox_seconds))
    with runtime.transaction() as session:
        metrics.OUTBOX_ROWS.labels(runtime.name).set(
            session.scalar(select(func.count()).select_from(outbox)))
        metrics.INBOX_ROWS.labels(runtime.name).set(
            session.scalar(select(func.count()).select_from(inbox)))
    return sent, seen
