"""The outbox relay: a thread of the `api` process that owns one pika connection and publishes
what the service committed to its outbox table, then marks it published.

- publisher confirms + mandatory: a row is marked only after the broker took it;
- a crash between publish and mark re-sends (consumers' inboxes make that harmless);
- on PostgreSQL, `FOR UPDATE SKIP LOCKED` lets several api replicas relay side by side;
- on failure it backs off (0.1 s doubling to 10 s) and reconnects.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone

import pika
from pika.exceptions import AMQPError, UnroutableError
from sqlalchemy import func, select

from . import metrics
from .db import is_postgres
from .events import exchange_name

log = logging.getLogger(__name__)


class OutboxRelay(threading.Thread):
    def __init__(self, runtime, *, batch_size: int = 500, poll_seconds: float = 0.2):
        super().__init__(daemon=True, name=f"{runtime.name}-outbox-relay")
        self.runtime = runtime
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self._table = runtime.outbox_table
        self._exchange = exchange_name(runtime.name)
        self._backlog = metrics.OUTBOX_BACKLOG.labels(runtime.name)
        self._skip_locked = is_postgres(runtime.engine)

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.runtime.outbox_signal.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                self._ensure_connection()
                published = self.publish_batch()
                backoff = 0.1
                if published < self.batch_size:
                    # Idle: wait for a commit in this process or the poll (worker-written rows).
                    self.runtime.outbox_signal.wait(self.poll_seconds)
                    self.runtime.outbox_signal.clear()
            except Exception as err:  # broker or database down: back off, reconnect, retry
                metrics.OUTBOX_FAILURES.labels(self.runtime.name).inc()
                log.warning("outbox relay of %s: %s; retrying in %.1fs", self.runtime.name, err, backoff)
                self._close()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        self._close()

    # -- work ------------------------------------------------------------------------------
    def publish_batch(self) -> int:
        """Publishes up to batch_size unpublished rows in id order; returns how many."""
        t = self._table
        query = (select(t.c.id, t.c.event_id, t.c.event_type, t.c.body, t.c.headers)
                 .where(t.c.published_at.is_(None)).order_by(t.c.id).limit(self.batch_size))
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        with self.runtime.transaction() as session:
            rows = session.execute(query).all()
            if not rows:
                self._backlog.set(0)
                return 0
            for row in rows:
                self._publish(row)
            session.execute(t.update().where(t.c.id.in_([r.id for r in rows]))
                            .values(published_at=datetime.now(timezone.utc)))
        if len(rows) == self.batch_size:
            with self.runtime.transaction() as session:
                self._backlog.set(session.execute(
                    select(func.count()).select_from(t).where(t.c.published_at.is_(None))).scalar())
        else:
            self._backlog.set(0)
        return len(rows)

    def _publish(self, row) -> None:
        props = pika.BasicProperties(
            content_type="application/json", content_encoding="utf-8", delivery_mode=2,
            message_id=row.event_id, type=row.event_type, timestamp=int(time.time()),
            headers=json.loads(row.headers or "{}"))
        try:
            self._channel.basic_publish(self._exchange, row.event_type, row.body.encode("utf-8"),
                                        props, mandatory=True)
            metrics.OUTBOX_PUBLISHED.labels(self.runtime.name, row.event_type).inc()
        except UnroutableError:
            # No queue is bound for this type yet: nobody subscribes, nothing to deliver to.
            metrics.OUTBOX_UNROUTABLE.labels(self.runtime.name, row.event_type).inc()
            log.info("event %s (%s) had no subscriber", row.event_id, row.event_type)

    def _ensure_connection(self) -> None:
        if self._channel is not None and self._channel.is_open:
            return
        self._close()
        params = pika.URLParameters(self.runtime.settings.amqp_url)
        params.heartbeat = 30
        params.blocked_connection_timeout = 30
        self._connection = pika.BlockingConnection(params)
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        self._channel.exchange_declare(self._exchange, exchange_type="topic", durable=True)
        self.connected.set()

    def _close(self) -> None:
        self.connected.clear()
        try:
            if self._connection is not None and self._connection.is_open:
                self._connection.close()
        except AMQPError:
            pass
        self._connection = self._channel = None
