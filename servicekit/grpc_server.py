"""The gRPC server of a service's `api` process.

One interceptor does the per-call plumbing (caller context, trace span, metrics, domain error
mapping) so the cost is paid once per call. Health is NOT_SERVING until the database and the broker
answer, and again on SIGTERM before the server drains.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter
from sqlalchemy import text

from . import context, logs, metrics, service, tracing
from .config import PARTS, env, env_int
from .errors import DomainError, InvalidArgument, to_rpc_status
from .outbox import OutboxRelay

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_PLUMBING_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


class KitServerInterceptor(grpc.ServerInterceptor):
    def __init__(self, service_name: str):
        self.service_name = service_name
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(self, continuation, details):
        method = details.method
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = continuation(details)
        if handler is None or method.startswith(_PLUMBING_PREFIXES):
            return handler
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = wrapped
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        short = method.rsplit("/", 1)[-1]
        latency = metrics.RPC_LATENCY.labels(self.service_name, short)
        counters: dict[str, Counter] = {}
        tracer = tracing.tracer()

        def count(code: grpc.StatusCode) -> None:
            counter = counters.get(code.name)
            if counter is None:
                counter = counters[code.name] = metrics.RPC_REQUESTS.labels(
                    self.service_name, short, code.name)
            counter.inc()

        def begin(ctx):
            md = ctx.invocation_metadata()
            return (time.perf_counter(), context.set_current(context.CallContext.from_metadata(md)),
                    tracing.attach(tracing.extract_context(dict(md))))

        def end(state, code) -> None:
            started, token, otel_token = state
            tracing.detach(otel_token)
            context.reset(token)
            count(code)
            latency.observe(time.perf_counter() - started)

        def code_of(err: Exception, ctx) -> grpc.StatusCode:
            if isinstance(err, DomainError):
                return err.code
            return ctx.code() if _is_abort(err, ctx) else grpc.StatusCode.INTERNAL

        def fail(err: Exception, ctx, span) -> None:
            """Turns an exception into the call's status: always raises (abort does)."""
            if isinstance(err, DomainError):
                span.set_status(Status(StatusCode.ERROR, err.code.name))
                ctx.abort_with_status(rpc_status.to_status(to_rpc_status(err)))
            if _is_abort(err, ctx):
                raise err
            span.set_status(Status(StatusCode.ERROR, type(err).__name__))
            log.exception("unhandled error in %s", method)
            ctx.abort(grpc.StatusCode.INTERNAL,
                      f"internal error (request id {context.current().request_id})")

        def span():
            return tracer.start_as_current_span(method, kind=SpanKind.SERVER, record_exception=False,
                                                set_status_on_exception=False)

        def run(behavior, request, ctx):
            state, code = begin(ctx), grpc.StatusCode.OK
            try:
                with span() as current_span:
                    try:
                        refuse_nul_text(request)
                        return behavior(request, ctx)
                    except Exception as err:
                        code = code_of(err, ctx)
                        fail(err, ctx, current_span)
            finally:
                end(state, code)

        def run_stream(behavior, request, ctx):
            state, code = begin(ctx), grpc.StatusCode.OK
            try:
                with span() as current_span:
                    try:
                        yield from behavior(request, ctx)
                    except Exception as err:
                        code = code_of(err, ctx)
                        fail(err, ctx, current_span)
            finally:
                end(state, code)

        if handler.unary_unary:
            inner = handler.unary_unary
            return grpc.unary_unary_rpc_method_handler(
                lambda req, ctx: run(inner, req, ctx),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.stream_unary:
            inner_su = handler.stream_unary
            return grpc.stream_unary_rpc_method_handler(
                lambda it, ctx: run(inner_su, it, ctx),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream:
            inner_us = handler.unary_stream
            return grpc.unary_stream_rpc_method_handler(
                lambda req, ctx: run_stream(inner_us, req, ctx),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        inner_ss = handler.stream_stream
        return grpc.stream_stream_rpc_method_handler(
            lambda it, ctx: run_stream(inner_ss, it, ctx),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


def _field_holding_nul(message: Message, prefix: str = "") -> str | None:
    """The path of the first text field of `message` (nested, repeated, map) holding U+0000."""
    for fd, value in message.ListFields():
        name = prefix + fd.name
        entry = fd.message_type
        if entry is not None and entry.GetOptions().map_entry:
            nested = entry.fields_by_name["value"].message_type is not None
            for key, item in value.items():
                if isinstance(key, str) and "\0" in key:
                    return name
                found = (_field_holding_nul(item, f"{name}[{key}].") if nested
                         else (f"{name}[{key}]" if isinstance(item, str) and "\0" in item else None))
                if found:
                    return found
            continue
        items = list(enumerate(value)) if fd.is_repeated else [(None, value)]
        for index, item in items:
            path = name if index is None else f"{name}[{index}]"
            if fd.type == FieldDescriptor.TYPE_STRING and "\0" in item:
                return path
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                found = _field_holding_nul(item, path + ".")
                if found:
                    return found
    return None


def refuse_nul_text(request) -> None:
    """PostgreSQL text cannot hold U+0000 ("A string literal cannot contain NUL characters"): a
    request with one would fail deep in a handler as INTERNAL. Refused here, for every service,
    naming the field (a unary request; a stream's messages are read by its handler)."""
    if not isinstance(request, Message):
        return
    field_path = _field_holding_nul(request)
    if field_path:
        raise InvalidArgument.field(field_path, "no_nul", "text cannot contain the NUL character (U+0000)")


def _is_abort(err: Exception, ctx) -> bool:
    """ctx.abort() raises a bare Exception after setting the code; let it through untouched."""
    code = getattr(ctx, "code", lambda: None)()
    return code is not None and code != grpc.StatusCode.OK


@dataclass
class RunningServer:
    name: str
    port: int
    server: grpc.Server
    health: health.HealthServicer
    service_names: list[str]
    relay: OutboxRelay | None = None
    stopped: threading.Event = field(default_factory=threading.Event)

    def set_serving(self, serving: bool) -> None:
        status = (health_pb2.HealthCheckResponse.SERVING if serving
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        for name in ["", *self.service_names]:
            self.health.set(name, status)

    def stop(self, drain_seconds: float = 0.0, grace: float = 5.0) -> None:
        if self.stopped.is_set():
            return
        self.set_serving(False)  # load balancers stop sending before we stop accepting
        if drain_seconds:
            time.sleep(drain_seconds)
        self.server.stop(grace).wait()
        if self.relay:
            self.relay.stop()
        self.stopped.set()


def part_ports(name: str, part: str) -> tuple[int, int]:
    """(grpc port, metrics port) of a separately deployed part of `name`'s api."""
    if (name, part) not in PARTS:
        known = ", ".join(f"{s} --part {p}" for s, p in PARTS) or "none"
        raise SystemExit(f"{name} has no api part {part!r}; known: {known}")
    grpc_port, metrics_port = PARTS[(name, part)]
    if env("API_METRICS_PORT") == "0":  # metrics off for every api (tests, benchmarks)
        metrics_port = 0
    prefix = part.upper()
    return (env_int(f"{prefix}_GRPC_PORT", grpc_port, name),
            env_int(f"{prefix}_API_METRICS_PORT", metrics_port, name))


def build_server(name: str, *, port: int | None = None, host: str = "0.0.0.0",
                 with_relay: bool = True, max_workers: int | None = None,
                 part: str = "") -> RunningServer:
    """Builds and starts `name`'s server (port 0 = a free one); health starts NOT_SERVING. A
    `part` serves services.<name>.<part>_api instead of .api, on the part's own port."""
    rt = service.runtime(name)
    if part and port is None:
        port = part_ports(name, part)[0]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers or rt.settings.grpc_workers,
                                   thread_name_prefix=f"{name}-rpc"),
        interceptors=[KitServerInterceptor(name)],
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.so_reuseport", 0)])
    service_names = list(service.module(name, f"{part}_api" if part else "api").register(server, rt))
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    bound = server.add_insecure_port(f"{host}:{rt.settings.grpc_port if port is None else port}")
    if bound == 0:
        raise SystemExit(f"{name}: cannot listen on port {port}")
    server.start()
    running = RunningServer(name, bound, server, health_servicer, service_names)
    running.set_serving(False)
    if with_relay:
        running.relay = OutboxRelay(rt)
        running.relay.start()
    threading.Thread(target=_become_ready, args=(running, rt), daemon=True,
                     name=f"{name}-readiness").start()
    return running


def _become_ready(running: RunningServer, rt) -> None:
    """SERVING once the database answers and (with a relay) the broker is connected."""
    delay = 0.1
    while not running.stopped.is_set():
        try:
            with rt.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if running.relay is None or running.relay.connected.wait(timeout=delay):
                running.set_serving(True)
                log.info("%s api serving on port %s", running.name, running.port)
                return
        except Exception as err:  # keep NOT_SERVING and keep trying
            log.warning("%s not ready yet: %s", running.name, err)
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def serve(name: str, part: str = "") -> None:
    """Entry point of `python -m servicekit api <name> [--part <part>]`: runs until SIGTERM/SIGINT,
    then drains."""
    rt = service.runtime(name)
    process = f"{name}-{part}" if part else f"{name}-api"
    logs.setup(process, rt.settings.log_level)
    tracing.setup(process)
    metrics.serve(part_ports(name, part)[1] if part else rt.settings.api_metrics_port)
    running = build_server(name, part=part)
    stop_requested = threading.Event()

    def on_signal(signum, _frame):
        log.info("%s api: signal %s, draining", name, signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop_requested.wait()
    running.stop(drain_seconds=rt.settings.drain_seconds)
    log.info("%s api stopped", name)
