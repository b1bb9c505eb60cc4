"""OpenTelemetry tracing with W3C trace context carried in the ``traceparent`` header of every record.

The gateway continues (or starts) a trace in a SERVER span per request; ``TradeProducer`` sends each
event in a PRODUCER span whose context is the record's ``traceparent``; consumers (the ledger, later
the relay) continue the trace from that header with one CONSUMER span per record. See
docs/adr/0008-observability.md.

Spans are exported only when ``CORRIDOR_OTEL_EXPORTER`` asks for it: ``none`` (default: spans get real
ids, so the context propagates, but nothing leaves the process), ``console`` (one JSON object per span
on stderr) or ``otlp`` (OTLP over HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, default ``http://localhost:4318``; spans are batched and
dropped when no collector listens, so none is required).
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig

__all__ = [
    "EXPORTERS",
    "NO_FRAMEWORK_TELEMETRY",
    "child_traceparent",
    "configure_tracing",
    "consumer_span",
    "context_from",
    "current_traceparent",
    "end_span",
    "end_spans",
    "exporter_name",
    "recording",
    "server_span",
    "start_consumer_span",
    "start_producer_span",
    "trace_id_of",
    "traceparent_of",
]

EXPORTER_ENV = "CORRIDOR_OTEL_EXPORTER"
EXPORTERS = ("none", "console", "otlp")
_INSTRUMENTATION = "corridor"
_PROPAGATOR = TraceContextTextMapPropagator()
_TRACEPARENT = re.compile(r"00-((?!0{32})[0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-([0-9a-f]{2})")
#: ``FastAPI(telemetry=...)``: the services trace requests themselves (``server_span``); FastAPI's
#: built-in telemetry, on once a tracer provider is set, would add spans for every dependency and
#: serialisation of every request.
NO_FRAMEWORK_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
_lock = threading.Lock()
_configured: str | None = None  # the exporter the process's provider was set up with
_tracer_cache: trace.Tracer | None = None


def exporter_name(value: str | None = None) -> str:
    """The exporter asked for (argument, else ``CORRIDOR_OTEL_EXPORTER``), validated."""
    name = (value if value is not None else os.environ.get(EXPORTER_ENV, "none")).strip().lower() or "none"
    if name not in EXPORTERS:
        raise ValueError(f"{EXPORTER_ENV}={name!r}: use one of {', '.join(EXPORTERS)}")
    return name


def _one_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


def configure_tracing(service: str = "corridor", exporter: str | None = None) -> str:
    """Install the SDK tracer provider once per process (later calls keep the first one); returns the
    exporter in use. Called by each service at startup, and lazily by the first span otherwise."""
    global _configured
    with _lock:
        if _configured is not None:
            return _configured
        name = exporter_name(exporter)
        provider = TracerProvider(
            resource=Resource.create(
                {"service.name": f"corridor-{service}", "service.namespace": "corridor"}
            ),
            sampler=ParentBased(ALWAYS_ON),
        )
        if name == "console":
            provider.add_span_processor(
                SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr, formatter=_one_line))
            )
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(timeout=5)))
        trace.set_tracer_provider(provider)
        _configured = name
        return name


def recording() -> bool:
    """Whether spans leave the process (an exporter is configured). Hot paths (the ledger's per-record
    spans, the producer's) create spans only then; otherwise they only carry the context along."""
    if _configured is None:
        configure_tracing()
    return _configured != "none"


def child_traceparent(parent: str | None) -> str:
    """A ``traceparent`` for a new span in ``parent``'s trace (same trace id and flags, new span id), or
    in a new sampled trace when ``parent`` is missing or malformed. No span is recorded."""
    match = _TRACEPARENT.fullmatch(parent or "")
    if match is None:
        return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    return f"00-{match.group(1)}-{secrets.token_hex(8)}-{match.group(2)}"


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span (e.g. the gateway's request span), if there is one."""
    span = trace.get_current_span()
    return traceparent_of(span) if span.get_span_context().is_valid else None


def _tracer() -> trace.Tracer:
    global _tracer_cache
    if _tracer_cache is None:
        configure_tracing()
        _tracer_cache = trace.get_tracer(_INSTRUMENTATION)
    return _tracer_cache


def context_from(traceparent: str | None) -> Context | None:
    """The trace context of a W3C ``traceparent`` value; None when it is missing or malformed."""
    if not traceparent:
        return None
    ctx = _PROPAGATOR.extract({"traceparent": traceparent})
    span_context = trace.get_current_span(ctx).get_span_context()
    return ctx if span_context.is_valid else None


def traceparent_of(span: Span) -> str:
    """The ``traceparent`` header value that makes the receiver's span a child of ``span``."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier["traceparent"]


def trace_id_of(span: Span) -> str:
    return format(span.get_span_context().trace_id, "032x")


def _attributes(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (values or {}).items() if v is not None}


@contextmanager
def server_span(
    name: str, traceparent: str | None, attributes: Mapping[str, Any] | None = None
) -> Iterator[Span]:
    """A SERVER span, current while the block runs, continuing ``traceparent`` (else a new trace).

    When the web framework already traces the request (FastAPI does once a tracer provider is set), its
    SERVER span is the request's span: it is returned as is rather than nested in a second one."""
    current = trace.get_current_span()
    if current.is_recording() and getattr(current, "kind", None) is SpanKind.SERVER:
        if attributes:
            current.set_attributes(_attributes(attributes))
        yield current
        return
    with _tracer().start_as_current_span(
        name,
        context=context_from(traceparent),
        kind=SpanKind.SERVER,
        attributes=_attributes(attributes),
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        yield span


def start_producer_span(
    topic: str, parent_traceparent: str | None = None, attributes: Mapping[str, Any] | None = None
) -> Span:
    """A PRODUCER span for one record (ended by the caller once the broker answered); its context is
    the record's ``traceparent``. Its parent is ``parent_traceparent``, else the current span."""
    return _tracer().start_span(
        f"{topic} publish",
        context=context_from(parent_traceparent),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            **_attributes(attributes),
        },
    )


def start_consumer_span(
    topic: str,
    partition: int,
    offset: int,
    traceparent: str | None,
    attributes: Mapping[str, Any] | None = None,
    group: str | None = None,
) -> Span:
    """A CONSUMER span for one record, continuing the trace of its ``traceparent`` header."""
    return _tracer().start_span(
        f"{topic} process",
        context=context_from(traceparent),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
            **({"messaging.consumer.group.name": group} if group else {}),
            **_attributes(attributes),
        },
    )


@contextmanager
def consumer_span(
    topic: str,
    partition: int,
    offset: int,
    traceparent: str | None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """``start_consumer_span`` as the current span of a block (ended, with any error, after it)."""
    span = start_consumer_span(topic, partition, offset, traceparent, attributes)
    with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
        yield span


def end_span(span: Span | None, error: BaseException | None = None, **attributes: Any) -> None:
    """End ``span`` with ``attributes``; an ``error`` marks it failed."""
    if span is None:
        return
    if attributes:
        span.set_attributes(_attributes(attributes))
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end()


def end_spans(spans: Iterable[Span | None], error: BaseException | None = None) -> None:
    for span in spans:
        end_span(span, error)
