"""Network partitions, not only crashes (issue 23 item 5, docs/adr/0042-network-partitions.md).

The corridor of these cases (``partitioned`` in conftest.py) runs the gateway, the ledger and the relay
each in a network namespace of its own; they reach the brokers, PostgreSQL and the registry through
Toxiproxy on the namespaces' hub address (tests/faults/netns.py). A case cuts a link with iptables
rules inside one service's namespace (every segment dropped both ways, silently: a partition, not a
refused connection), or slows every service↔Kafka link with Toxiproxy's toxics; then heals it.

Same load, same checks as the crash cases (test_faults.run_case): every acknowledged event stored
once and relayed once to each entitled partner, each topic's order kept, the parties agreeing on one
order; a row each in tests/faults/last-run.md.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from corridor.core.topics import ORDERS
from tests.faults.conftest import FAULTS_LISTENER_NAME, Corridor
from tests.faults.netns import Network, Toxiproxy
from tests.faults.test_faults import _leader_of, run_case

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

#: How long a link stays cut.
CUT_S = 15.0
#: How long the services' links to Kafka stay slow and lossy.
SLOW_S = 20.0
#: Added to every answer from a broker to a service (Toxiproxy ``latency`` toxic, downstream).
LATENCY_MS = 200
#: The loss approximation: this share of service↔broker connections is reset (``reset_peer``).
RESET_SHARE = 0.05


def _connects(network: Network, service: str, address: str, port: int) -> bool:
    """Whether a TCP connection from inside ``service``'s namespace to ``address:port`` opens within
    a second (the proof a cut is in place, and gone again after the heal)."""
    probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=1.0).close()"
    done = subprocess.run(
        [*network.of(service).prefix(), sys.executable, "-c", probe], capture_output=True, timeout=30
    )
    return done.returncode == 0


async def _cut(c: Corridor, service: str, port: int, seconds: float) -> str:
    network = c.network
    assert network is not None
    hub = network.hub
    assert await asyncio.to_thread(_connects, network, service, hub, port), f"{service} cannot reach {port}"
    network.cut(service, hub, port)
    try:
        held = not await asyncio.to_thread(_connects, network, service, hub, port)
        rules = network.rules(service)
        await asyncio.sleep(seconds)
    finally:
        network.heal()
    assert held, f"the cut of {service} → {hub}:{port} let a connection through:\n{rules}"
    assert await asyncio.to_thread(_connects, network, service, hub, port), "the link did not come back"
    return f"{service} ↔ {hub}:{port} dropped both ways (iptables in its namespace) for {seconds:g} s"


async def test_gateway_cut_off_from_partition_leader(partitioned: Corridor) -> None:
    async def inject(c: Corridor) -> str:
        leader = await _leader_of(c, ORDERS, 0)
        note = await _cut(c, "gateway", c.config.port(leader, FAULTS_LISTENER_NAME), CUT_S)
        return f"broker {leader} (leader of {ORDERS}-0, still leading for the others): {note}"

    await run_case(partitioned, "partition: gateway cut off from the leader", inject)


async def test_ledger_cut_off_from_postgres(partitioned: Corridor) -> None:
    async def inject(c: Corridor) -> str:
        return "PostgreSQL: " + await _cut(c, "ledger", c.ports.postgres, CUT_S)

    await run_case(partitioned, "partition: ledger cut off from PostgreSQL", inject)


async def test_latency_and_loss_between_services_and_kafka(partitioned: Corridor) -> None:
    async def inject(c: Corridor) -> str:
        toxiproxy = c.toxiproxy
        assert toxiproxy is not None
        brokers = [name for name in toxiproxy.proxies() if name.startswith("broker-")]
        assert len(brokers) == 3, brokers
        try:
            for proxy in brokers:
                _slow(toxiproxy, proxy)
            toxics = {p: sorted(t["type"] for t in toxiproxy.proxies()[p]["toxics"]) for p in brokers}
            await asyncio.sleep(SLOW_S)
        finally:
            for proxy in brokers:
                toxiproxy.clear(proxy)
        assert all(kinds == ["latency", "reset_peer"] for kinds in toxics.values()), toxics
        return (
            f"every service↔broker link: +{LATENCY_MS} ms on each answer, {RESET_SHARE:.0%} of "
            f"connections reset (Toxiproxy latency + reset_peer) for {SLOW_S:g} s"
        )

    await run_case(partitioned, f"{LATENCY_MS} ms latency + {RESET_SHARE:.0%} resets to Kafka", inject)


def _slow(toxiproxy: Toxiproxy, proxy: str) -> None:
    toxiproxy.toxic(proxy, "latency", "latency", "downstream", {"latency": LATENCY_MS, "jitter": 20})
    toxiproxy.toxic(proxy, "resets", "reset_peer", "upstream", {"timeout": 0}, toxicity=RESET_SHARE)
