"""The fault suite's fixtures: one isolated three-broker corridor for the fault cases.

``corridor`` brings up, in a temporary state dir on free ports: three KRaft brokers (RF 3,
min.insync.replicas 2, ``replica.lag.time.max.ms`` lowered to 6 s), an embedded PostgreSQL, the schema
registry (through ``corridor.stack``), then the gateway, the ledger and the relay (when
``services/relay/__main__.py`` exists) as our own child processes, so each can be killed and restarted.
At the end everything is stopped and the state dir deleted; the table of the run is printed and written
to ``tests/faults/last-run.md``.

Run on its own: ``./corridor test tests/faults`` (or ``-m faults``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from corridor.stack import StackConfig, StackStatus, down, kill_broker, start_broker, status, up
from tests.faults.harness import (
    BROKER_OVERRIDES,
    Outcome,
    PartnerTopicsReader,
    Ports,
    ServiceProcess,
    broker_overrides,
    cluster_view,
    fault_stack_config,
    git_commit,
    register_partners,
    relay_available,
    report,
    service_env,
    table,
)

LAST_RUN = Path(__file__).with_name("last-run.md")
#: Events per second the load generator offers (CORRIDOR_FAULTS_RATE overrides).
RATE = float(os.environ.get("CORRIDOR_FAULTS_RATE", "100"))

OUTCOMES: list[Outcome] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault injection on an isolated 3-broker corridor (slow)")
    config.addinivalue_line(
        "markers", "replicas: N replicas of each service at once, killed and replaced (test_replicas.py)"
    )


@dataclass
class Corridor:
    config: StackConfig
    ports: Ports
    stack: StackStatus
    keys: dict[str, str]
    pool: asyncpg.Pool
    gateway: ServiceProcess
    ledger: ServiceProcess
    relay: ServiceProcess | None
    reader: PartnerTopicsReader | None
    rate: float = RATE
    outcomes: list[Outcome] = field(default_factory=lambda: OUTCOMES)

    @property
    def services(self) -> list[ServiceProcess]:
        return [s for s in (self.gateway, self.ledger, self.relay) if s is not None]

    def live_brokers(self, *excluding: int) -> list[int]:
        return [b.node_id for b in status(self.config).brokers if b.alive and b.node_id not in excluding]

    async def healthy(self, within: float = 120.0) -> None:
        """Every broker up and in the ISR of every trade partition, every service ready."""
        deadline = time.monotonic() + within
        for service in self.services:
            assert service.alive(), f"{service.name} is not running:\n{service.tail()}"
            await service.wait_ready(within)
        brokers = [b.node_id for b in status(self.config).brokers]
        last: Any = None
        while time.monotonic() < deadline:
            try:
                states = await cluster_view(self.config, self.live_brokers(), within=5)
                lagging = [s for s in states if set(s.isr) != set(brokers) or s.leader < 0]
                if not lagging:
                    return
                last = lagging[:3]
            except Exception as exc:  # a broker still starting
                last = exc
            await asyncio.sleep(1.0)
        raise AssertionError(f"the cluster did not get healthy within {within:.0f}s: {last}")

    async def rolling_restart(self, *, brokers: bool = True) -> list[str]:
        """What an upgrade does, one process at a time: each service stopped gracefully (SIGTERM) and
        started again, the next only once it is ready; then each broker (SIGTERM: a controlled
        shutdown that moves its leaderships away first), the next only once every trade partition has
        all its replicas in sync again. Returns how long each took."""
        notes = []
        for service in self.services:
            started = time.monotonic()
            service.stop()
            stopped = time.monotonic()
            await service.restart()
            ready = time.monotonic() - stopped
            notes.append(f"{service.name} stopped in {stopped - started:.1f} s, ready {ready:.1f} s later")
        if brokers:
            for node in [b.node_id for b in status(self.config).brokers]:
                started = time.monotonic()
                await asyncio.to_thread(kill_broker, self.config, node, signal.SIGTERM)
                await asyncio.to_thread(start_broker, self.config, node)
                await self.healthy()
                notes.append(f"broker {node} {time.monotonic() - started:.1f} s")
        return notes


@pytest.fixture(scope="module")  # stopped with the module, not at the end of the whole suite
async def corridor() -> AsyncIterator[Corridor]:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    config, ports = fault_stack_config(brokers=3)
    services: list[ServiceProcess] = []
    reader: PartnerTopicsReader | None = None
    pool: asyncpg.Pool | None = None
    try:
        with broker_overrides(BROKER_OVERRIDES):
            stack = await asyncio.to_thread(up, config, lambda _message: None)
        assert stack.database_url, stack.problems
        keys = await register_partners(stack.database_url)

        def env(service: str) -> dict[str, str]:
            assert stack.database_url is not None
            return service_env(
                config, service, stack.database_url, stack.bootstrap_servers, stack.schema_registry_url
            )

        logs = config.state_dir / "logs"
        ledger = ServiceProcess("ledger", ports.ledger, env("ledger"), logs / "ledger.log")
        gateway = ServiceProcess("gateway", ports.gateway, env("gateway"), logs / "gateway.log")
        relay = None
        if relay_available():
            relay = ServiceProcess("relay", ports.relay, env("relay"), logs / "relay.log")
        services += [s for s in (ledger, gateway, relay) if s is not None]
        for service in services:
            service.start()
        for service in services:
            await service.wait_ready(120)
        if relay is not None:
            reader = PartnerTopicsReader(stack.bootstrap_servers)
            await reader.start()
        pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=4)
        corridor = Corridor(config, ports, stack, keys, pool, gateway, ledger, relay, reader)
        await corridor.healthy()
        print(f"\nfault corridor up in {time.monotonic() - started:.0f}s at {config.state_dir}")
        yield corridor
    finally:
        if reader is not None:
            await reader.stop()
        if pool is not None:
            await pool.close()
        for service in reversed(services):
            service.stop()
        kept = os.environ.get("CORRIDOR_FAULTS_KEEP")  # keep the logs for a post-mortem
        try:
            await asyncio.to_thread(down, config, not kept, True, None, lambda _message: None)
        finally:
            if kept:
                print(f"\nfault corridor logs kept in {config.state_dir}")
            else:
                shutil.rmtree(config.state_dir, ignore_errors=True)
        if OUTCOMES:
            meta = {
                "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "commit": git_commit(),
                "duration": f"{time.monotonic() - started:.0f} s",
                "rate": f"{RATE:g}",
                "relay": relay_available(),
                "loadavg": f"{load_before:.1f} / {os.getloadavg()[0]:.1f}",
            }
            LAST_RUN.write_text(report(OUTCOMES, meta), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if OUTCOMES:
        terminalreporter.section("what Corridor survived (tests/faults/last-run.md)")
        terminalreporter.write_line(table(OUTCOMES))
        for outcome in OUTCOMES:
            for problem in outcome.problems:
                terminalreporter.write_line(f"{outcome.fault}: {problem}")
