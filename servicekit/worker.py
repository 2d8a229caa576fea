"""The base of every `worker` process: a nameko service whose handlers are exactly-once in effect.

    class Worker(EventWorker):
        name = "catalog"

        @on_event("logistics", "inventory.availability_changed", AvailabilityChanged)
        def availability_changed(self, session, event): ...   # in one transaction with the inbox

        @timer(60)
        def expire_reservations(self): ...

For each delivery: the envelope is parsed, the trace context is read from the AMQP headers, and
the handler runs in a transaction that first records `(event id, handler)` in the inbox; a
duplicate finds its row already there and changes nothing. A failing handler is retried a few
times; if it keeps failing, the message is parked in `<service>.dead-letters` (published with
confirms before the original is acked, so it is never lost) and `python -m servicekit
deadletters <service> replay` puts it back on the handler's own queue.

A database or broker that is briefly away is not a failing handler (`is_transient`): the message
stays unacked and the handler is tried again with capped exponential backoff
(`MALL_WORKER_TRANSIENT_RETRY_SECONDS`, 30) for `MALL_WORKER_TRANSIENT_HORIZON_SECONDS` (600);
past that it goes back on its queue (never to the dead letters) and starts over. An ack into a
connection the broker already dropped is not fatal (`_QueueConsumer`): the broker redelivers it.
"""
from __future__ import annotations

import functools
import json
import logging
import time
import traceback
from datetime import datetime, timezone

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer
from nameko.timer import timer as nameko_timer
from sqlalchemy import text

from . import metrics, retention, service, tracing
from .config import env_float, env_int
from .events import Event, exchange_name
from .times import rfc3339, utcnow

log = logging.getLogger(__name__)

ATTEMPTS = 3            # tries in-process before a message is parked
RETRY_BACKOFF = 0.2     # seconds, doubled each try

# What a database or broker that is away (restarting, failing over, busy) says. Everything else is
# the handler's own failure.
_TRANSIENT_MESSAGES = (
    "the database system is shutting down", "the database system is starting up",
    "the database system is in recovery mode", "could not connect", "server closed the connection",
    "connection refused", "connection reset", "connection timed out", "terminating connection",
    "connection is closed", "connection already closed", "ssl connection has been closed",
    "no connection to the server", "database is locked", "database is busy",
    "could not serialize access", "deadlock detected", "canceling statement due to conflict",
)
# SQLSTATEs: 08 connection exception, 40001 serialization failure, 40P01 deadlock,
# 57P admin shutdown / cannot connect now, 53300 too many connections.
_TRANSIENT_SQLSTATES = ("08", "40001", "40P01", "57P", "53300")


def is_transient(err: BaseException) -> bool:
    """True when `err` (or what caused it) says the database or the broker is briefly away,
    not that the handler is wrong: a lost or refused connection, a server shutting down or
    starting up, SQLite's "database is locked", a serialization failure or a deadlock, a broker
    connection error."""
    import sqlalchemy.exc

    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sqlalchemy.exc.TimeoutError):  # the pool waited for a connection
            return True
        if isinstance(current, (ConnectionError, TimeoutError)):  # sockets: refused, reset, ...
            return True
        sqlstate = getattr(current, "pgcode", None) or getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATES):
            return True
        if _is_broker_error(current):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) or type(current).__name__ in (
                "OperationalError", "InterfaceError"):
            message = str(current).lower()
            if any(marker in message for marker in _TRANSIENT_MESSAGES):
                return True
        current = current.__cause__ or current.__context__
    return False


def _is_broker_error(err: BaseException) -> bool:
    import amqp.exceptions
    import kombu.exceptions

    return isinstance(err, (kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError,
                            amqp.exceptions.RecoverableConnectionError))


def transient_backoff(retry: int, cap: float) -> float:
    """Seconds before transient retry number `retry` (1, 2, ...): 0.5, 1, 2, 4 ... up to `cap`."""
    return min(cap, 0.5 * 2 ** min(retry - 1, 16))


def dead_letter_queue(service_name: str) -> str:
    return f"{service_name}.dead-letters"


def handler_queue(source: str, event_type: str, service_name: str, method: str) -> str:
    """nameko's queue name for a SERVICE_POOL event handler (competing consumers across replicas)."""
    return f"evt-{source}-{event_type}--{service_name}.{method}"


def _connection_lost(err: BaseException) -> bool:
    """An ack or requeue that met a connection the broker already dropped: a socket error (reset,
    broken pipe) or kombu/amqp's connection errors."""
    return isinstance(err, OSError) or _is_broker_error(err)


