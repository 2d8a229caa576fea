"""One pure ASGI middleware for every request: the request id (X-Request-Id in and out, put in
the call context the gRPC calls carry on), the request's server span (whose trace the gRPC calls
continue through traceparent) and the Prometheus request metrics by route template.

Pure ASGI rather than BaseHTTPMiddleware: no extra task per request, and the contextvar set here
is the one the endpoint sees.
"""
from __future__ import annotations

import json
import re
import time
import uuid

from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram

from servicekit import context, tracing

from .problems import MEDIA_TYPE, Problem
from .schemas import IDEMPOTENCY_KEY_PATTERN

REQUESTS = Counter("mall_gateway_requests_total", "HTTP requests handled by the gateway",
                   ["method", "route", "status"])
LATENCY = Histogram("mall_gateway_request_seconds", "HTTP request latency by route template",
                    ["method", "route"],
                    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))

# A caller's request id is accepted only when it is a sane token (it ends up in logs and metadata).
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_VALID_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


async def _refuse_idempotency_key(scope, send, request_id: str) -> None:
    """400 naming the header, for any route: the key is refused before a service sees it."""
    problem = Problem(400, "invalid-argument", "the Idempotency-Key header must be 1 to 128 "
                      "printable ASCII characters without spaces", [{
                          "field": "Idempotency-Key", "rule": "format",
                          "message": "1 to 128 printable ASCII characters, no spaces"}])
    body = json.dumps(problem.body(scope.get("path", ""), request_id)).encode()
    await send({"type": "http.response.start", "status": 400, "headers": [
        (b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode("latin-1"))]})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    def __init__(self, app):
        self.app = app
        self.tracer = tracing.tracer()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        idempotency_key = ""
        trace_headers = {}
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"idempotency-key":
                idempotency_key = value.decode("latin-1")
            elif name in (b"traceparent", b"tracestate"):
                trace_headers[name.decode()] = value.decode("latin-1")
        if not _VALID_REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        # Also in the scope's state: the last-resort 500 handler runs outside this middleware.
        scope.setdefault("state", {})["request_id"] = request_id
        if idempotency_key and not _VALID_IDEMPOTENCY_KEY.match(idempotency_key):
            # It travels as gRPC metadata (ASCII only) and a key cut short could match another's.
            await _refuse_idempotency_key(scope, send, request_id)
            return
        token = context.set_current(context.CallContext(request_id=request_id,
                                                        idempotency_key=idempotency_key))
        status_code = 500
        started = time.perf_counter()

        async def send_with_id(message):
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        method = scope.get("method", "")
        span_cm = self.tracer.start_as_current_span(
            f"HTTP {method}", kind=SpanKind.SERVER, record_exception=False,
            context=tracing.extract_context(trace_headers) if trace_headers else None,
            attributes={"http.request.method": method, "mall.request_id": request_id})
        span = span_cm.__enter__()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(method, template, str(status_code)).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - started)
            span.update_name(f"{method} {template}")
            span.set_attribute("http.route", template)
            span.set_attribute("http.response.status_code", status_code)
            if status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span_cm.__exit__(None, None, None)
            context.reset(token)
