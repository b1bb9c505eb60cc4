"""Stage 7: end-to-end latency, gateway request → ledger commit, at fixed offered loads (open loop).

The gateway and the ledger run in processes of their own (``corridor.bench.servers``) on the stage's
bench topics; the bench process only offers load. Requests are sent at their scheduled times whatever
the answers do (open loop: a slow system does not slow the load down), and each event's latency is
measured from its *scheduled* send time, so queueing in the client counts too (no coordinated
omission).

The end is the moment the ledger's ``write_batch`` returned, i.e. its PostgreSQL transaction committed:
the ledger process appends the wall-clock time and the batch's event ids to a commit log. The ledger's
``ingested_at`` column (``now()``, the start of that transaction) gives a second, slightly earlier
reading, reported beside it. All processes read the same system clock.

Loads: single-event requests (``POST /v1/events``) at each rate, and at 1,000 and 5,000 events/s also
batches (``POST /v1/events/batch``, one request every 20 ms). A load the system cannot keep up with is
reported as saturated, with the events it did complete.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from corridor.bench.common import BenchContext, latency_summary
from corridor.bench.gateway_ingest import BATCH, STRUCTURED, proc_cpu_seconds, start_gateway
from corridor.bench.http import HttpError, RawClient, request_bytes
from corridor.bench.payloads import order_json_for_gateway
from corridor.bench.procs import ServerProcess
from corridor.core.topics import TRADE_TOPICS

BATCH_INTERVAL_S = 0.02
#: Requests in flight at most (single events, batches): beyond the gateway's capacity, waiting happens
#: in the client — still counted, from the scheduled time — rather than as hundreds of requests sharing
#: the gateway's CPU until all of them time out.
MAX_IN_FLIGHT = {"single": 64, "batch": 8}
GRACE_S = 15.0  # after the offered window, how long requests and commits may still take


class CommitLog:
    """Reads the ledger's commit log as it grows: event id → wall time its batch committed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.committed: dict[str, float] = {}
        self._offset = 0

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open() as f:
            f.seek(self._offset)
            for line in f:
                if not line.endswith("\n"):
                    break  # a line being written: read it next time
                self._offset += len(line.encode())
                entry = json.loads(line)
                for event_id in entry["ids"]:
                    self.committed.setdefault(event_id, entry["t"])


async def start_ledger(
    ctx: BenchContext, topics: dict[str, str], side: str, log: Path, schema: str
) -> ServerProcess:
    args = [
        "--topics", ",".join(topics[t] for t in TRADE_TOPICS),
        "--side-topic", side,
        "--commit-log", str(log),
    ]  # fmt: skip
    if "e2e" in ctx.profile:
        args += ["--profile", str(ctx.out / "profiles" / "e2e-ledger-process.txt")]
    args += [
        "--group-id", ctx.group("e2e", "ledger"),
        "--db-schema", schema,
        "--partners-schema", ctx.db_schema("e2e", "ledger_partners"),
    ]  # fmt: skip
    env = {
        "CORRIDOR_BOOTSTRAP_SERVERS": ctx.bootstrap_servers,
        "CORRIDOR_SCHEMA_REGISTRY_URL": ctx.registry_url,
        "CORRIDOR_DATABASE_URL": ctx.database_url,
        "CORRIDOR_LOG_LEVEL": "INFO",
    }
    ledger = ServerProcess("ledger", args, env, ctx.out / "logs" / f"e2e-ledger-{ctx.run_id}.log")
    ledger.start()
    await ledger.wait_ready()
    return ledger


def plan(rate: int, seconds: float, mode: str) -> list[tuple[float, list[str], bytes]]:
    """(offset from start in s, event ids, body) of every request of one load."""
    requests = []
    if mode == "single":
        for i in range(int(rate * seconds)):
            event_id = uuid.uuid4()
            doc = order_json_for_gateway(event_id, uuid.uuid4())
            requests.append((i / rate, [str(event_id)], json.dumps(doc).encode()))
    else:
        per_batch = max(1, round(rate * BATCH_INTERVAL_S))
        for i in range(int(seconds / BATCH_INTERVAL_S)):
            items = [order_json_for_gateway(uuid.uuid4(), uuid.uuid4()) for _ in range(per_batch)]
            requests.append((i * BATCH_INTERVAL_S, [d["id"] for d in items], json.dumps(items).encode()))
    return requests


