"""Reading topics for the ops tools: partitions, key → partition, bounded scans, one record by offset,
and decoding a record (CloudEvents headers + Avro through the registry) without failing on bad ones."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord

from corridor.core.codec import Codec
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.kafka import client_security
from corridor.core.kafka_read import reader
from corridor.ops.progress import Progress

Record = ConsumerRecord[bytes, bytes]
_PARTITIONER = DefaultPartitioner()


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as the Java client and aiokafka) picks."""
    every = list(range(partitions))
    return int(_PARTITIONER(key, every, every))


async def topic_partitions(bootstrap_servers: str, topics: Sequence[str]) -> dict[str, int]:
    """Partition count of each of ``topics`` that exists (missing topics are left out)."""
    if not topics:
        return {}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ops"
    )
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {
        t["topic"]: len(t["partitions"]) for t in described if not t.get("error_code") and t["partitions"]
    }


async def unknown_topic_message(bootstrap_servers: str, topic: str) -> str:
    """``topic 'x' does not exist`` with the nearest existing topics and the trade topics."""
    import difflib

    from corridor.core.topics import TRADE_TOPICS

    known = [t for t in await list_topics(bootstrap_servers) if not t.startswith("__")]
    nearest = difflib.get_close_matches(topic, known, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(nearest)}? " if nearest else ""
    return f"topic {topic!r} does not exist; {hint}trade topics: {', '.join(TRADE_TOPICS)}"


async def delete_consumer_groups(bootstrap_servers: str, groups: Sequence[str]) -> dict[str, int]:
    """Delete ``groups`` (they must have no active members); group id → Kafka error code (0: deleted).
    aiokafka's admin client has no call for it, so the DeleteGroups request goes to each group's
    coordinator directly."""
    from aiokafka.protocol.admin import DeleteGroupsRequest

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ops"
    )
    await admin.start()
    out: dict[str, int] = {}
    try:
        for group in groups:
            node = await admin.find_coordinator(group)
            response = await admin._send_request(DeleteGroupsRequest([group]), node)
            for result in response.to_object()["results"]:
                out[str(result["group_id"])] = int(result["error_code"])
    finally:
        await admin.close()
    return out


async def list_topics(bootstrap_servers: str) -> list[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ops"
    )
    await admin.start()
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


async def scan(
    consumer: AIOKafkaConsumer,
    tps: Iterable[TopicPartition],
    *,
    progress: Progress | None = None,
    start: dict[TopicPartition, int] | None = None,
) -> AsyncIterator[Record]:
    """Every record of ``tps`` from ``start`` (default: the beginning) to the end offsets they have now."""
    tps = list(tps)
    if not tps:
        return
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    begins = await consumer.beginning_offsets(tps)
    starts = {tp: max(begins[tp], (start or {}).get(tp, begins[tp])) for tp in tps}
    todo = {tp for tp in tps if starts[tp] < ends[tp]}
    total = sum(ends[tp] - starts[tp] for tp in todo)
    for tp in tps:
        consumer.seek(tp, starts[tp])
    done = 0
    idle = 0
    while todo:
        batches = await consumer.getmany(*todo, timeout_ms=500, max_records=5000)
        if not batches:
            # read_committed stops at the last stable offset: an open transaction's records (or the
            # markers of aborted ones) may leave a partition's position short of its end for a while
            idle += 1
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp] or idle >= 20:
                    todo.discard(tp)
            continue
        idle = 0
        for tp, records in batches.items():
            for record in records:
                if record.offset >= ends[tp]:
                    todo.discard(tp)
                    break
                done += 1
                yield record
            if tp in todo and await consumer.position(tp) >= ends[tp]:
                todo.discard(tp)
        if progress is not None:
            progress.update(done, total)


async def fetch_record(bootstrap_servers: str, topic: str, partition: int, offset: int) -> Record | None:
    """The record at ``topic``/``partition``@``offset`` (None when the log does not hold it)."""
    tp = TopicPartition(topic, partition)
    async with reader(bootstrap_servers) as consumer:
        consumer.assign([tp])
        begin = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        if not begin <= offset < end:
            return None
        consumer.seek(tp, offset)
        deadline = asyncio.get_running_loop().time() + 15
        while asyncio.get_running_loop().time() < deadline:
            for record in (await consumer.getmany(tp, timeout_ms=500, max_records=50)).get(tp, []):
                if record.offset == offset:
                    return record
                if record.offset > offset:  # aborted or compacted away
                    return None
    return None


def headers_dict(record: Record) -> dict[str, str]:
    """Headers as text (a repeated header keeps its last value)."""
    return {k: (v.decode("utf-8", "replace") if v is not None else "") for k, v in (record.headers or ())}


def record_time(ms: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC) if ms is not None else None


@dataclass
class Decoded:
    """A record as the ops tools show it."""

    record: Record
    headers: dict[str, str]
    schema_id: int | None = None
    event: TradeEvent | None = None
    payload: dict[str, Any] | None = None  # the event as JSON (also for types we do not model)
    type_name: str | None = None
    error: str | None = None

    @property
    def key(self) -> str | None:
        return self.record.key.decode("utf-8", "replace") if self.record.key is not None else None

    @property
    def short_type(self) -> str:
        name = self.type_name or self.headers.get("ce_type") or "?"
        return name.rsplit(".", 1)[-1]

    @property
    def sender(self) -> str:
        if self.event is not None:
            return str(self.event.sender)
        source = self.headers.get("ce_source", "")
        return source.rsplit("/", 1)[-1] if source else "?"

    def to_json(self) -> dict[str, Any]:
        r = self.record
        out: dict[str, Any] = {
            "topic": r.topic,
            "partition": r.partition,
            "offset": r.offset,
            "timestamp_ms": r.timestamp,
            "key": self.key,
            "headers": self.headers,
            "schema_id": self.schema_id,
            "type": self.type_name or self.headers.get("ce_type"),
        }
        if self.payload is not None:
            out["event"] = self.payload
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class Decoder:
    """Decodes records through the registry, remembering nothing but the codec's schema caches."""

    codec: Codec
    failures: dict[str, int] = field(default_factory=dict)

    async def decode(self, record: Record) -> Decoded:
        decoded = Decoded(record, headers_dict(record))
        if record.value is None:
            decoded.error = "record has no value (tombstone)"
            return decoded
        try:
            decoded.schema_id, full_name, avro_record = await self.codec.decode_record(record.value)
            decoded.type_name = full_name
        except Exception as exc:  # not our wire format, unknown schema id, truncated …
            decoded.error = f"{type(exc).__name__}: {exc}"
            self.failures[type(exc).__name__] = self.failures.get(type(exc).__name__, 0) + 1
            return decoded
        model = EVENT_TYPES.get(full_name)
        try:
            if model is None:
                raise LookupError(f"{full_name!r} is not a Corridor event type")
            event = model.model_validate(avro_record)
            decoded.event = event
            decoded.payload = event.model_dump(mode="json")
        except Exception as exc:  # a type we do not model, or an event our rules refuse: show it raw
            decoded.payload = _jsonable(avro_record)
            decoded.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        return decoded


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
