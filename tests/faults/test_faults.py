"""Faults under a steady stream of trades: after each, every event the gateway acknowledged is in the
ledger exactly once, and in each entitled partner topic exactly once in its trade's order (with the
relay); events answered 5xx or not at all may be stored, but never twice.

Each case runs its own load generator (``RATE`` events/s through the gateway): a warm-up, the fault
and the repair, a stretch of load after it, then the checks (docs/adr/0015-fault-suite.md). The cases
share one isolated corridor and run in file order; each starts from a healthy cluster.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable

import pytest

from corridor.core.topics import CERTIFICATES, ORDERS
from corridor.stack import kill_broker, start_broker
from tests.faults.conftest import Corridor
from tests.faults.harness import (
    BROKER_OVERRIDES,
    LoadGenerator,
    Outcome,
    ServiceProcess,
    check,
    cluster_view,
    eventually,
    now,
    postgres_crash,
    postgres_start,
    stored_ids,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

WARM_UP_S = 6.0
AFTER_S = 8.0
#: How long PostgreSQL stays down (the brief's 30 s; CORRIDOR_FAULTS_PG_OUTAGE_S overrides).
PG_OUTAGE_S = float(os.environ.get("CORRIDOR_FAULTS_PG_OUTAGE_S", "30"))
BROKER_DOWN_S = 12.0
#: Not-acknowledged events retried per case besides those stored anyway, and for how long at most (a
#: claim a killed gateway left pending is taken over after 60 s).
RETRY_SAMPLE = 100
RETRY_WINDOW_S = 90.0
LAG_MAX_S = int(BROKER_OVERRIDES["replica.lag.time.max.ms"]) / 1000

Inject = Callable[[Corridor], Awaitable[str]]


async def run_case(corridor: Corridor, fault: str, inject: Inject) -> Outcome:
    """Load, fault (``inject`` returns once it is repaired, with a note), more load, checks."""
    await corridor.healthy()
    begin = time.monotonic()
    generator = LoadGenerator(corridor.gateway.url, corridor.keys, corridor.rate)
    cpu_before = {s.name: (s.pid, s.cpu_s()) for s in corridor.services}
    await generator.start()
    try:
        await asyncio.sleep(WARM_UP_S)
        fault_at = now()
        note = await inject(corridor)
        await asyncio.sleep(AFTER_S)
    finally:
        await generator.stop()
    elapsed = time.monotonic() - begin
    failed_stored = await retry_failed(corridor, generator)
    cpu = {
        s.name: f"{(s.cpu_s() - cpu_before[s.name][1]) / elapsed:.0%}"
        if s.pid == cpu_before[s.name][0]
        else "restarted"
        for s in corridor.services
    }
    outcome = await check(
        Outcome(fault, note=note, failed_stored=failed_stored),
        generator,
        corridor.pool,
        corridor.reader,
        fault_at,
    )
    outcome.details.append(
        f"CPU share over the {elapsed:.0f} s of the case: " + ", ".join(f"{k} {v}" for k, v in cpu.items())
    )
    outcome.duration_s = time.monotonic() - begin
    outcome.load_s = generator.stopped_at - generator.started_at
    corridor.outcomes.append(outcome)
    print(f"\n{fault}: {outcome.note}; problems: {outcome.problems}")
    for detail in outcome.details:
        print(detail)
    assert outcome.acknowledged > 0, "no event was acknowledged at all"
    assert outcome.lost == 0, outcome.problems
    assert outcome.duplicates == 0, outcome.problems
    assert outcome.out_of_order == 0, outcome.problems
    assert outcome.misrouted == 0, outcome.problems
    assert outcome.refused == 0, outcome.problems
    return outcome


async def retry_failed(corridor: Corridor, generator: LoadGenerator) -> int:
    """Once the ledger holds what was acknowledged, retry (same id) every event not acknowledged but
    stored anyway — where a second produce would duplicate it — and a sample of the others. Returns
    how many were stored without an acknowledgement."""
    acked = [a.event_id for a in generator.attempts if a.acked_first]
    failed = [a for a in generator.attempts if a.failed]

    async def ledger_has_acked() -> bool:
        return len(await stored_ids(corridor.pool, acked)) == len(acked)

    await eventually(ledger_has_acked, 150)
    await asyncio.sleep(2.0)  # records produced without an answer reach the ledger too
    stored = await stored_ids(corridor.pool, [a.event_id for a in failed])
    picks = [a for a in failed if a.event_id in stored]
    others = [a for a in failed if a.event_id not in stored]
    picks += random.sample(others, min(len(others), max(RETRY_SAMPLE - len(picks), 0)))
    await generator.retry(picks, RETRY_WINDOW_S)
    return len(stored)


async def _leader_of(corridor: Corridor, topic: str, partition: int) -> int:
    states = await cluster_view(corridor.config, corridor.live_brokers(), (topic,))
    return next(s.leader for s in states if s.partition == partition)


async def test_kill_9_partition_leader(corridor: Corridor) -> None:
    async def inject(c: Corridor) -> str:
        leader = await _leader_of(c, ORDERS, 0)
        await asyncio.to_thread(kill_broker, c.config, leader, signal.SIGKILL)
        await asyncio.sleep(BROKER_DOWN_S)
        await asyncio.to_thread(start_broker, c.config, leader)
        return f"broker {leader} (leader of {ORDERS}-0) killed, restarted after {BROKER_DOWN_S:g} s"

    await run_case(corridor, "kill -9 partition leader broker", inject)


async def _kill_service(service: ServiceProcess) -> str:
    service.kill()
    await asyncio.sleep(1.0)
    started = time.monotonic()
    await service.restart()
    return f"killed under load, restarted (ready after {time.monotonic() - started:.1f} s)"


async def test_kill_9_gateway(corridor: Corridor) -> None:
    await run_case(corridor, "kill -9 gateway", lambda c: _kill_service(c.gateway))


async def test_kill_9_ledger(corridor: Corridor) -> None:
    await run_case(corridor, "kill -9 ledger", lambda c: _kill_service(c.ledger))


async def test_kill_9_relay(corridor: Corridor) -> None:
    if corridor.relay is None:
        pytest.skip("services/relay/__main__.py does not exist yet")
    await run_case(corridor, "kill -9 relay", lambda c: _kill_service(c.relay))  # type: ignore[arg-type]


async def test_postgres_outage(corridor: Corridor) -> None:
    async def inject(c: Corridor) -> str:
        await asyncio.to_thread(postgres_crash, c.config)
        await asyncio.sleep(PG_OUTAGE_S)
        await asyncio.to_thread(postgres_start, c.config)
        return f"pg_ctl stop -m immediate, started again after {PG_OUTAGE_S:g} s"

    await run_case(corridor, f"PostgreSQL down {PG_OUTAGE_S:g} s", inject)


async def test_sigstop_broker_out_of_isr(corridor: Corridor) -> None:
    async def inject(c: Corridor) -> str:
        paused = await _leader_of(c, CERTIFICATES, 1)
        witnesses = c.live_brokers(paused)
        stopped_at = time.monotonic()
        kill_broker(c.config, paused, signal.SIGSTOP, wait=False)
        out_after: float | None = None
        try:
            # until no trade partition lists it in its ISR any more (or 40 s)
            while time.monotonic() - stopped_at < 40:
                await asyncio.sleep(1.0)
                try:
                    states = await cluster_view(c.config, witnesses, within=5)
                except RuntimeError:
                    continue
                if all(paused not in s.isr for s in states):
                    out_after = time.monotonic() - stopped_at
                    break
            await asyncio.sleep(2.0)
        finally:
            kill_broker(c.config, paused, signal.SIGCONT, wait=False)
        assert out_after is not None, f"broker {paused} was still in some ISR 40 s after SIGSTOP"
        return (
            f"broker {paused} (leader of {CERTIFICATES}-1) SIGSTOPped; out of every ISR after "
            f"{out_after:.0f} s (replica.lag.time.max.ms {LAG_MAX_S:g} s), SIGCONT 2 s later"
        )

    await run_case(corridor, "SIGSTOP broker (out of ISR)", inject)
