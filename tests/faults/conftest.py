"""The fault suite's fixtures: one isolated three-broker corridor for the fault cases.

``corridor`` brings up, in a temporary state dir on free ports: three KRaft brokers (RF 3,
min.insync.replicas 2, ``replica.lag.time.max.ms`` lowered to 6 s), an embedded PostgreSQL, the schema
registry (through ``corridor.stack``), then the gateway, the ledger and the relay (when
``services/relay/__main__.py`` exists) as our own child processes, so each can be killed and restarted.
At the end everything is stopped and the state dir deleted; the table of the run is printed and written
to ``tests/faults/last-run.md``.

``partitioned`` is the same corridor with the gateway, the ledger and the relay each in a network
namespace of its own, reaching Kafka, PostgreSQL and the registry through Toxiproxy on the namespaces'
hub address (tests/faults/netns.py, docs/adr/0042-network-partitions.md): the partition cases
(test_partitions.py) cut a service's link with iptables inside its namespace, or slow the services'
links to Kafka with Toxiproxy's toxics. Its brokers each run in a cgroup of their own
(netns.BrokerGroups, joined as the stack spawns them), so that a case can cut one broker off from the
other two with iptables on loopback.

Run on its own: ``./corridor test tests/faults`` (or ``-m faults``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from corridor.stack import StackConfig, StackStatus, down, kill_broker, start_broker, status, up
from corridor.stack.config import DEFAULT_LISTENERS, PARTNER_LISTENER, Listener
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
from tests.faults.netns import BrokerGroups, Network, Toxiproxy, brokers_in, ensure_tools, ensure_toxiproxy

#: The brokers' listener for the services in namespaces (partitioned corridor only): SCRAM like the
#: internal one, bound to loopback, advertised on the namespaces' hub where Toxiproxy forwards it.
FAULTS_LISTENER_NAME = "FAULTS"

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
    network: Network | None = None
    toxiproxy: Toxiproxy | None = None
    broker_groups: BrokerGroups | None = None

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
    async with open_corridor(partitioned=False) as opened:
        yield opened


@pytest.fixture(scope="module")
async def partitioned() -> AsyncIterator[Corridor]:
    async with open_corridor(partitioned=True) as opened:
        yield opened


def _via(url: str, host: str, port: int) -> str:
    """``url`` with its host and port replaced (the credentials and path kept)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.asynccontextmanager
async def open_corridor(*, partitioned: bool) -> AsyncIterator[Corridor]:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    network: Network | None = None
    toxiproxy: Toxiproxy | None = None
    groups: BrokerGroups | None = None
    listeners: tuple[Listener, ...] = DEFAULT_LISTENERS
    spawning = contextlib.ExitStack()  # the brokers join their groups whenever the stack spawns one
    if partitioned:
        ensure_tools()  # a missing tool fails the cases here, before anything starts
        binary = await asyncio.to_thread(ensure_toxiproxy)
        network = Network.create(("gateway", "ledger", "relay"))
        try:
            groups = BrokerGroups.create((1, 2, 3))
        except BaseException:
            network.close()
            raise
        spawning.enter_context(brokers_in(groups))
        faults_listener = Listener(
            FAULTS_LISTENER_NAME,
            "SASL_PLAINTEXT",
            2,
            properties=PARTNER_LISTENER.properties,  # SCRAM only: the services' logins
            advertised_host=network.hub,
        )
        listeners = (*DEFAULT_LISTENERS, faults_listener)
    try:
        config, ports = fault_stack_config(brokers=3, listeners=listeners)
    except BaseException:
        spawning.close()
        if network is not None:
            network.close()
        if groups is not None:
            groups.close()
        raise
    services: list[ServiceProcess] = []
    reader: PartnerTopicsReader | None = None
    pool: asyncpg.Pool | None = None
    try:
        with broker_overrides(BROKER_OVERRIDES):
            stack = await asyncio.to_thread(up, config, lambda _message: None)
        assert stack.database_url, stack.problems
        keys = await register_partners(stack.database_url)
        bootstrap, registry_url = stack.bootstrap_servers, stack.schema_registry_url
        logs = config.state_dir / "logs"
        if network is not None:
            hub = network.hub
            toxiproxy = Toxiproxy(binary, _free_port(), logs / "toxiproxy.log")
            toxiproxy.start()
            brokers = [b.node_id for b in status(config).brokers]
            for node in brokers:
                port = config.port(node, FAULTS_LISTENER_NAME)
                toxiproxy.proxy(f"broker-{node}", f"{hub}:{port}", f"127.0.0.1:{port}")
            toxiproxy.proxy("postgres", f"{hub}:{ports.postgres}", f"127.0.0.1:{ports.postgres}")
            toxiproxy.proxy("registry", f"{hub}:{ports.registry}", f"127.0.0.1:{ports.registry}")
            bootstrap = ",".join(f"{hub}:{config.port(n, FAULTS_LISTENER_NAME)}" for n in brokers)
            registry_url = _via(registry_url, hub, ports.registry)

        def start(service: str, port: int) -> ServiceProcess:
            assert stack.database_url is not None
            env = service_env(config, service, stack.database_url, bootstrap, registry_url)
            process = ServiceProcess(service, port, env, logs / f"{service}.log")
            if network is not None:
                ns = network.of(service)
                env["CORRIDOR_DATABASE_URL"] = _via(env["CORRIDOR_DATABASE_URL"], network.hub, ports.postgres)
                process.host, process.prefix = ns.address, ns.prefix()
            services.append(process)
            return process

        ledger = start("ledger", ports.ledger)
        gateway = start("gateway", ports.gateway)
        relay = start("relay", ports.relay) if relay_available() else None
        for service in services:
            service.start()
        for service in services:
            await service.wait_ready(120)
        if relay is not None:
            reader = PartnerTopicsReader(stack.bootstrap_servers)
            await reader.start()
        pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=4)
        corridor = Corridor(
            config, ports, stack, keys, pool, gateway, ledger, relay, reader,
            network=network, toxiproxy=toxiproxy, broker_groups=groups,
        )  # fmt: skip
        await corridor.healthy()
        kind = "partitioned fault corridor" if partitioned else "fault corridor"
        print(f"\n{kind} up in {time.monotonic() - started:.0f}s at {config.state_dir}")
        yield corridor
    finally:
        if reader is not None:
            await reader.stop()
        if pool is not None:
            await pool.close()
        for service in reversed(services):
            service.stop()
        if toxiproxy is not None:
            toxiproxy.stop()
        if network is not None:
            network.close()
        if groups is not None:
            groups.heal()
        spawning.close()
        kept = os.environ.get("CORRIDOR_FAULTS_KEEP")  # keep the logs for a post-mortem
        try:
            await asyncio.to_thread(down, config, not kept, True, None, lambda _message: None)
        finally:
            if groups is not None:
                groups.close()  # empty now: the brokers have exited
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if OUTCOMES:
        terminalreporter.section("what Corridor survived (tests/faults/last-run.md)")
        terminalreporter.write_line(table(OUTCOMES))
        for outcome in OUTCOMES:
            for problem in outcome.problems:
                terminalreporter.write_line(f"{outcome.fault}: {problem}")
