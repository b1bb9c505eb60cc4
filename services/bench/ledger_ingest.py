"""Stage 5: ledger ingest — the ledger's own consumer and store (``corridor.ledger``) draining a
pre-loaded topic into PostgreSQL with its guarantees: decode through the registry, lifecycle applied,
ONE transaction per batch (events, trade states, projections), Kafka offsets committed after it.

The topic holds whole trades (both stories, fresh ids), every area on one bench topic so each trade's
events are in order on one partition (nothing waits for a prerequisite on another topic). Each
repetition is a fresh consumer group into a fresh PostgreSQL schema; the rate is events stored divided
by the time from the first batch fetched to the last batch committed; its CPU per event is the bench
process's CPU time over the drain (it runs in the bench process, alone meanwhile). One more drain runs
under the profiler, unmeasured, for its hot frames (``corridor.bench.hot``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from corridor.bench.common import BenchContext, rate_summary
from corridor.bench.hot import profiled_here
from corridor.bench.payloads import fresh_trades, wire_records
from corridor.bench.raw_kafka import produce_raw
from corridor.bench.servers import ledger_on
from corridor.core.codec import Codec
from corridor.core.kafka import producer_config
from corridor.core.registry_client import RegistryClient
from corridor.core.topics import TRADE_TOPICS


async def drain(ctx: BenchContext, topic: str, side: str, n: int, rep: int) -> dict[str, Any]:
    from corridor.ledger.consumer import Ledger
    from corridor.ledger.settings import LedgerSettings
    from corridor.ledger.store import LedgerStore

    settings = LedgerSettings(database_url=ctx.database_url)  # the ledger's defaults (batch size, cache…)
    store = await LedgerStore.open(ctx.database_url, db_schema=ctx.db_schema("ledger", f"r{rep}"))
    registry = RegistryClient(ctx.registry_url)
    marks: dict[str, float] = {}

    class TimedLedger(Ledger):
        async def process(self, *args: Any, **kwargs: Any) -> None:
            marks.setdefault("first", time.perf_counter())
            await super().process(*args, **kwargs)
            marks["last"] = time.perf_counter()

    # The patch holds for the whole run: the consumer reads the topic names at call time.
    with ledger_on(dict.fromkeys(TRADE_TOPICS, topic), side):
        ledger = TimedLedger(
            bootstrap_servers=ctx.bootstrap_servers,
            codec=Codec(registry, auto_register=False),
            store=store,
            group_id=ctx.group("ledger", f"r{rep}"),
            batch_max_records=settings.ledger_batch_max_records,
            cache_trades=settings.ledger_cache_trades,
        )
        await ledger.start()
        task = asyncio.create_task(ledger.run())
        try:
            deadline = time.monotonic() + max(120.0, n / 200)
            while ledger.stats.stored + ledger.stats.dead_lettered + ledger.stats.parked < n:
                if task.done():
                    await task
                    raise RuntimeError("the ledger stopped before draining the topic")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the ledger stored {ledger.stats.stored} of {n} events in time")
                await asyncio.sleep(0.02)
        finally:
            ledger.request_stop()
            await asyncio.wait_for(task, 30)
            await ledger.stop()
            stored_rows = await store.count_events()
            await store.close()
            await registry.close()
    stats = ledger.stats.as_dict()
    elapsed = marks["last"] - marks["first"]
    return {
        "events_per_s": n / elapsed,
        "seconds": round(elapsed, 3),
        "batches": stats["batches"],
        "stored": stats["stored"],
        "rows_in_postgres": stored_rows,
        "parked": stats["parked"],
        "dead_lettered": stats["dead_lettered"],
    }


async def run(ctx: BenchContext) -> dict[str, Any]:
    n = ctx.scale.ledger_events
    codec = await ctx.codec()
    topic, side = ctx.topic("ledger"), ctx.topic("ledger", "side")
    await ctx.create_topics([topic])
    await ctx.create_topics([side], partitions=1)
    ctx.progress(f"stage 5 ledger ingest: pre-loading {n:,} events (whole trades) on {topic}")
    records = wire_records(codec, list(fresh_trades(n)))
    producer = AIOKafkaProducer(**producer_config(ctx.bootstrap_servers, client_id="corridor-bench-ledger"))
    await producer.start()
    try:
        await produce_raw(producer, records, dict.fromkeys(TRADE_TOPICS, topic))
    finally:
        await producer.stop()
    runs = []
    for rep in range(ctx.scale.reps):
        cpu0 = time.process_time()
        result = await drain(ctx, topic, side, n, rep)
        result["cpu_ms_per_event"] = round((time.process_time() - cpu0) / n * 1000, 4)
        runs.append(result)
        ctx.progress(
            f"  ledger rep {rep + 1}/{ctx.scale.reps}: {result['events_per_s']:,.0f} events/s "
            f"({result['batches']} batches, {result['rows_in_postgres']:,} rows), "
            f"{result['cpu_ms_per_event']:.3f} ms CPU/event"
        )
        if result["rows_in_postgres"] != n or result["dead_lettered"] or result["parked"]:
            raise RuntimeError(f"the ledger did not store every event exactly once: {result}")
    hot: dict[str, Any] = {}
    with profiled_here(hot):  # one more drain, not measured: what the ledger's time went to
        await drain(ctx, topic, side, n, ctx.scale.reps)
    await ctx.delete_topics([topic, side])
    return {
        "events": n,
        **rate_summary([r["events_per_s"] for r in runs]),
        "cpu_ms_per_event": statistics.median(r["cpu_ms_per_event"] for r in runs),
        "runs": runs,
        "hot_frames": hot,
        "guarantees": "decode via registry, lifecycle apply, one PostgreSQL transaction per batch "
        "(events + trade states + projections), offsets committed after the transaction",
    }
