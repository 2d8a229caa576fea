"""The Prometheus metrics every process exposes (one definition each, labelled by service)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_REQUESTS = Counter("mall_rpc_requests_total", "gRPC calls handled", ["service", "method", "code"])
RPC_LATENCY = Histogram("mall_rpc_latency_seconds", "gRPC call latency", ["service", "method"],
                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
OUTBOX_BACKLOG = Gauge("mall_outbox_backlog", "events written but not yet published", ["service"])
OUTBOX_ROWS = Gauge("mall_outbox_rows", "outbox rows kept (unpublished, and published within "
                    "MALL_OUTBOX_RETENTION_SECONDS)", ["service"])
INBOX_ROWS = Gauge("mall_inbox_rows", "inbox rows kept (within MALL_INBOX_RETENTION_SECONDS)",
                   ["service"])
OUTBOX_PUBLISHED = Counter("mall_outbox_published_total", "events published", ["service", "type"])
OUTBOX_UNROUTABLE = Counter("mall_outbox_unroutable_total",
                            "events no queue was bound for (nobody subscribes yet)", ["service", "type"])
OUTBOX_FAILURES = Counter("mall_outbox_failures_total", "relay publish failures", ["service"])
EVENTS_HANDLED = Counter("mall_events_handled_total", "events handled by outcome",
                         ["service", "handler", "outcome"])
EVENT_LAG = Histogram("mall_event_lag_seconds", "from occurred_at to handled", ["service", "handler"],
                      buckets=(.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60))
INBOX_DUPLICATES = Counter("mall_inbox_duplicates_total", "redelivered events ignored",
                           ["service", "handler"])
DEAD_LETTERS = Counter("mall_dead_letters_total", "events parked after repeated failure",
                       ["service", "handler"])
TRANSIENT_RETRIES = Counter("mall_transient_retries_total", "handler tries that met a database or "
                            "broker briefly away (retried, message kept)", ["service", "handler"])
LOST_ACKS = Counter("mall_lost_acks_total", "acks or requeues a worker could not send because the "
                    "broker connection was gone (the broker redelivers; the inbox drops it)",
                    ["service", "kind"])
TIMER_RUNS = Counter("mall_timer_runs_total", "timer job runs by outcome", ["service", "job", "outcome"])


def serve(port: int) -> None:
    """Starts /metrics on `port` (0 disables it, e.g. in tests)."""
    if port:
        start_http_server(port)
