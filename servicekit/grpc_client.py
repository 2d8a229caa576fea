"""gRPC channels to other services: a default deadline and retries on UNAVAILABLE come from the
service config (not hand-written loops); identity, request id and trace context travel as
metadata, read from servicekit.context and the current span."""
from __future__ import annotations

import json

import grpc

from . import context, tracing
from .config import env_float, grpc_target


def service_config(timeout_seconds: float) -> str:
    return json.dumps({
        "methodConfig": [{
            "name": [{}],  # every method of every service on this channel
            "timeout": f"{timeout_seconds:g}s",
            "retryPolicy": {
                "maxAttempts": 4,
                "initialBackoff": "0.1s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }],
    })


def _options(timeout_seconds: float | None) -> list[tuple[str, object]]:
    timeout = timeout_seconds if timeout_seconds is not None else env_float("GRPC_DEADLINE_SECONDS", 5.0)
    return [("grpc.service_config", service_config(timeout)),
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
    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class ContextClientInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                               grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def _details(self, details):
        return _ClientCallDetails(details, outgoing_metadata(details.metadata))

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
    raw = grpc.insecure_channel(target or grpc_target(service_name), options=_options(timeout_seconds))
    return grpc.intercept_channel(raw, ContextClientInterceptor())


def _aio_details(details):
    return grpc.aio.ClientCallDetails(details.method, details.timeout,
                                      grpc.aio.Metadata(*outgoing_metadata(details.metadata)),
                                      details.credentials, details.wait_for_ready)


# grpc.aio files each interceptor under the first call kind it implements (an elif chain), so
# one class per kind: otherwise streaming calls would travel without identity and trace.
class _AioUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(_aio_details(details), request)


class _AioUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(_aio_details(details), request)


class _AioStreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, details, request_iterator):
        return await continuation(_aio_details(details), request_iterator)


class _AioStreamStream(grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation, details, request_iterator):
        return await continuation(_aio_details(details), request_iterator)


def aio_channel(service_name: str, *, target: str | None = None,
                timeout_seconds: float | None = None) -> grpc.aio.Channel:
    """An asyncio channel to `service_name` (the gateway). Create it inside the running loop."""
    return grpc.aio.insecure_channel(target or grpc_target(service_name),
                                     options=_options(timeout_seconds),
                                     interceptors=[_AioUnaryUnary(), _AioUnaryStream(), _AioStreamUnary(),
                                                   _AioStreamStream()])
