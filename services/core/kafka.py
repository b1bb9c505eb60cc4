"""Kafka I/O of the shared core: an idempotent producer of trade events and an at-least-once consumer.

``TradeProducer`` validates (the models refuse invalid events), encodes, wraps in CloudEvents headers
and produces with ``acks=all`` and ``enable_idempotence=True``, keyed by trade id so each trade's
events stay ordered on one partition. ``publish`` returns only after the broker acknowledged.

``TradeConsumer`` hands each decoded record to a handler and commits a partition's offset only after
the handler returned for every earlier record of that partition: a crash replays, never skips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord, RecordMetadata

from services.core.codec import Codec
from services.core.domain.base import TradeEvent
from services.core.envelope import CloudEvent
from services.core.logging import bound_contextvars, get_logger

log = get_logger("corridor.kafka")


@dataclass(frozen=True)
class Published:
    """Where the broker stored an acknowledged event."""

    event_id: str
    topic: str
    partition: int
    offset: int


def producer_config(bootstrap_servers: str, **overrides: Any) -> dict[str, Any]:
    """The one producer configuration of Corridor: idempotent, acks=all, small linger for batching."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 30000,
        "retry_backoff_ms": 200,
    }
    config.update(overrides)
    return config


class TradeProducer:
    """Publishes trade events; one instance per process, shared by all callers."""

    def __init__(self, bootstrap_servers: str, codec: Codec, **producer_overrides: Any) -> None:
        self.codec = codec
        self._producer = AIOKafkaProducer(**producer_config(bootstrap_servers, **producer_overrides))

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> TradeProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def send(
        self, event: TradeEvent, *, source: str | None = None, traceparent: str | None = None
    ) -> asyncio.Future[RecordMetadata]:
        """Queue an event; the returned future resolves when the broker acknowledged it (acks=all)."""
        value = await self.codec.encode_async(event)
        envelope = CloudEvent.for_event(event, source=source, traceparent=traceparent)
        future: asyncio.Future[RecordMetadata] = await self._producer.send(
            event.topic,
            value=value,
            key=str(event.trade_id).encode(),
            headers=envelope.to_headers(),
            timestamp_ms=int(event.occurred_at.timestamp() * 1000),
        )
        return future

    async def publish(
        self, event: TradeEvent, *, source: str | None = None, traceparent: str | None = None
    ) -> Published:
        """Produce one event and wait for the broker's acknowledgement."""
        meta = await (await self.send(event, source=source, traceparent=traceparent))
        return Published(str(event.event_id), meta.topic, meta.partition, meta.offset)

    async def publish_many(self, events: Iterable[TradeEvent]) -> list[Published]:
        """Produce events in order (the idempotent producer keeps per-trade order) and await all acks."""
        pending = [(e, await self.send(e)) for e in events]
        results = []
        for event, future in pending:
            meta = await future
            results.append(Published(str(event.event_id), meta.topic, meta.partition, meta.offset))
        return results


@dataclass(frozen=True)
class TradeRecord:
    """A consumed record: where it was, its CloudEvents attributes and the decoded event."""

    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int
    cloudevent: CloudEvent
    schema_id: int
    event: TradeEvent


Handler = Callable[[TradeRecord], Awaitable[None]]


class TradeConsumer:
    """Consumes trade topics in a consumer group; commits only what the handler finished."""

    def __init__(
        self,
        topics: Sequence[str],
        *,
        bootstrap_servers: str,
        group_id: str,
        codec: Codec,
        auto_offset_reset: str = "earliest",
        **consumer_overrides: Any,
    ) -> None:
        self.codec = codec
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=auto_offset_reset,
            isolation_level="read_committed",
            **consumer_overrides,
        )
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        self._stopping.set()
        await self._consumer.stop()

    def request_stop(self) -> None:
        """Make ``run`` return after the batch in hand (safe to call from a handler)."""
        self._stopping.set()

    async def __aenter__(self) -> TradeConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def decode(self, record: ConsumerRecord[bytes, bytes]) -> TradeRecord:
        envelope = CloudEvent.from_headers(record.headers)
        schema_id, event = await self.codec.decode_event(record.value)
        return TradeRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode() if record.key is not None else None,
            timestamp_ms=record.timestamp,
            cloudevent=envelope,
            schema_id=schema_id,
            event=event,
        )

    async def run(
        self, handler: Handler, *, max_records: int | None = None, idle_timeout: float | None = None
    ) -> int:
        """Feed records to ``handler`` until stopped, ``max_records`` handled, or ``idle_timeout``
        seconds pass without a record. Returns how many records were handled.

        A handler exception stops the loop after committing everything handled before it, and seeks the
        partition back to the failed record, so the next run (or another group member) retries it.
        """
        handled = 0
        idle_since = asyncio.get_running_loop().time()
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=500)
            if not batches:
                if idle_timeout is not None and asyncio.get_running_loop().time() - idle_since > idle_timeout:
                    break
                continue
            idle_since = asyncio.get_running_loop().time()
            for tp, records in batches.items():
                done_offset: int | None = None
                try:
                    for record in records:
                        decoded = await self.decode(record)
                        with bound_contextvars(
                            event_id=decoded.cloudevent.id,
                            trace_id=decoded.cloudevent.trace_id,
                            topic=tp.topic,
                            partition=tp.partition,
                            offset=record.offset,
                        ):
                            await handler(decoded)
                        done_offset = record.offset
                        handled += 1
                        if (max_records is not None and handled >= max_records) or self._stopping.is_set():
                            break
                except Exception:
                    failed_at = records[0].offset if done_offset is None else done_offset + 1
                    if done_offset is not None:
                        await self._commit(tp, done_offset)
                    self._consumer.seek(tp, failed_at)
                    log.exception("handler_failed", topic=tp.topic, partition=tp.partition, offset=failed_at)
                    raise
                if done_offset is not None:
                    await self._commit(tp, done_offset)
                if max_records is not None and handled >= max_records:
                    return handled
        return handled

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        # Kafka's committed offset is the *next* record to read.
        await self._consumer.commit({tp: offset + 1})