class _QueueConsumer(QueueConsumer):
    """nameko's consumer, but an ack or requeue into a dead connection is not fatal. nameko skips
    them when the channel is already closed and swallows amqp's own ConnectionError, but a
    handler's green thread can ack before the consumer thread has read the broker's goodbye: the
    write meets the reset socket (ConnectionResetError, BrokenPipeError: OSErrors), the worker
    thread raises, and the container, then the process, exits. Here it is logged and dropped:
    the consumer thread finds the connection gone, reconnects, and the broker redelivers the
    unacked message, which the inbox applies once (a requeue was going back anyway)."""

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except Exception as err:
            if not _connection_lost(err):
                raise
            metrics.LOST_ACKS.labels(self.container.service_name, "ack").inc()
            log.warning("ack lost with the broker connection (%s); the message will be "
                        "redelivered and the inbox drops it", _first_line(err))

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except Exception as err:
            if not _connection_lost(err):
                raise
            metrics.LOST_ACKS.labels(self.container.service_name, "requeue").inc()
            log.warning("requeue lost with the broker connection (%s); the broker puts the "
                        "message back by itself", _first_line(err))


class _EventHandler(EventHandler):
    queue_consumer = _QueueConsumer()


class _RuntimeProvider(DependencyProvider):
    def setup(self):
        self.runtime = service.runtime(self.container.service_name)

    def get_dependency(self, worker_ctx):
        return self.runtime


