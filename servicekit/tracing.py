"""OpenTelemetry: one tracer provider per process; W3C trace context carried in gRPC metadata
and AMQP headers. Spans are exported to the console only when MALL_TRACE_CONSOLE=1 (an OTLP
exporter can be added in deployment without touching service code)."""
from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from .config import env, env_float

_configured = False


def setup(process_name: str) -> None:
    global _configured
    if _configured:
        return
    # Parent-based: the edge (gateway) decides for a whole trace; 10% by default keeps span
    # recording off the hot path of most calls, while every log line still has its trace id.
    ratio = env_float("TRACE_SAMPLE_RATIO", 0.1)
    provider = TracerProvider(resource=Resource.create({"service.name": process_name}),
                              sampler=ParentBased(TraceIdRatioBased(ratio)))
    if env("TRACE_CONSOLE", "0") == "1":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer():
    return trace.get_tracer("mall")


def inject_headers(carrier: dict | None = None) -> dict:
    carrier = {} if carrier is None else carrier
    inject(carrier)
    return carrier


def extract_context(carrier: dict | None):
    """The remote trace context in `carrier`, or the current one when it carries none."""
    if not carrier or "traceparent" not in carrier:
        return otel_context.get_current()
    return extract(carrier)


def attach(ctx):
    return otel_context.attach(ctx)


def detach(token) -> None:
    otel_context.detach(token)


def current_ids() -> tuple[str, str]:
    """(trace id, span id) as hex, or empty strings outside a span."""
    span_ctx = trace.get_current_span().get_span_context()
    if not span_ctx.is_valid:
        return "", ""
    return format(span_ctx.trace_id, "032x"), format(span_ctx.span_id, "016x")
