"""Stage 9: throughput and CPU per event with 1, 2 and 4 processes of the gateway and of the ledger.

**Gateway.** N gateway processes (``corridor.bench.servers``) share one bench partner, one idempotency
schema and the stage's topics, as N replicas behind a load balancer would; the load generator sends
each process an equal share of the requests, closed loop (``SINGLE_CONCURRENCY`` single-event requests
or ``BATCH_CONCURRENCY`` batches of 100 in flight per process). Throughput is events answered 201 over
the time until the last process finished its share; CPU per event is the processes' CPU time (/proc)
summed over the run, divided by the events.

**Ledger.** N ledger processes in one consumer group share one PostgreSQL schema. They start on an empty
topic and settle (the group's partitions assigned) before the events arrive: whole trades, every area
on one topic of 6 partitions as in stage 5, produced with raw aiokafka faster than the ledgers drain
them. Throughput is the events stored over the time from the first event produced to the last batch
committed (the processes append their commits to logs, as in stage 7; a small run may commit in one
batch); CPU per event is their summed CPU time over the drain. Every event must be stored exactly once
(rows in PostgreSQL) or the stage fails.

On a two-core machine beyond two processes the figures show contention, not capacity; the CPU per event
says whether a process does more work when it has company (claims waited for, rebalances).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from corridor.bench.common import BenchContext
from corridor.bench.e2e import CommitLog, settle
from corridor.bench.gateway_ingest import (
    BATCH,
    STRUCTURED,
    BenchPartner,
    bench_partner,
    closed_loop,
    gateway_process,
    mode_bodies,
    proc_cpu_seconds,
)
from corridor.bench.http import RawClient
from corridor.bench.payloads import fresh_trades, wire_records
from corridor.bench.procs import ServerProcess
from corridor.bench.raw_kafka import produce_raw
from corridor.core.kafka import producer_config
from corridor.core.topics import TRADE_TOPICS

PROCESSES = (1, 2, 4)
SINGLE_CONCURRENCY = 16  # per gateway process
BATCH_CONCURRENCY = 2
BATCH_SIZE = 100


def _cpu(processes: list[ServerProcess]) -> float:
    return sum(proc_cpu_seconds(p.pid) for p in processes)


async def _start_all(starts: list[Any]) -> list[ServerProcess]:
    """The first process alone (it creates the schema), then the others together."""
    first = await starts[0]()
    rest = await asyncio.gather(*(start() for start in starts[1:]), return_exceptions=True)
    started = [first, *(r for r in rest if isinstance(r, ServerProcess))]
    failed = [r for r in rest if isinstance(r, BaseException)]
    if failed:
        for process in started:
            process.stop()
        raise failed[0]
    return started


async def gateways(
    ctx: BenchContext, n: int, topics: dict[str, str], partner: BenchPartner, events: dict[str, int]
) -> dict[str, Any]:
    procs = await _start_all([
        (lambda i=i: gateway_process(ctx, "processes", topics, partner, f"gateway{n}-{i}")) for i in range(n)
    ])  # fmt: skip
    auth = {"Authorization": f"Bearer {partner.api_key}"}
    out: dict[str, Any] = {"processes": n}
    try:
        clients = [RawClient("127.0.0.1", p.port, SINGLE_CONCURRENCY) for p in procs]
        for client in clients:
            await client.__aenter__()
        try:
            warm = mode_bodies(1, SINGLE_CONCURRENCY)
            await asyncio.gather(*(
                closed_loop(c, "/v1/events", {**auth, "Content-Type": STRUCTURED}, warm, SINGLE_CONCURRENCY)
                for c in clients
            ))  # fmt: skip
            for mode, size, path, ctype, conc in (
                ("single", 1, "/v1/events", STRUCTURED, SINGLE_CONCURRENCY),
                ("batch_100", BATCH_SIZE, "/v1/events/batch", BATCH, BATCH_CONCURRENCY),
            ):
                bodies = mode_bodies(size, events[mode])
                shares = [bodies[i::n] for i in range(n)]
                cpu0 = _cpu(procs)
                began = time.perf_counter()
                results = await asyncio.gather(*(
                    closed_loop(c, path, {**auth, "Content-Type": ctype}, share, conc)
                    for c, share in zip(clients, shares, strict=True)
                ))  # fmt: skip
                elapsed = time.perf_counter() - began
                cpu = _cpu(procs) - cpu0
                accepted = sum(r[2].get(201, 0) for r in results) * size
                sent = len(bodies) * size
                out[mode] = {
                    "events_per_s": round(accepted / elapsed, 1),
                    "cpu_ms_per_event": round(cpu / sent * 1000, 4),
                    "cpu_share": round(cpu / elapsed, 2),
                    "all_accepted": accepted == sent,
                }
                ctx.progress(
                    f"  {n} gateway(s) {mode}: {accepted / elapsed:,.0f} events/s, "
                    f"{cpu / sent * 1000:.3f} ms CPU/event, {cpu / elapsed:.0%} of a core"
                )
        finally:
            for client in clients:
                await client.__aexit__(None, None, None)
    finally:
        for p in procs:
            p.stop()
    return out


async def ledger_process(
    ctx: BenchContext,
    topic: str,
    side: str,
    log: Path,
    group: str,
    schemas: tuple[str, str],  # the ledger's, the partners'
    name: str,
) -> ServerProcess:
    args = [
        "--topics", topic, "--side-topic", side, "--commit-log", str(log),
        "--group-id", group, "--db-schema", schemas[0], "--partners-schema", schemas[1],
    ]  # fmt: skip
    env = {
        "CORRIDOR_BOOTSTRAP_SERVERS": ctx.bootstrap_servers,
        "CORRIDOR_SCHEMA_REGISTRY_URL": ctx.registry_url,
        "CORRIDOR_DATABASE_URL": ctx.database_url,
        "CORRIDOR_LOG_LEVEL": "WARNING",
    }
    ledger = ServerProcess("ledger", args, env, ctx.out / "logs" / f"processes-{name}-{ctx.run_id}.log")
    ledger.start()
    try:
        await ledger.wait_ready()
    except BaseException:
        ledger.stop()
        raise
    return ledger


async def _stored(database_url: str, schema: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f'SELECT count(*) FROM "{schema}".events'))
    finally:
        await conn.close()


async def ledgers(ctx: BenchContext, n: int, events: int) -> dict[str, Any]:
    codec = await ctx.codec()
    topic, side = ctx.topic("processes", f"ledger{n}"), ctx.topic("processes", f"ledger{n}-side")
    await ctx.create_topics([topic])
    await ctx.create_topics([side], partitions=1)
    group = ctx.group("processes", f"ledger{n}")
    schema = ctx.db_schema("processes", f"ledger{n}")
    partners = ctx.db_schema("processes", f"ledger{n}_partners")
    logs = [ctx.out / "logs" / f"processes-ledger{n}-{i}-{ctx.run_id}.jsonl" for i in range(n)]
    for log in logs:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
    records = wire_records(codec, list(fresh_trades(events)))
    procs = await _start_all([
        (lambda i=i: ledger_process(ctx, topic, side, logs[i], group, (schema, partners), f"ledger{n}-{i}"))
        for i in range(n)
    ])  # fmt: skip
    try:
        await settle([p.pid for p in procs])  # the group's rebalances done: every ledger idle on its share
        await asyncio.sleep(2.0)
        cpu0 = _cpu(procs)
        commits = [CommitLog(log) for log in logs]
        producer = AIOKafkaProducer(
            **producer_config(ctx.bootstrap_servers, client_id="corridor-bench-processes")
        )
        await producer.start()
        began = time.time()  # wall clock, as the commit logs
        try:
            await produce_raw(producer, records, dict.fromkeys(TRADE_TOPICS, topic))
        finally:
            await producer.stop()
        deadline = time.monotonic() + max(120.0, events / 100)
        while True:
            for c in commits:
                c.poll()
            done = sum(len(c.committed) for c in commits)
            if done >= events:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{n} ledger(s) stored {done} of {events} events in time")
            await asyncio.sleep(0.1)
        cpu = _cpu(procs) - cpu0
    finally:
        for p in procs:
            p.stop()
    times = [t for c in commits for t in c.committed.values()]
    per_process = [len(c.committed) for c in commits]
    rows = await _stored(ctx.database_url, schema)
    if rows != events:
        raise RuntimeError(f"{n} ledger(s) stored {rows} rows for {events} events (not exactly once)")
    elapsed = max(max(times) - began, 1e-3)
    await ctx.delete_topics([topic, side])
    ctx.progress(
        f"  {n} ledger(s): {events / elapsed:,.0f} events/s, {cpu / events * 1000:.3f} ms CPU/event, "
        f"events per process {per_process}"
    )
    return {
        "processes": n,
        "events_per_s": round(events / elapsed, 1),
        "cpu_ms_per_event": round(cpu / events * 1000, 4),
        "events_per_process": per_process,
        "rows_in_postgres": rows,
    }


async def run(ctx: BenchContext) -> dict[str, Any]:
    quick = ctx.quick
    events = {"single": 200 if quick else 2_000, "batch_100": 1_000 if quick else 10_000}
    ledger_events = 1_000 if quick else 20_000
    ctx.progress(
        f"stage 9 processes: {PROCESSES} gateway processes ({events['single']:,} single requests, "
        f"{events['batch_100']:,} events in batches of {BATCH_SIZE}) and ledger processes "
        f"({ledger_events:,} events)"
    )
    topics = ctx.area_topics("processes")
    await ctx.create_topics(topics.values())
    partner = await bench_partner(ctx, "processes")
    gateway_rows = [await gateways(ctx, n, topics, partner, events) for n in PROCESSES]
    await ctx.delete_topics(list(topics.values()))
    ledger_rows = [await ledgers(ctx, n, ledger_events) for n in PROCESSES]
    return {
        "gateway": gateway_rows,
        "ledger": ledger_rows,
        "concurrency_per_gateway": {"single": SINGLE_CONCURRENCY, "batch_100": BATCH_CONCURRENCY},
        "method": "N processes of one service side by side on this machine; throughput over the run, "
        "CPU per event from the processes' summed CPU time (/proc)",
    }