class _WorkerContext(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx




# Plain SQL (PostgreSQL and SQLite both say it this way): SQLAlchemy cannot cache the compiled
# form of a dialect insert with ON CONFLICT, and compiling it per message was a tenth of a
# worker's CPU.
_INBOX_INSERT = text("INSERT INTO inbox (event_id, handler, event_type, processed_at) "
                     "VALUES (:event_id, :handler, :event_type, :processed_at) ON CONFLICT DO NOTHING")


def _insert_inbox(session, event: Event, handler: str) -> bool:
    """Records the delivery; False when this handler already applied this event."""
    # Straight to the connection: the ORM's statement handling costs more than the insert here.
    result = session.connection().execute(_INBOX_INSERT, {"event_id": event.id, "handler": handler,
                                                          "event_type": event.type,
                                                          "processed_at": datetime.now(timezone.utc)})
    return result.rowcount == 1


def on_event(source: str, event_type: str, message_type=None):
    """Declares an idempotent handler for `event_type` published by `source`.

    The handler is called as `handler(self, session, event)`; `event.data` is `message_type`
    parsed from the proto3 JSON (unknown fields ignored), or the raw dict when it is None."""
    def decorate(fn):
        @functools.wraps(fn)
        def entrypoint(self, body):
            _handle(self, fn, source, event_type, message_type, body)
        # Handler failures are parked by _handle, which then returns (ack). Only a failure to park
        # or a database/broker still away past the transient horizon raises, and requeue_on_error
        # puts the message back instead of acking it away.
        return _EventHandler.decorator(source, event_type, requeue_on_error=True)(entrypoint)
    return decorate


def _handle(worker: EventWorker, fn, source: str, event_type: str, message_type, body) -> None:
    rt = worker.runtime
    handler = f"{worker.name}.{fn.__name__}"
    headers = dict(worker.worker_ctx.context_data or {})
    otel_token = tracing.attach(tracing.extract_context(headers))
    try:
        with tracing.tracer().start_as_current_span(f"{event_type} {handler}"):
            try:
                event = Event.parse(body, message_type, worker.name)
            except Exception as err:  # a malformed message never succeeds: park it at once
                _dead_letter(rt, worker.name, source, event_type, fn.__name__, body, headers, err)
                return
            _apply(worker, rt, handler, fn, source, event_type, event, body, headers)
    finally:
        tracing.detach(otel_token)


def _apply(worker, rt, handler, fn, source, event_type, event, body, headers) -> None:
    """Runs the handler until it succeeds, is parked (its own failure, ATTEMPTS times), or, while
    the database or broker stays away past the horizon, raises so the message is requeued."""
    max_backoff = env_float("WORKER_TRANSIENT_RETRY_SECONDS", 30.0, worker.name)
    horizon = env_float("WORKER_TRANSIENT_HORIZON_SECONDS", 600.0, worker.name)
    started = time.monotonic()
    failures = transient = 0
    while True:
        try:
            with rt.transaction() as session:
                if not _insert_inbox(session, event, handler):
                    metrics.INBOX_DUPLICATES.labels(worker.name, handler).inc()
                    metrics.EVENTS_HANDLED.labels(worker.name, handler, "duplicate").inc()
                    return
                fn(worker, session, event)
            metrics.EVENTS_HANDLED.labels(worker.name, handler, "ok").inc()
            lag = (datetime.now(timezone.utc) - event.occurred_at).total_seconds()
            metrics.EVENT_LAG.labels(worker.name, handler).observe(max(lag, 0.0))
            return
        except Exception as err:
            if is_transient(err):
                transient += 1
                metrics.TRANSIENT_RETRIES.labels(worker.name, handler).inc()
                if time.monotonic() - started >= horizon:
                    log.error("%s: the database or broker is still away after %.0fs on event %s; "
                              "requeueing it: %s", handler, horizon, event.id, err)
                    raise  # requeue_on_error: back on the queue, unacked work for later
                delay = transient_backoff(transient, max_backoff)
                log.warning("%s: database or broker away on event %s (%s); retrying in %.1fs",
                            handler, event.id, _first_line(err), delay)
                time.sleep(delay)
                continue
            failures += 1
            if failures >= ATTEMPTS:
                log.exception("%s failed %s times on event %s; parking it", handler, ATTEMPTS,
                              event.id)
                _dead_letter(rt, worker.name, source, event_type, fn.__name__, body, headers, err)
                return
            log.warning("%s failed on event %s (try %s): %s", handler, event.id, failures, err)
            time.sleep(RETRY_BACKOFF * 2 ** (failures - 1))


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def _dead_letter(rt, service_name, source, event_type, method, body, headers, err) -> None:
    """Parks the message with what is needed to replay it; raises if the broker does not confirm,
    so the original is requeued rather than acked."""
    from kombu import Connection, Queue

    queue = Queue(dead_letter_queue(service_name), durable=True)
    payload = body if isinstance(body, (str, bytes)) else json.dumps(body, ensure_ascii=False)
    with Connection(rt.settings.amqp_url, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        producer.publish(
            payload, routing_key=queue.name, declare=[queue], delivery_mode=2,
            content_type="application/json", content_encoding="utf-8", retry=True,
            headers={**{k: v for k, v in headers.items() if isinstance(v, str)},
                     "x-original-queue": handler_queue(source, event_type, service_name, method),
                     "x-original-exchange": exchange_name(source),
                     "x-original-routing-key": event_type,
                     "x-handler": f"{service_name}.{method}",
                     "x-error": "".join(traceback.format_exception_only(type(err), err)).strip()[:2000],
                     "x-dead-lettered-at": rfc3339(utcnow())})
    metrics.DEAD_LETTERS.labels(service_name, f"{service_name}.{method}").inc()
    metrics.EVENTS_HANDLED.labels(service_name, f"{service_name}.{method}", "dead_lettered").inc()


def timer(interval_seconds: float):
    """A scheduled job of the worker (runs every `interval_seconds`; errors logged and counted,
    never fatal). Jobs must be safe with several replicas: lock rows, use SKIP LOCKED."""
    def decorate(fn):
        @functools.wraps(fn)
        def entrypoint(self):
            try:
                fn(self)
                metrics.TIMER_RUNS.labels(self.name, fn.__name__, "ok").inc()
            except Exception:
                metrics.TIMER_RUNS.labels(self.name, fn.__name__, "error").inc()
                log.exception("timer %s.%s failed", self.name, fn.__name__)
        return nameko_timer(interval=interval_seconds)(entrypoint)
    return decorate


class EventWorker:
    """Subclass it with `name = "<service>"`; nameko instantiates it per handled message.
    Every worker prunes its service's outbox and inbox (servicekit.retention)."""
    name: str = ""
    runtime = _RuntimeProvider()
    worker_ctx = _WorkerContext()

    @timer(retention.PRUNE_INTERVAL_SECONDS)
    def prune_plumbing(self):
        retention.prune(self.runtime)


def run(name: str) -> None:
    """Entry point of `python -m servicekit worker <name>` (eventlet already monkey-patched)."""
    import os
    import signal

    import eventlet
    from nameko.runners import ServiceRunner

    from . import logs

    os.environ.setdefault("MALL_DB_PRE_PING", "0")  # handler retries cover a dead connection
    # One connection per concurrent handler, no more: green threads wait for one instead.
    concurrency = env_int("WORKER_CONCURRENCY", 10, name)
    os.environ.setdefault("MALL_DB_POOL_SIZE", str(concurrency))
    os.environ.setdefault("MALL_DB_MAX_OVERFLOW", "0")
    rt = service.runtime(name)
    logs.setup(f"{name}-worker", rt.settings.log_level)
    tracing.setup(f"{name}-worker")
    metrics.serve(rt.settings.worker_metrics_port)
    worker_cls = service.module(name, "worker").Worker
    if worker_cls.name != name:
        raise SystemExit(f"services/{name}/worker.py: Worker.name must be {name!r}")
    config = {"AMQP_URI": rt.settings.amqp_url, "serializer": "json",
              "max_workers": concurrency,
              "HEARTBEAT": 30}
    runner = ServiceRunner(config)
    runner.add_service(worker_cls)

    def shutdown(signum, _frame):
        log.info("%s worker: signal %s, stopping", name, signum)
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    log.info("%s worker consuming", name)
    runner.wait()
