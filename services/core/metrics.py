"""Prometheus metric families shared by every Corridor service (names in docs/adr/0008-observability.md).

One process-wide :data:`REGISTRY` holds the families; every series carries a ``service`` label, so two
services running in one process (tests do that) stay apart. Services serve it with
:func:`metrics_response` at ``GET /metrics``, optionally with registries of their own (the ledger's
counters).

Families (all prefixed ``corridor_``):

* ``events_in_total{service,topic,type}`` — events a service took in (HTTP for the gateway, Kafka
  records for consumers);
* ``events_out_total{service,topic,type}`` — events a service produced and the broker acknowledged;
* ``errors_total{service,kind}`` — failures by kind (a problem slug, ``produce``, ``batch_failed`` …);
* ``handler_duration_seconds{service,handler}`` — time to handle one request or one consumed batch;
* ``produce_duration_seconds{service,topic}`` — send → broker acknowledgement (acks=all);
* ``consumer_lag{service,group,topic,partition}`` — records between a consumer's position and the
  partition's high watermark;
* ``dead_letters_total{service,topic,reason}`` — records dead-lettered, by original topic and error class;
* ``e2e_latency_seconds{service,topic}`` — producer wall clock at send (header ``corridor_published_ms``)
  → the consuming service's commit (the ledger's PostgreSQL transaction).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.registry import Collector

from corridor.core.envelope import PUBLISHED_MS_HEADER, RECEIVED_MS_HEADER

__all__ = ["PUBLISHED_MS_HEADER", "RECEIVED_MS_HEADER", "REGISTRY", "exposition", "metrics_response"]

#: Bucket bounds (seconds) for request and batch handling: 1 ms … 10 s.
HANDLER_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: Producer acknowledgements: 1 ms … 10 s (the gateway gives up after 10 s).
PRODUCE_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: End to end: 5 ms … 10 min (a parked event waits for its retry tiers: seconds to minutes).
E2E_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
)  # fmt: skip

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

EVENTS_IN = Counter(
    "corridor_events_in",
    "Events taken in (HTTP requests' events, consumed Kafka records), by topic and event type",
    ["service", "topic", "type"],
    registry=REGISTRY,
)
EVENTS_OUT = Counter(
    "corridor_events_out",
    "Events produced and acknowledged by the broker, by topic and event type",
    ["service", "topic", "type"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "corridor_errors",
    "Failures by kind (problem slug of a refused request, produce, batch_failed …)",
    ["service", "kind"],
    registry=REGISTRY,
)
HANDLER_DURATION = Histogram(
    "corridor_handler_duration_seconds",
    "Time to handle one HTTP request (handler = route) or one consumed batch",
    ["service", "handler"],
    buckets=HANDLER_BUCKETS,
    registry=REGISTRY,
)
PRODUCE_DURATION = Histogram(
    "corridor_produce_duration_seconds",
    "Producer send until the broker's acknowledgement (acks=all)",
    ["service", "topic"],
    buckets=PRODUCE_BUCKETS,
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "corridor_consumer_lag",
    "Records between the consumer's position and the partition's high watermark",
    ["service", "group", "topic", "partition"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "corridor_dead_letters",
    "Records dead-lettered, by original topic and reason (error class)",
    ["service", "topic", "reason"],
    registry=REGISTRY,
)
E2E_LATENCY = Histogram(
    "corridor_e2e_latency_seconds",
    "Producer send (header corridor_published_ms) until the consumer's commit (the ledger's transaction)",
    ["service", "topic"],
    buckets=E2E_BUCKETS,
    registry=REGISTRY,
)

#: Every family name as exposed (counters with ``_total``), for dashboards and tests.
FAMILIES: tuple[str, ...] = (
    "corridor_events_in_total",
    "corridor_events_out_total",
    "corridor_errors_total",
    "corridor_handler_duration_seconds",
    "corridor_produce_duration_seconds",
    "corridor_consumer_lag",
    "corridor_dead_letters_total",
    "corridor_e2e_latency_seconds",
)


def now_ms() -> int:
    """Wall clock in epoch milliseconds (what the ``corridor_*_ms`` headers carry)."""
    return time.time_ns() // 1_000_000


def short_type(ce_type: str | None) -> str:
    """``corridor.trade.orders.OrderPlaced`` → ``OrderPlaced`` (bounded label values)."""
    if not ce_type:
        return "unknown"
    return ce_type.rsplit(".", 1)[-1]


def header_value(headers: Iterable[tuple[str, bytes | None]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode("utf-8", "replace")
    return None


def header_ms(headers: Iterable[tuple[str, bytes | None]] | None, name: str) -> int | None:
    """An epoch-milliseconds header as an int (None when absent or not a number)."""
    value = header_value(headers, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def observe_e2e(service: str, topic: str, published_ms: int | None, committed_ms: int) -> float | None:
    """Record one event's end-to-end latency; returns it in seconds (None without a publish time).

    Clocks of different hosts may disagree slightly: a negative difference is recorded as zero.
    """
    if published_ms is None:
        return None
    seconds = max(0.0, (committed_ms - published_ms) / 1000)
    E2E_LATENCY.labels(service, topic).observe(seconds)
    return seconds


def set_lag(service: str, group: str, lags: dict[tuple[str, int], int]) -> None:
    """Set ``consumer_lag`` for each (topic, partition) → records behind."""
    for (topic, partition), lag in lags.items():
        CONSUMER_LAG.labels(service, group, topic, str(partition)).set(max(0, lag))


def clear_lag(service: str, group: str, partitions: Iterable[tuple[str, int]]) -> None:
    """Forget the lag series of partitions no longer assigned (another member reports them now)."""
    for topic, partition in partitions:
        try:
            CONSUMER_LAG.remove(service, group, topic, str(partition))
        except KeyError:
            pass


class _Joined(Collector):
    def __init__(self, registries: Sequence[CollectorRegistry]) -> None:
        self.registries = registries

    def collect(self) -> Iterator[Any]:
        for registry in self.registries:
            yield from registry.collect()


def exposition(*extra: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of the shared registry and ``extra`` registries."""
    if not extra:
        return generate_latest(REGISTRY)
    joined = CollectorRegistry(auto_describe=False)
    joined.register(_Joined((REGISTRY, *extra)))
    return generate_latest(joined)


def metrics_response(*extra: CollectorRegistry) -> Any:
    """A Starlette response for ``GET /metrics`` (imported lazily: the core does not need Starlette)."""
    from starlette.responses import Response

    return Response(exposition(*extra), media_type=CONTENT_TYPE_LATEST)


def sample_value(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in an exposition text (tests and the CLI read /metrics with it)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def sample_sum(text: str, name: str, **labels: str) -> float:
    """The sum of all samples of ``name`` whose labels include ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += float(sample.value)
    return total


def route_label(method: str, scope: Any) -> str:
    """``handler`` label of an HTTP request: method and route template (``POST /v1/events``), never the
    raw path (unmatched paths would make a series each)."""
    path = getattr(scope.get("route"), "path", None)
    return f"{method} {path}" if path else f"{method} (unmatched)"


def observe_request(service: str, method: str, scope: Any, seconds: float) -> None:
    HANDLER_DURATION.labels(service, route_label(method, scope)).observe(seconds)