async def offer(
    client: RawClient, path: str, headers: dict[str, str], requests: list[tuple[float, list[str], bytes]]
) -> tuple[dict[str, float], list[tuple[float, float]], dict[str, int], float]:
    """Send each request at its time. Returns (accepted event id → scheduled wall time, per answered
    request its scheduled offset in s and its latency from schedule to answer in ms, statuses, the
    offered window in s)."""
    loop = asyncio.get_running_loop()
    wire = [request_bytes(client.host, client.port, path, headers, body) for _, _, body in requests]
    start_mono = loop.time() + 0.05
    start_wall = time.time() + (start_mono - loop.time())
    accepted: dict[str, float] = {}
    answered_ms: list[tuple[float, float]] = []  # (scheduled offset s, ms from schedule to answer)
    statuses: dict[str, int] = {}

    async def send(offset: float, ids: list[str], request: bytes) -> None:
        try:
            status = str((await client.send(request)).status)
        except (OSError, asyncio.IncompleteReadError, HttpError) as exc:
            status = type(exc).__name__
        answered_ms.append((offset, (loop.time() - (start_mono + offset)) * 1000))
        statuses[status] = statuses.get(status, 0) + 1
        if status == "201":
            for event_id in ids:
                accepted[event_id] = start_wall + offset

    tasks = []
    for (offset, ids, _), request in zip(requests, wire, strict=True):
        delay = start_mono + offset - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(offset, ids, request)))
    window = loop.time() - start_mono
    _, pending = await asyncio.wait(tasks, timeout=GRACE_S)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
        statuses["unanswered"] = len(pending)
    return accepted, answered_ms, statuses, window


async def settle(pids: list[int | None], idle_share: float = 0.1, wait_s: float = 60.0) -> None:
    """Wait until the processes use less than ``idle_share`` of a core each (over 0.5 s), at most
    ``wait_s``: the next load starts on an idle system, not on the previous one's backlog."""
    deadline = time.monotonic() + wait_s
    await asyncio.sleep(0.5)
    while time.monotonic() < deadline:
        before = [proc_cpu_seconds(p) for p in pids]
        await asyncio.sleep(0.5)
        used = [proc_cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]
        if all(u / 0.5 < idle_share for u in used):
            return


async def ingested_at(database_url: str, schema: str, ids: list[str]) -> dict[str, float]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT event_id::text AS id, extract(epoch FROM ingested_at)::float8 AS t "
            f'FROM "{schema}".events '
            "WHERE event_id = ANY($1::uuid[])",
            ids,
        )
    finally:
        await conn.close()
    return {r["id"]: r["t"] for r in rows}


