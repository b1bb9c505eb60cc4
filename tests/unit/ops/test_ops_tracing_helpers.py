"""The core's tracing helpers: trace context in and out of ``traceparent``, spans and their parents."""

from __future__ import annotations

import re

import pytest
from opentelemetry import trace

from corridor.core import tracing
from corridor.core.envelope import trace_id

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
PARENT = f"00-{TRACE}-{SPAN}-01"
_TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def test_exporter_names() -> None:
    assert tracing.exporter_name("") == "none"
    assert tracing.exporter_name(" Console ") == "console"
    assert tracing.exporter_name("otlp") == "otlp"
    with pytest.raises(ValueError, match="CORRIDOR_OTEL_EXPORTER"):
        tracing.exporter_name("jaeger")


def test_context_from_accepts_only_valid_traceparents() -> None:
    assert tracing.context_from(PARENT) is not None
    for bad in (None, "", "garbage", f"00-{'0' * 32}-{SPAN}-01", f"00-{TRACE}-{'0' * 16}-01"):
        assert tracing.context_from(bad) is None, bad


def test_child_traceparent_keeps_trace_and_flags_with_a_new_span_id() -> None:
    child = tracing.child_traceparent(PARENT)
    assert _TRACEPARENT.fullmatch(child)
    assert trace_id(child) == TRACE and child.endswith("-01") and SPAN not in child
    unsampled = tracing.child_traceparent(f"00-{TRACE}-{SPAN}-00")
    assert unsampled.endswith("-00") and trace_id(unsampled) == TRACE
    fresh = tracing.child_traceparent("not a traceparent")
    assert _TRACEPARENT.fullmatch(fresh) and trace_id(fresh) != TRACE
    assert tracing.child_traceparent(None) != tracing.child_traceparent(None)


def test_producer_and_consumer_spans_continue_the_trace() -> None:
    producer = tracing.start_producer_span("trade.orders.v1", PARENT, {"messaging.message.id": "e-1"})
    header = tracing.traceparent_of(producer)
    assert trace_id(header) == TRACE == tracing.trace_id_of(producer)
    assert header.split("-")[2] != SPAN  # a span of its own
    tracing.end_span(producer, **{"messaging.kafka.offset": 7})

    consumer = tracing.start_consumer_span("trade.orders.v1", 3, 7, header, group="g")
    context = consumer.get_span_context()
    assert format(context.trace_id, "032x") == TRACE
    assert consumer.parent is not None and format(consumer.parent.span_id, "016x") == header.split("-")[2]
    tracing.end_span(consumer, RuntimeError("boom"))
    assert not consumer.is_recording()  # ended


def test_server_span_is_current_and_continues_the_caller() -> None:
    with tracing.server_span("POST /v1/events", PARENT) as span:
        assert trace.get_current_span() is span
        assert tracing.trace_id_of(span) == TRACE
        current = tracing.current_traceparent()
        assert current is not None and trace_id(current) == TRACE
        # a producer span without an explicit parent is a child of the current span
        producer = tracing.start_producer_span("t")
        assert producer.parent is not None and producer.parent.span_id == span.get_span_context().span_id
        tracing.end_span(producer)
        # nested server spans (a framework that traces requests itself) are not doubled
        with tracing.server_span("again", None) as inner:
            assert inner is span
    with tracing.server_span("new trace", "bogus") as root:
        assert tracing.trace_id_of(root) != TRACE
    assert tracing.current_traceparent() is None
