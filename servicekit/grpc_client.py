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


class _WithContext:
    """A multi-callable that adds the caller's metadata and the default deadline to every call.
    (A plain wrapper: grpc's client-interceptor machinery cost more than the rest of the kit.)"""

    __slots__ = ("_inner", "_timeout")

    def __init__(self, inner, default_timeout: float):
        self._inner = inner
        self._timeout = default_timeout

    def _options(self, timeout, metadata, options: dict) -> dict:
        options["timeout"] = self._timeout if timeout is None else timeout
        options["metadata"] = outgoing_metadata(metadata)
        return options

    def __call__(self, request, timeout=None, metadata=None, **options):
        return self._inner(request, **self._options(timeout, metadata, options))

    def with_call(self, request, timeout=None, metadata=None, **options):
        return self._inner.with_call(request, **self._options(timeout, metadata, options))

    def future(self, request, timeout=None, metadata=None, **options):
        return self._inner.future(request, **self._options(timeout, metadata, options))


class ContextChannel(grpc.Channel):
    """A channel whose every call, of every kind, carries identity, request id, idempotency key
    and trace context, and a deadline."""

    def __init__(self, raw: grpc.Channel, default_timeout: float):
        self._raw = raw
        self._timeout = default_timeout

    def unary_unary(self, method, *args, **kwargs):
        return _WithContext(self._raw.unary_unary(method, *args, **kwargs), self._timeout)

    def unary_stream(self, method, *args, **kwargs):
        return _WithContext(self._raw.unary_stream(method, *args, **kwargs), self._timeout)

    def stream_unary(self, method, *args, **kwargs):
        return _WithContext(self._raw.stream_unary(method, *args, **kwargs), self._timeout)

    def stream_stream(self, method, *args, **kwargs):
        return _WithContext(self._raw.stream_stream(method, *args, **kwargs), self._timeout)

    def subscribe(self, callback, try_to_connect=False):
        self._raw.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback):
        self._raw.unsubscribe(callback)

    def close(self):
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def channel(service_name: str, *, target: str | None = None,
            timeout_seconds: float | None = None) -> grpc.Channel:
    """A blocking channel to `service_name` (threads: api processes, seeds, tests)."""
    raw = grpc.insecure_channel(target or grpc_target(service_name), options=_options())
    return ContextChannel(raw, default_deadline(timeout_seconds))


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
