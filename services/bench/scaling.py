"""Stage 8: how the cost of Corridor's produce path grows with event size, producer batch size and the
number of partitions.

Every variant runs the stage-3 path (``parse_event`` → ``TradeProducer.send``, all acks awaited) on a
bench topic of its own and reports events/s, MB/s of wire bytes and the send → acknowledgement latency
under that full load; plus the latency of single events published one at a time (``publish``, nothing
else in flight), which is what an idle backbone adds.

* event size: the chromite OrderPlaced with 1, 10 and 50 order lines;
* batch size: ``max_batch_size`` 16 KiB, 64 KiB, 256 KiB (Corridor's) and 1 MiB, story mix;
* partitions: 1, 6 and 12, story mix.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from corridor.bench.common import BenchContext, latency_summary, rate_summary
from corridor.bench.payloads import event_json, fresh_trades, order_with_lines, wire_size
from corridor.bench.produce import produce_corridor
from corridor.bench.raw_kafka import AckTimes
from corridor.bench.retarget import event_topics
from corridor.core.domain.validation import parse_event
from corridor.core.kafka import TradeProducer
from corridor.core.topics import TRADE_TOPICS

LINES = (1, 10, 50)
BATCH_SIZES = (16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024)
PARTITIONS = (1, 6, 12)


def sized_inputs(lines: int, n: int) -> list[tuple[str, dict[str, Any]]]:
    template = event_json(order_with_lines(lines))
    return [
        (
            "corridor.trade.orders.OrderPlaced",
            {**template, "event_id": str(uuid.uuid4()), "trade_id": str(uuid.uuid4())},
        )
        for _ in range(n)
    ]


def mix_inputs(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [(e.avro_name, event_json(e)) for e in fresh_trades(n)]


async def variant(
    ctx: BenchContext,
    name: str,
    items: list[tuple[str, dict[str, Any]]],
    wire_bytes: float,
    *,
    partitions: int = 6,
    producer_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    topic = ctx.topic("scaling", name)
    await ctx.create_topics([topic], partitions=partitions)
    codec = await ctx.codec()
    acks = AckTimes()
    rates = []
    unloaded: list[float] = []
    with event_topics(dict.fromkeys(TRADE_TOPICS, topic)):
        async with TradeProducer(
            ctx.bootstrap_servers, codec, client_id="corridor-bench-scaling", **(producer_overrides or {})
        ) as producer:
            await produce_corridor(producer, items[: min(500, len(items))])  # warm-up
            for _ in range(ctx.scale.reps):
                rates.append(await produce_corridor(producer, items, acks))
            for event_type, data in items[: 20 if ctx.quick else 100]:
                started = time.perf_counter()
                await producer.publish(parse_event(event_type, data))
                unloaded.append((time.perf_counter() - started) * 1000)
    await ctx.delete_topics([topic])
    summary = rate_summary(rates)
    ctx.progress(
        f"  scaling {name}: {summary['events_per_s']:,.0f} events/s, "
        f"{summary['events_per_s'] * wire_bytes / 1e6:.2f} MB/s, unloaded p50 "
        f"{latency_summary(unloaded)['p50_ms']:.1f} ms"
    )
    return {
        **summary,
        "events": len(items),
        "wire_bytes_per_event": round(wire_bytes, 1),
        "mb_per_s": round(summary["events_per_s"] * wire_bytes / 1e6, 3),
        "ack_latency_loaded": latency_summary(acks.latencies_ms),
        "publish_latency_unloaded": latency_summary(unloaded),
    }


async def run(ctx: BenchContext) -> dict[str, Any]:
    n = ctx.scale.scaling_events
    ctx.progress(
        f"stage 8 scaling: event size {LINES} lines, batch size, partitions {PARTITIONS} × {ctx.scale.reps}"
    )
    mix = mix_inputs(n)
    mix_bytes = sum(wire_size(e) for e in fresh_trades(200)) / 200
    by_size = {}
    for lines in LINES:
        count = max(200, n // {1: 1, 10: 2, 50: 8}.get(lines, 8))
        by_size[str(lines)] = await variant(
            ctx, f"lines{lines}", sized_inputs(lines, count), wire_size(order_with_lines(lines))
        )
    by_batch = {}
    for size in BATCH_SIZES:
        by_batch[str(size)] = await variant(
            ctx, f"batch{size // 1024}k", mix, mix_bytes, producer_overrides={"max_batch_size": size}
        )
    by_partitions = {}
    for partitions in PARTITIONS:
        by_partitions[str(partitions)] = await variant(
            ctx, f"partitions{partitions}", mix, mix_bytes, partitions=partitions
        )
    return {
        "event_size_lines": by_size,
        "max_batch_size_bytes": by_batch,
        "partitions": by_partitions,
        "path": "parse_event → TradeProducer.send (acks=all, idempotent, linger 5 ms), all acks awaited",
    }
