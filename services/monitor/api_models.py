"""The JSON answers of the monitor's API as pydantic models, for its OpenAPI document only.

The collector builds the answers (``collector.py``, ``views.py``); these models name their fields so a
generated client is typed. Records seen on the topics (``RecordItem``) keep the keys the tail adds for
their kind (DLQ reason, original topic …) as extra fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Sample(BaseModel):
    """What every view carries: when the collector last sampled Kafka and what failed."""

    sampled_at_ms: int | None
    refresh_s: float
    ticks: int
    errors: dict[str, str]


class PartitionRange(BaseModel):
    partition: int
    start: int
    end: int
    records: int


class TopicRow(BaseModel):
    name: str
    kind: str
    partitions: list[PartitionRange]
    end_offset: int
    records: int
    rate: float
    rate_1m: float
    history: list[list[float]]


class Topics(Sample):
    topics: list[TopicRow]


class PartitionLag(BaseModel):
    partition: int
    committed: int | None
    end: int | None
    lag: int | None


class TopicLag(BaseModel):
    topic: str
    lag: int
    partitions: list[PartitionLag]


class GroupRow(BaseModel):
    group_id: str
    state: str | None
    members: int
    protocol_type: str | None
    lag: int | None
    partitions: int
    topics: list[TopicLag]
    history: list[list[float]]
    error: str | None


class Groups(Sample):
    ledger_group: str
    count: int
    groups: list[GroupRow]


class RecordItem(BaseModel):
    """A record the tail saw (metadata, no payload)."""

    model_config = ConfigDict(extra="allow")

    seq: int
    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int
    observed_ms: int
    live: bool
    size: int
    schema_id: int | None
    kind: str
    type: str | None = None


class Reason(BaseModel):
    error_class: str | None
    reason: str | None
    count: int
    example: Any


class DeadLetters(Sample):
    topic: str
    exists: bool
    depth: int
    end_offset: int
    rate: float
    rate_1m: float
    scanned: int
    top_reasons: list[Reason]
    by_error_class: dict[str, int]
    by_original_topic: dict[str, int]
    recent: list[RecordItem]


class HistogramBucket(BaseModel):
    le_ms: float | None
    count: int


class Latency(Sample):
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    sources: dict[str, int]
    histogram: list[HistogramBucket]
    window_s: float
    source: str | None
    source_text: str
    ledger_schema: str
    pending: int
    clamped: int
    history: list[list[float | None]]


class TradeStates(Sample):
    ledger_schema: str
    available: bool
    trades: dict[str, int]
    shipments: dict[str, int]
    certificates: dict[str, int]
    trades_total: int
    events_stored: int
    #: the ledger's decisions (ADR 27): pending and rejected events, accepted ones not yet published
    decisions: dict[str, int]
    error: str | None


class Kpis(BaseModel):
    trade_events: int
    trade_rate: float
    trade_rate_1m: float
    ledger_lag: int | None
    dlq_depth: int
    latency_p95_ms: float | None
    trades: int


class StreamState(BaseModel):
    seen: int
    subscribers: int


class Overview(Sample):
    kpis: Kpis
    topics: list[TopicRow]
    groups: Groups
    dlq: DeadLetters
    latency: Latency
    trades: TradeStates
    stream: StreamState
    tick_ms: float | None


class RecentEvents(BaseModel):
    events: list[RecordItem]


class DecodedRecord(BaseModel):
    """One record with its headers and its Avro payload decoded through the registry (or the error)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int
    headers: dict[str, str | None]
    size: int
    schema_id: int | None = None
    type: str | None = None
    payload: dict[str, Any] | None = None
    error: str | None = None
    value_hex: str | None = None


RESPONSES: dict[tuple[str, str, str], type[BaseModel]] = {
    ("get", "/api/overview", "200"): Overview,
    ("get", "/api/topics", "200"): Topics,
    ("get", "/api/groups", "200"): Groups,
    ("get", "/api/dlq", "200"): DeadLetters,
    ("get", "/api/latency", "200"): Latency,
    ("get", "/api/trades/states", "200"): TradeStates,
    ("get", "/api/events/recent", "200"): RecentEvents,
    ("get", "/api/records/{topic}/{partition}/{offset}", "200"): DecodedRecord,
}
