"""Stage 2: raw aiokafka — the same records (key, Avro value, CloudEvents headers, timestamp) Corridor
produces, encoded beforehand, sent with Corridor's ``producer_config`` (acks=all, idempotent, linger 5
ms, 256 KiB batches), every acknowledgement awaited; then read back with a plain consumer.

The difference to stage 3 is exactly the per-event work of Corridor's produce path (validation, Avro
encoding, envelope), since the client, its settings and the bytes on the wire are the same.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from corridor.bench.common import BenchContext, latency_summary, rate_summary, repeat
from corridor.bench.payloads import WireRecord, fresh_trades, wire_records
from corridor.core.kafka import client_security, producer_config


class AckTimes:
    """Send-to-acknowledgement latency of every record, from done callbacks (cheap, no extra tasks)."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []

    def track(self, future: asyncio.Future[Any], started: float) -> None:
        def done(_f: asyncio.Future[Any]) -> None:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)

        future.add_done_callback(done)


async def produce_raw(
    producer: AIOKafkaProducer,
    records: list[WireRecord],
    topics: dict[str, str],
    acks: AckTimes | None = None,
) -> float:
    """Send every record and await every ack; returns records/s."""
    futures = []
    begin = time.perf_counter()
    for r in records:
        started = time.perf_counter()
        # no timestamp: the producer stamps the time of publication, as TradeProducer does (ADR 17)
        future = await producer.send(topics[r.area_topic], value=r.value, key=r.key, headers=r.headers)
        if acks is not None:
            acks.track(future, started)
        futures.append(future)
    await asyncio.gather(*futures)
    return len(records) / (time.perf_counter() - begin)


async def consume_raw(
    bootstrap_servers: str, topics: list[str], n: int, partitions_per_topic: int = 6
) -> float:
    """Read ``n`` records from the start of ``topics`` (no group, read_committed like our consumers)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        **client_security(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        client_id="corridor-bench-raw",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(partitions_per_topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        got = 0
        begin = time.perf_counter()
        while got < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if not batches and time.perf_counter() - begin > 60:
                raise RuntimeError(f"raw consumer read {got} of {n} records in 60 s")
            for records in batches.values():
                got += len(records)
        return n / (time.perf_counter() - begin)
    finally:
        await consumer.stop()


async def run(ctx: BenchContext) -> dict[str, Any]:
    n = ctx.scale.raw_records
    codec = await ctx.codec()
    topics = ctx.area_topics("raw")
    await ctx.create_topics(topics.values())
    records = wire_records(codec, list(fresh_trades(n)))
    ctx.progress(f"stage 2 raw aiokafka: {n:,} pre-encoded records (story mix) × {ctx.scale.reps}")
    producer = AIOKafkaProducer(**producer_config(ctx.bootstrap_servers, client_id="corridor-bench-raw"))
    await producer.start()
    acks = AckTimes()
    try:
        await produce_raw(producer, records[: min(2000, n)], topics)  # warm-up: metadata, connections
        produced = await repeat(
            ctx.scale.reps,
            lambda rep: produce_raw(producer, records, topics, acks),
            ctx.progress,
            "raw produce",
        )
    finally:
        await producer.stop()
    consumed = await repeat(
        ctx.scale.reps,
        lambda rep: consume_raw(ctx.bootstrap_servers, list(topics.values()), n),
        ctx.progress,
        "raw consume",
    )
    await ctx.delete_topics(list(topics.values()))
    return {
        "records": n,
        "mean_record_bytes": round(sum(len(r.value) for r in records) / len(records), 1),
        "producer": {**rate_summary(produced), "ack_latency": latency_summary(acks.latencies_ms)},
        "consumer": rate_summary(consumed),
    }
