"""The outbox relay: a thread of the `api` process that owns one pika connection and publishes
what the service committed to its outbox table, then marks it published.

- publisher confirms + mandatory routing: rows are marked only after the broker confirmed them;
  a whole batch is in flight at once (asynchronous confirms), so one broker fsync covers many;
- a crash between publish and mark re-sends (consumers' inboxes make that harmless);
- on PostgreSQL, `FOR UPDATE SKIP LOCKED` lets several api replicas relay side by side;
- on failure it backs off (0.1 s doubling to 10 s) and reconnects;
- it sleeps until woken: a commit in this process that wrote outbox rows wakes it at once
  (Runtime.wake_outbox); on PostgreSQL a commit in another process (the worker, which has no
  relay) wakes it through LISTEN/NOTIFY (Runtime's before_commit hook). A poll every
  `poll_seconds` (one second at least while listening) stays as the safety net, so a lost
  wake-up only delays an event, never loses it.

It used to tick every 10 ms to look at the signal: about 2% of a core per idle api process, and
a fifth of an api process's GIL time under load, for nothing.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pika
from pika.adapters.select_connection import PollEvents
from pika.spec import Basic
from sqlalchemy import func, select

from . import metrics
from .db import is_postgres
from .events import exchange_name

if TYPE_CHECKING:
    from pika.adapters.select_connection import _Timeout
    from pika.channel import Channel

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
        self._channel: Channel | None = None
        self._batch: _Batch | None = None
        self._next_tag = 1
        self._error: Exception | None = None
        self._table = runtime.outbox_table
        self._exchange = exchange_name(runtime.name)
        self._backlog = metrics.OUTBOX_BACKLOG.labels(runtime.name)
        self._skip_locked = is_postgres(runtime.engine)
        self._timer: _Timeout | None = None  # the pending _tick, if any
        self._listener: Any = None  # PostgreSQL (DBAPI) connection LISTENing on the outbox channel, if any
        self._listener_fd = -1
        self._listen_again_at = 0.0  # after losing the LISTEN connection: when to try again

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.runtime.remove_outbox_waker(self.wake)
        self.wake()
        if self.is_alive():
            self.join(timeout)

    def wake(self) -> None:
        """Thread-safe: look at the outbox now (a commit wrote rows, or stop was asked)."""
        connection = self._connection
        if connection is None:
            return  # not connected: _ready looks at the outbox first thing
        try:
            connection.ioloop.add_callback_threadsafe(self._on_wake)
        except Exception:  # the loop is closing: the next connection starts with a look
            pass

    def run(self) -> None:
        self.runtime.add_outbox_waker(self.wake)
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
        try:
            self._connection.ioloop.start()  # returns once the connection is closed
        finally:
            self._timer = None
            self._close_listener()

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

    def _live(self) -> pika.SelectConnection:
        """The connection whose io loop runs the callbacks that ask for it."""
        assert self._connection is not None, "a relay callback ran without a connection"
        return self._connection

    def _ready(self) -> None:
        self._listen()
        self.connected.set()
        self._schedule(0)

    def _fail(self, err: Exception) -> None:
        self._error = err
        if self._connection and self._connection.is_open:
            self._connection.close()
        elif self._connection:
            self._connection.ioloop.stop()

    def _schedule(self, delay: float) -> None:
        """The next _tick in `delay` seconds, replacing any pending one."""
        ioloop = self._live().ioloop
        if self._timer is not None:
            ioloop.remove_timeout(self._timer)
        self._timer = ioloop.call_later(delay, self._tick)

    def _on_wake(self) -> None:
        self.runtime.outbox_signal.set()  # seen after a batch in flight is marked (NOTIFY too)
        if self._stopping.is_set() or (self.connected.is_set() and self._batch is None):
            self._schedule(0)
        # else: not ready yet (_ready looks first thing), or confirms pending (_on_confirm looks
        # again right after marking the batch)

    def _poll_interval(self) -> float:
        return max(self.poll_seconds, 1.0) if self._listener is not None else self.poll_seconds

    # -- LISTEN (PostgreSQL) ---------------------------------------------------------------
    def _listen(self) -> None:
        """A connection of its own (outside the pool) LISTENing on the service's outbox channel,
        read by the relay's own io loop. Without it (SQLite, or it failed) the relay polls."""
        channel = self.runtime.outbox_channel
        if channel is None or self._listener is not None:
            return
        self._listen_again_at = time.monotonic() + 30
        conn = None
        try:
            engine = self.runtime.engine
            cargs, cparams = engine.dialect.create_connect_args(engine.url)
            conn = engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'LISTEN "{channel}"')
            fd = conn.fileno()
            self._live().ioloop.add_handler(fd, self._on_notified, PollEvents.READ)
            self._listener, self._listener_fd = conn, fd
        except Exception as err:
            log.warning("outbox relay of %s cannot LISTEN (%s): polling every %.1fs",
                        self.runtime.name, err, self.poll_seconds)
            if conn is not None:
                conn.close()

    def _on_notified(self, _fd, _events) -> None:
        conn = self._listener
        try:
            conn.poll()
        except Exception as err:
            log.warning("outbox relay of %s lost its LISTEN connection (%s): polling every %.1fs",
                        self.runtime.name, err, self.poll_seconds)
            self._close_listener()
            self._on_wake()
            return
        if conn.notifies:
            conn.notifies.clear()
            self._on_wake()

    def _close_listener(self) -> None:
        conn, self._listener = self._listener, None
        if conn is None:
            return
        try:
            if self._connection is not None and not self._connection.is_closed:
                self._connection.ioloop.remove_handler(self._listener_fd)
        except Exception:
            pass
        try:
            conn.close()
        except Exception:
            pass

    # -- work ------------------------------------------------------------------------------
    def _tick(self) -> None:
        self._timer = None
        if self._stopping.is_set():
            self._live().close()
            return
        if self._batch is not None:
            return  # confirms pending: _on_confirm continues
        if self._listener is None and time.monotonic() >= self._listen_again_at:
            self._listen()  # lost (the database restarted, say): back to waking on NOTIFY
        # Cleared before the query: a commit after this point sets it again and wakes us.
        self.runtime.outbox_signal.clear()
        try:
            published = self._publish_batch()
        except Exception as err:
            self._fail(err)
            return
        if not published:
            self._schedule(self._poll_interval())  # until woken, or the safety poll is due

    def _publish_batch(self) -> int:
        channel = self._channel
        assert channel is not None, "ticks start once the channel is open"
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
            channel.basic_publish(self._exchange, row.event_type, row.body.encode("utf-8"),
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
        # Again at once only if there may be more: a full batch, or a commit since the look that
        # made this one (it set the signal). Otherwise a look now finds nothing: three wasted
        # round trips per batch, most of the relay's database work under a steady trickle.
        if len(batch.rows) == self.batch_size or self.runtime.outbox_signal.is_set():
            self._schedule(0)
        else:
            self._schedule(self._poll_interval())

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