async def one_load(
    ctx: BenchContext,
    gateway: ServerProcess,
    ledger: ServerProcess,
    auth: dict[str, str],
    commits: CommitLog,
    ledger_schema: str,
    rate: int,
    mode: str,
    seconds: float,
) -> dict[str, Any]:
    requests = plan(rate, seconds, mode)
    n_events = sum(len(ids) for _, ids, _ in requests)
    path = "/v1/events" if mode == "single" else "/v1/events/batch"
    headers = {**auth, "Content-Type": STRUCTURED if mode == "single" else BATCH}
    ctx.progress(f"  e2e {rate:,} events/s ({mode}): {n_events:,} events over {seconds:.0f} s…")
    cpu0 = proc_cpu_seconds(gateway.pid), proc_cpu_seconds(ledger.pid)
    began = time.monotonic()
    async with RawClient("127.0.0.1", gateway.port, MAX_IN_FLIGHT[mode]) as http:
        accepted, answered_ms, statuses, window = await offer(http, path, headers, requests)
    deadline = time.monotonic() + GRACE_S
    while True:
        commits.poll()
        if all(i in commits.committed for i in accepted) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    cpu = proc_cpu_seconds(gateway.pid) - cpu0[0], proc_cpu_seconds(ledger.pid) - cpu0[1]
    wall = time.monotonic() - began
    latencies = [(commits.committed[i] - t) * 1000 for i, t in accepted.items() if i in commits.committed]
    if accepted and not latencies:
        raise RuntimeError(
            f"the ledger committed none of the {len(accepted):,} events the gateway accepted; "
            f"see {ledger.log}"
        )
    stored_at = await ingested_at(ctx.database_url, ledger_schema, list(accepted))
    by_ingested = [(stored_at[i] - t) * 1000 for i, t in accepted.items() if i in stored_at]
    completed = len(latencies)
    # what the pipeline delivered: events committed over the time from the first scheduled send to the
    # last commit (a system that keeps up finishes right after the offered window)
    first_sent = min(accepted.values(), default=0.0)
    last_commit = max((commits.committed[i] for i in accepted if i in commits.committed), default=first_sent)
    achieved = completed / max(last_commit - first_sent, window, 1e-9)
    saturated = completed < 0.99 * n_events or achieved < 0.9 * rate
    summary = latency_summary(latencies)
    ctx.progress(
        f"    {completed:,}/{n_events:,} committed, p50 {summary['p50_ms']:.1f} ms, p99 "
        f"{summary['p99_ms']:.1f} ms, p99.9 {summary['p99_9_ms']:.1f} ms"
        + (" — SATURATED" if saturated else "")
    )
    return {
        "offered_events_per_s": rate,
        "mode": mode,
        "events_offered": n_events,
        "requests": len(requests),
        "events_committed": completed,
        "achieved_events_per_s": round(achieved, 1),
        "saturated": saturated,
        "statuses": statuses,
        "latency_to_commit": summary,
        "latency_to_ingested_at": latency_summary(by_ingested),
        "request_latency": latency_summary([ms for _, ms in answered_ms]),
        # when the slowest requests were scheduled (s into the window): a cold start or a pause shows
        "slowest_requests": [
            {"at_s": round(at, 2), "ms": round(ms, 1)}
            for at, ms in sorted(answered_ms, key=lambda a: -a[1])[:8]
        ],
        "gateway_cpu_s": round(cpu[0], 2),
        "ledger_cpu_s": round(cpu[1], 2),
        # share of one core each process got while the load ran (and drained)
        "gateway_cpu_share": round(cpu[0] / wall, 2),
        "ledger_cpu_share": round(cpu[1] / wall, 2),
        "gateway_cpu_ms_per_event": round(cpu[0] / max(completed, 1) * 1000, 2),
    }


async def run(ctx: BenchContext) -> dict[str, Any]:
    topics = ctx.area_topics("e2e")
    side = ctx.topic("e2e", "side")
    await ctx.create_topics(topics.values())
    await ctx.create_topics([side], partitions=1)
    log = ctx.out / "logs" / f"e2e-commits-{ctx.run_id}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    gateway, api_key = await start_gateway(ctx, "e2e", topics)
    ledger = None
    loads: list[dict[str, Any]] = []
    try:
        ledger_schema = ctx.db_schema("e2e", "ledger")
        ledger = await start_ledger(ctx, topics, side, log, ledger_schema)
        ctx.progress(f"stage 7 e2e: gateway pid {gateway.pid}, ledger pid {ledger.pid}, open loop")
        auth = {"Authorization": f"Bearer {api_key}"}
        commits = CommitLog(log)
        async with RawClient("127.0.0.1", gateway.port, MAX_IN_FLIGHT["single"]) as http:
            # warm-up: connections, schema ids, the ledger's first batches
            warm = plan(50, 1.0, "single")
            await offer(http, "/v1/events", {**auth, "Content-Type": STRUCTURED}, warm)
        await asyncio.sleep(1.0)
        for rate, mode, seconds in ctx.scale.e2e_loads:
            loads.append(
                await one_load(ctx, gateway, ledger, auth, commits, ledger_schema, rate, mode, seconds)
            )
            await settle([gateway.pid, ledger.pid])  # a saturated load's backlog clears first
    finally:
        gateway.stop()
        if ledger is not None:
            ledger.stop()
    await ctx.delete_topics([*topics.values(), side])
    return {
        "loads": loads,
        "method": "open loop; latency from each event's scheduled send time to the wall-clock time the "
        "ledger's write_batch returned (PostgreSQL commit), from a commit log the bench's ledger process "
        "writes; latency_to_ingested_at uses the ledger's ingested_at column (transaction start)",
        "batch_interval_ms": BATCH_INTERVAL_S * 1000,
        "max_in_flight": MAX_IN_FLIGHT,
    }
