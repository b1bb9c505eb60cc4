"""Stage 3: Corridor's produce path, per event: the event's fields as a partner sends them (JSON types) →
``parse_event`` (the generated model: every field and cross-field rule) → ``TradeProducer.send`` (Avro in
the Confluent wire format, CloudEvents headers, keyed by trade id, acks=all, idempotent) — and every
acknowledgement awaited. Event types are pointed at the stage's bench topics while it runs. One more
pass of half the events runs under the profiler, unmeasured, for its hot frames (``corridor.bench.hot``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from corridor.bench.common import BenchContext, latency_summary, rate_summary, repeat
from corridor.bench.hot import profiled_here
from corridor.bench.payloads import event_json, fresh_trades
from corridor.bench.raw_kafka import AckTimes
from corridor.bench.retarget import event_topics
from corridor.core.domain.validation import parse_event
from corridor.core.kafka import TradeProducer


def inputs(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [(e.avro_name, event_json(e)) for e in fresh_trades(n)]


async def produce_corridor(
    producer: TradeProducer, items: list[tuple[str, dict[str, Any]]], acks: AckTimes | None = None
) -> float:
    """Validate, encode and send every item, await every ack; returns events/s."""
    futures = []
    begin = time.perf_counter()
    for event_type, data in items:
        started = time.perf_counter()
        event = parse_event(event_type, data)
        future = await producer.send(event)
        if acks is not None:
            acks.track(future, started)
        futures.append(future)
    await asyncio.gather(*futures)
    return len(items) / (time.perf_counter() - begin)


async def run(ctx: BenchContext) -> dict[str, Any]:
    n = ctx.scale.produce_events
    codec = await ctx.codec()
    topics = ctx.area_topics("produce")
    await ctx.create_topics(topics.values())
    items = inputs(n)
    ctx.progress(f"stage 3 corridor produce: {n:,} events (story mix) × {ctx.scale.reps}")
    acks = AckTimes()
    with event_topics(topics):
        async with TradeProducer(
            ctx.bootstrap_servers, codec, client_id="corridor-bench-produce"
        ) as producer:
            await produce_corridor(producer, items[: min(2000, n)])  # warm-up
            rates = await repeat(
                ctx.scale.reps,
                lambda rep: produce_corridor(producer, items, acks),
                ctx.progress,
                "corridor produce",
            )
            hot: dict[str, Any] = {}
            with profiled_here(hot):  # one more pass, not measured: what the path's time went to
                await produce_corridor(producer, items[: max(500, n // 2)])
    await ctx.delete_topics(list(topics.values()))
    return {
        "events": n,
        "producer": {**rate_summary(rates), "ack_latency": latency_summary(acks.latencies_ms)},
        "hot_frames": hot,
        "path": "parse_event (pydantic model + rules) → Codec.encode → CloudEvent headers → "
        "TradeProducer.send (acks=all, idempotent, linger 5 ms), all acks awaited",
    }
