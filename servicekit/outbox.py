"""The outbox relay: a thread of the `api` process that owns one pika connection and publishes
what the service committed to its outbox table, then marks it published.

- publisher confirms + mandatory routing: rows are marked only after the broker confirmed them;
  a whole batch is in flight at once (asynchronous confirms), so one broker fsync covers many;
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
from pika.spec import Basic
from sqlalchemy import func, select

from . import metrics
from .db import is_postgres
from .events import exchange_name

log = logging.getLogger(__name__)


class _Batch:
    """Rows published and awaiting confirms, with the transaction that holds their locks."""

    def __init__(self, session, rows):
        self.session = session
        self.rows = rows
        self.unconfirmed: set[int] = set()
        self.nacked = False


class OutboxRelay(threading.Thread):
    def __init__(self, runtime, *, batch_size: int = 500, poll_seconds: float = 0.2):
        super().__init__(daemon=True, name=f"{runtime.name}-outbox-relay")
        self.runtime = runtime
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._connection: pika.SelectConnection | None = None
        self._channel = None
        self._batch: _Batch | None = None
        self._next_tag = 1
        self._last_poll = 0.0
        self._error: Exception | None = None
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
            self._error = None
            started = time.monotonic()
            try:
                self._run_connection()
            except Exception as err:
                self._error = err
            self._abandon_batch()
            self.connected.clear()
            if self._stopping.is_set():
                break
            if time.monotonic() - started > 30:
                backoff = 0.1  # it had been working: this is a fresh failure
            metrics.OUTBOX_FAILURES.labels(self.runtime.name).inc()
            log.warning("outbox relay of %s: %s; retrying in %.1fs", self.runtime.name,
                        self._error or "connection closed", backoff)
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, 10.0)

    def _run_connection(self) -> None:
        params = pika.URLParameters(self.runtime.settings.amqp_url)
        params.heartbeat = 30
        self._next_tag = 1
        self._connection = pika.SelectConnection(
            params, on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_connection_failed,
            on_close_callback=self._on_connection_closed)
        self._connection.ioloop.start()  # returns once the connection is closed

    def _on_connection_open(self, connection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_failed(self, connection, err) -> None:
        self._error = err if isinstance(err, Exception) else RuntimeError(str(err))
        connection.ioloop.stop()

    def _on_connection_closed(self, connection, reason) -> None:
        if not self._stopping.is_set():
            self._error = self._error or RuntimeError(f"connection closed: {reason}")
        connection.ioloop.stop()

    def _on_channel_open(self, channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(lambda ch, reason: self._fail(RuntimeError(f"channel closed: {reason}")))
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm)
        channel.exchange_declare(self._exchange, exchange_type="topic", durable=True,
                                 callback=lambda _frame: self._ready())

    def _ready(self) -> None:
        self.connected.set()
        self._schedule(0)

    def _fail(self, err: Exception) -> None:
        self._error = err
        if self._connection and self._connection.is_open:
            self._connection.close()
        elif self._connection:
            self._connection.ioloop.stop()

    def _schedule(self, delay: float) -> None:
        self._connection.ioloop.call_later(delay, self._tick)

    # -- work ------------------------------------------------------------------------------
    def _tick(self) -> None:
        if self._stopping.is_set():
            self._connection.close()
            return
        if self._batch is not None:
            return  # confirms pending: _on_confirm continues
        now = time.monotonic()
        woken = self.runtime.outbox_signal.is_set()
        if not woken and now - self._last_poll < self.poll_seconds:
            self._schedule(0.01)  # cheap: no database work until a commit or the poll is due
            return
        self.runtime.outbox_signal.clear()
        self._last_poll = now
        try:
            published = self._publish_batch()
        except Exception as err:
            self._fail(err)
            return
        if not published:
            self._schedule(0.01)

    def _publish_batch(self) -> int:
        t = self._table
        query = (select(t.c.id, t.c.event_id, t.c.event_type, t.c.body, t.c.headers)
                 .where(t.c.published_at.is_(None)).order_by(t.c.id).limit(self.batch_size))
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        session = self.runtime.sessions()
        rows = session.execute(query).all()
        if not rows:
            session.rollback()
            session.close()
            self._backlog.set(0)
            return 0
        batch = self._batch = _Batch(session, rows)
        for row in rows:
            props = pika.BasicProperties(
                content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                message_id=row.event_id, type=row.event_type, timestamp=int(time.time()),
                headers=json.loads(row.headers or "{}"))
            self._channel.basic_publish(self._exchange, row.event_type, row.body.encode("utf-8"),
                                        props, mandatory=True)
            batch.unconfirmed.add(self._next_tag)
            self._next_tag += 1
        return len(rows)

    def _on_return(self, channel, method, props, body) -> None:
        # No queue is bound for this type yet: nobody subscribes, there is nobody to deliver to.
        metrics.OUTBOX_UNROUTABLE.labels(self.runtime.name, method.routing_key).inc()
        log.info("event %s (%s) had no subscriber", props.message_id, method.routing_key)

    def _on_confirm(self, frame) -> None:
        batch = self._batch
        if batch is None:
            return
        method = frame.method
        tags = ({t for t in batch.unconfirmed if t <= method.delivery_tag} if method.multiple
                else {method.delivery_tag})
        batch.unconfirmed -= tags
        if isinstance(method, Basic.Nack):
            batch.nacked = True
        if batch.unconfirmed:
            return
        if batch.nacked:
            self._fail(RuntimeError("broker refused (nack) part of a batch"))
            return
        try:
            self._mark_published(batch)
        except Exception as err:
            self._fail(err)
            return
        self._batch = None
        self._schedule(0)

    def _mark_published(self, batch: _Batch) -> None:
        t = self._table
        session = batch.session
        try:
            session.execute(t.update().where(t.c.id.in_([r.id for r in batch.rows]))
                            .values(published_at=datetime.now(timezone.utc)))
            session.commit()
        finally:
            session.close()
        for row in batch.rows:
            metrics.OUTBOX_PUBLISHED.labels(self.runtime.name, row.event_type).inc()
        if len(batch.rows) == self.batch_size:
            with self.runtime.transaction() as s:
                self._backlog.set(s.execute(select(func.count()).select_from(t)
                                            .where(t.c.published_at.is_(None))).scalar())
        else:
            self._backlog.set(0)

    def _abandon_batch(self) -> None:
        """The connection went away mid-batch: unconfirmed rows stay unpublished and go again."""
        if self._batch is not None:
            self._batch.session.rollback()
            self._batch.session.close()
            self._batch = None
