"""gRPC channels to other services: retries on UNAVAILABLE come from the service config (not
hand-written loops); every call without a deadline of its own gets the channel's default one
(the interceptor sets it: a service-config timeout would cap longer per-call deadlines too);
identity, request id and trace context travel as metadata, read from servicekit.context and the
current span."""
from __future__ import annotations

import json

import grpc

from . import context, tracing
from .config import env_float, grpc_target


def service_config() -> str:
    return json.dumps({
        "methodConfig": [{
            "name": [{}],  # every method of every service on this channel
            "retryPolicy": {
                "maxAttempts": 4,
                "initialBackoff": "0.1s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }],
    })


def default_deadline(timeout_seconds: float | None) -> float:
    return timeout_seconds if timeout_seconds is not None else env_float("GRPC_DEADLINE_SECONDS", 5.0)


def _options() -> list[tuple[str, object]]:
    return [("grpc.service_config", service_config()),
            ("grpc.enable_retries", 1),
            ("grpc.max_receive_message_length", 32 * 1024 * 1024),
            ("grpc.max_send_message_length", 32 * 1024 * 1024)]


def outgoing_metadata(existing) -> list[tuple[str, str]]:
    """The caller's metadata plus identity, request id and traceparent (explicit keys win)."""
    md = list(existing or ())
    present = {k for k, _ in md}
    for key, value in context.current().metadata():
        if key not in present:
            md.append((key, value))
    for key, value in tracing.inject_headers().items():
        if key not in present:
            md.append((key, value))
    return md


class _ClientCallDetails(grpc.ClientCallDetails):
    def __init__(self, details, metadata, default_timeout: float):
        self.method = details.method
        self.timeout = details.timeout if details.timeout is not None else default_timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class ContextClientInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                               grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self, default_timeout: float):
        self.default_timeout = default_timeout

    def _details(self, details):
        return _ClientCallDetails(details, outgoing_metadata(details.metadata), self.default_timeout)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)


def channel(service_name: str, *, target: str | None = None,
            timeout_seconds: float | None = None) -> grpc.Channel:
    """A blocking channel to `service_name` (threads: api processes, seeds, tests)."""
    raw = grpc.insecure_channel(target or grpc_target(service_name), options=_options())
    return grpc.intercept_channel(raw, ContextClientInterceptor(default_deadline(timeout_seconds)))


def _aio_details(details, default_timeout: float):
    timeout = details.timeout if details.timeout is not None else default_timeout
    return grpc.aio.ClientCallDetails(details.method, timeout,
                                      grpc.aio.Metadata(*outgoing_metadata(details.metadata)),
                                      details.credentials, details.wait_for_ready)


class _AioInterceptor:
    def __init__(self, default_timeout: float):
        self.default_timeout = default_timeout


# grpc.aio files each interceptor under the first call kind it implements (an elif chain), so
# one class per kind: otherwise streaming calls would travel without identity and trace.
class _AioUnaryUnary(_AioInterceptor, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(_aio_details(details, self.default_timeout), request)


class _AioUnaryStream(_AioInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(_aio_details(details, self.default_timeout), request)


class _AioStreamUnary(_AioInterceptor, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, details, request_iterator):
        return await continuation(_aio_details(details, self.default_timeout), request_iterator)


class _AioStreamStream(_AioInterceptor, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, details, request_iterator):
        return await continuation(_aio_details(details, self.default_timeout), request_iterator)


def aio_channel(service_name: str, *, target: str | None = None,
                timeout_seconds: float | None = None) -> grpc.aio.Channel:
    """An asyncio channel to `service_name` (the gateway). Create it inside the running loop."""
    timeout = default_deadline(timeout_seconds)
    return grpc.aio.insecure_channel(target or grpc_target(service_name), options=_options(),
                                     interceptors=[kind(timeout) for kind in (_AioUnaryUnary, _AioUnaryStream,
                                                                              _AioStreamUnary, _AioStreamStream)])
