"""Stage 6: gateway ingest — ``POST /v1/events`` (32 requests in flight) and ``POST /v1/events/batch``
(batches of 100 and 500), against the gateway's own entry point in a separate process on the stage's
bench topics, authenticated as a bench partner (``corridor.core.partners``) in a bench schema.

Each request opens a new trade with the chromite OrderPlaced from its buyer (fresh ids every request
and every repetition: nothing is an idempotent replay). Bodies are serialised before the clock starts,
so the load generator spends its CPU on HTTP only. Besides the rates, the gateway process's CPU time is
read from /proc, which gives its cost per event whatever else ran on the machine. After the measured
repetitions of each mode, one more pass of half the size runs with the gateway under the profiler: its
hot frames (``corridor.bench.hot``) say what the CPU per event went to.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from corridor.bench.common import BenchContext, latency_summary, rate_summary
from corridor.bench.hot import profiled_process
from corridor.bench.http import HttpError, RawClient, request_bytes
from corridor.bench.payloads import BENCH_PARTNER, order_json_for_gateway
from corridor.bench.procs import ServerProcess
from corridor.core import partners
from corridor.core.topics import TRADE_TOPICS

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
SINGLE_CONCURRENCY = 32
BATCH_CONCURRENCY = 4


def proc_cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (Linux /proc), or NaN."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def single_bodies(n: int) -> list[tuple[str, bytes]]:
    out = []
    for _ in range(n):
        event_id = uuid.uuid4()
        out.append((str(event_id), json.dumps(order_json_for_gateway(event_id, uuid.uuid4())).encode()))
    return out


def batch_bodies(events: int, size: int) -> list[tuple[list[str], bytes]]:
    out = []
    for _ in range(max(1, events // size)):
        items = [order_json_for_gateway(uuid.uuid4(), uuid.uuid4()) for _ in range(size)]
        out.append(([i["id"] for i in items], json.dumps(items).encode()))
    return out


def mode_bodies(size: int, events: int) -> list[bytes]:
    """Request bodies of ``events`` events: single-event requests (``size`` 1) or batches of ``size``."""
    if size == 1:
        return [b for _, b in single_bodies(events)]
    return [b for _, b in batch_bodies(events, size)]


@dataclass(frozen=True)
class BenchPartner:
    """A bench partner (BUYER, with the supplier its orders name) in bench schemas, and its API key."""

    partners_schema: str
    gateway_schema: str
    api_key: str


async def bench_partner(ctx: BenchContext, stage: str) -> BenchPartner:
    partners_schema = ctx.db_schema(stage, "partners")
    gateway_schema = ctx.db_schema(stage, "gateway")
    pool = await asyncpg.create_pool(ctx.database_url, min_size=1, max_size=2)
    try:
        await partners.ensure_schema(pool, schema=partners_schema)
        _, api_key = await partners.add_partner(
            pool, BENCH_PARTNER.party_id, "BUYER", BENCH_PARTNER.name_en, schema=partners_schema
        )
        # every party an order names must be a registered, active partner in its role (ADR 16)
        supplier = order_json_for_gateway(uuid.uuid4(), uuid.uuid4())["data"]["supplier"]
        await partners.add_partner(
            pool, supplier["party_id"], "SUPPLIER", supplier.get("name_en") or supplier["party_id"],
            schema=partners_schema,
        )  # fmt: skip
    finally:
        await pool.close()
    return BenchPartner(partners_schema, gateway_schema, api_key)


async def gateway_process(
    ctx: BenchContext, stage: str, topics: dict[str, str], partner: BenchPartner, name: str = "gateway"
) -> ServerProcess:
    """A gateway process serving ``partner``'s schemas on the stage's topics, once it is ready."""
    args = ["--topics", ",".join(topics[t] for t in TRADE_TOPICS)]
    if stage in ctx.profile:
        (ctx.out / "profiles").mkdir(parents=True, exist_ok=True)
        args += ["--profile", str(ctx.out / "profiles" / f"{stage}-{name}-process.txt")]
    env = {
        "CORRIDOR_BOOTSTRAP_SERVERS": ctx.bootstrap_servers,
        "CORRIDOR_SCHEMA_REGISTRY_URL": ctx.registry_url,
        "CORRIDOR_DATABASE_URL": ctx.database_url,
        "CORRIDOR_GATEWAY_DB_SCHEMA": partner.gateway_schema,
        "CORRIDOR_PARTNERS_DB_SCHEMA": partner.partners_schema,
        "CORRIDOR_LOG_LEVEL": "INFO",
        "CORRIDOR_LOG_FORMAT": "json",
        # the bench measures capacity, not the per-partner rate policy (2,000 events/s by default): with
        # it on, batches beyond the bucket were answered 429 cheaply and counted as throughput
        "CORRIDOR_GATEWAY_RATE_PER_S": "0",
    }
    gateway = ServerProcess("gateway", args, env, ctx.out / "logs" / f"{stage}-{name}-{ctx.run_id}.log")
    gateway.start()
    try:
        await gateway.wait_ready()
    except BaseException:
        gateway.stop()
        raise
    return gateway


async def start_gateway(ctx: BenchContext, stage: str, topics: dict[str, str]) -> tuple[ServerProcess, str]:
    """A bench partner (BUYER) in a bench partners schema, and a gateway process serving it."""
    partner = await bench_partner(ctx, stage)
    return await gateway_process(ctx, stage, topics, partner), partner.api_key


async def closed_loop(
    client: RawClient,
    path: str,
    headers: dict[str, str],
    bodies: Sequence[bytes],
    concurrency: int,
) -> tuple[float, list[float], Counter[int | str], str | None]:
    """``concurrency`` workers send the bodies one after another; (elapsed s, latencies ms, statuses, an
    error body if any). Requests are serialised before the clock starts."""
    requests = [request_bytes(client.host, client.port, path, headers, body) for body in bodies]
    queue = iter(range(len(requests)))
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    sample: list[str] = []

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            try:
                answer = await client.send(requests[i])
            except (OSError, asyncio.IncompleteReadError, HttpError) as exc:
                statuses[type(exc).__name__] += 1  # counted, not fatal: the stage goes on
                sample.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[answer.status] += 1
            if answer.status != 201 and not sample:
                sample.append(answer.body[:500].decode("utf-8", "replace"))

    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - begin, latencies, statuses, sample[0] if sample else None


async def run(ctx: BenchContext) -> dict[str, Any]:
    topics = ctx.area_topics("gateway")
    await ctx.create_topics(topics.values())
    gateway, api_key = await start_gateway(ctx, "gateway", topics)
    auth = {"Authorization": f"Bearer {api_key}"}
    reps = ctx.scale.reps
    n_single, n_batch = ctx.scale.gateway_single, ctx.scale.gateway_batch_events
    ctx.progress(
        f"stage 6 gateway: gateway pid {gateway.pid} at {gateway.url}; {n_single:,} single requests "
        f"({SINGLE_CONCURRENCY} in flight) and {n_batch:,} events in batches of 100 and 500 "
        f"({BATCH_CONCURRENCY} in flight) × {reps}"
    )
    result: dict[str, Any] = {"gateway_pid": gateway.pid}
    try:
        async with RawClient("127.0.0.1", gateway.port, SINGLE_CONCURRENCY) as http:
            warm = single_bodies(SINGLE_CONCURRENCY * 2)
            await closed_loop(
                http, "/v1/events", {**auth, "Content-Type": STRUCTURED},
                [b for _, b in warm], SINGLE_CONCURRENCY,
            )  # fmt: skip
            modes: list[tuple[str, int]] = [("single", 1), ("batch_100", 100), ("batch_500", 500)]
            for mode, size in modes:
                rates, req_rates, cpu_per_event, client_cpu, lat_all = [], [], [], [], []
                statuses: Counter[int | str] = Counter()
                error_sample = None
                if size == 1:
                    url, ctype, conc = "/v1/events", STRUCTURED, SINGLE_CONCURRENCY
                else:
                    url, ctype, conc = "/v1/events/batch", BATCH, BATCH_CONCURRENCY
                for rep in range(reps):
                    bodies = mode_bodies(size, n_single if size == 1 else n_batch)
                    events = len(bodies) * size
                    cpu0, client0 = proc_cpu_seconds(gateway.pid), time.process_time()
                    elapsed, lat, st, sample = await closed_loop(
                        http, url, {**auth, "Content-Type": ctype}, bodies, conc
                    )
                    cpu = proc_cpu_seconds(gateway.pid) - cpu0
                    client_cpu.append((time.process_time() - client0) / elapsed)
                    statuses.update(st)
                    error_sample = error_sample or sample
                    accepted = st.get(201, 0) * size  # a 201 accepts the whole request
                    rates.append(accepted / elapsed)
                    req_rates.append(len(bodies) / elapsed)
                    cpu_per_event.append(cpu / events * 1000)
                    lat_all += lat
                    ctx.progress(
                        f"  gateway {mode} rep {rep + 1}/{reps}: {accepted / elapsed:,.0f} events/s, "
                        f"{len(bodies) / elapsed:,.0f} requests/s, "
                        f"gateway CPU {cpu / elapsed:.0%} of a core, {cpu / events * 1000:.2f} ms CPU/event"
                    )
                # one more pass under the profiler (not measured): what the gateway's CPU went to
                hot: dict[str, Any] = {}
                bodies = mode_bodies(size, (n_single if size == 1 else n_batch) // 2)
                async with profiled_process(gateway.pid, gateway.hot_frames, hot):
                    await closed_loop(http, url, {**auth, "Content-Type": ctype}, bodies, conc)
                ok = statuses.get(201, 0)
                result[mode] = {
                    **rate_summary(rates),
                    "requests_per_s": round(sorted(req_rates)[len(req_rates) // 2], 1),
                    "request_latency": latency_summary(lat_all),
                    "gateway_cpu_ms_per_event": round(sorted(cpu_per_event)[len(cpu_per_event) // 2], 3),
                    "events_per_gateway_cpu_s": round(
                        1000 / sorted(cpu_per_event)[len(cpu_per_event) // 2], 1
                    ),
                    "load_generator_cpu_share": round(sorted(client_cpu)[len(client_cpu) // 2], 2),
                    "statuses": {str(k): v for k, v in statuses.items()},
                    "all_accepted": ok == sum(statuses.values()),
                    "hot_frames": hot,
                    **({"error_sample": error_sample} if error_sample else {}),
                }
                if ok != sum(statuses.values()):
                    ctx.progress(f"  warning: gateway {mode}: statuses {dict(statuses)}: {error_sample}")
    finally:
        gateway.stop()
    await ctx.delete_topics(list(topics.values()))
    result["concurrency"] = {"single": SINGLE_CONCURRENCY, "batch": BATCH_CONCURRENCY}
    result["event"] = "OrderPlaced (chromite story), a new trade per event"
    return result
