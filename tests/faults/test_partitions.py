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


#: A Kafka ApiVersions request (v0, correlation id 1, no client id): a broker answers it before any
#: login, so its round trip from inside a namespace shows what the path to the broker adds.
_API_VERSIONS = bytes.fromhex("0000000a" "0012" "0000" "00000001" "ffff")
_ROUND_TRIP = """
import socket, struct, sys, time
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5.0)
started = time.monotonic()
sock.sendall(bytes.fromhex(sys.argv[3]))
head = b""
while len(head) < 4:
    chunk = sock.recv(4 - len(head))
    if not chunk:
        raise SystemExit("closed")
    head += chunk
print(round((time.monotonic() - started) * 1000))
"""


def _round_trip_ms(network: Network, service: str, address: str, port: int) -> int:
    """Milliseconds from an ApiVersions request to the first bytes of its answer, sent from inside
    ``service``'s namespace to ``address:port`` (up to three tries: a reset connection is tried again)."""
    argv = [*network.of(service).prefix(), sys.executable, "-c", _ROUND_TRIP, address, str(port)]
    last = b""
    for _ in range(3):
        done = subprocess.run([*argv, _API_VERSIONS.hex()], capture_output=True, timeout=30)
        if done.returncode == 0:
            return int(done.stdout)
        last = done.stderr[-300:]
    raise AssertionError(f"no ApiVersions answer from {address}:{port} in 3 tries: {last!r}")


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
        network = c.network
        assert toxiproxy is not None and network is not None
        brokers = [name for name in toxiproxy.proxies() if name.startswith("broker-")]
        assert len(brokers) == 3, brokers
        probe = (network, "gateway", network.hub, c.config.port(1, FAULTS_LISTENER_NAME))
        before = await asyncio.to_thread(_round_trip_ms, *probe)
        try:
            for proxy in brokers:
                _slow(toxiproxy, proxy)
            toxics = {p: sorted(t["type"] for t in toxiproxy.proxies()[p]["toxics"]) for p in brokers}
            during = await asyncio.to_thread(_round_trip_ms, *probe)
            await asyncio.sleep(SLOW_S)
        finally:
            for proxy in brokers:
                toxiproxy.clear(proxy)
        after = await asyncio.to_thread(_round_trip_ms, *probe)
        assert all(kinds == ["latency", "reset_peer"] for kinds in toxics.values()), toxics
        assert during >= LATENCY_MS - 20, f"an ApiVersions round trip took {during} ms under the toxics"
        return (
            f"every service↔broker link: +{LATENCY_MS} ms on each answer, {RESET_SHARE:.0%} of "
            f"connections reset (Toxiproxy latency + reset_peer) for {SLOW_S:g} s; ApiVersions round "
            f"trip from the gateway's namespace to broker 1: {before} ms before, {during} ms during, "
            f"{after} ms after"
        )

    await run_case(partitioned, f"{LATENCY_MS} ms latency + {RESET_SHARE:.0%} resets to Kafka", inject)


def _slow(toxiproxy: Toxiproxy, proxy: str) -> None:
    toxiproxy.toxic(proxy, "latency", "latency", "downstream", {"latency": LATENCY_MS, "jitter": 20})
    toxiproxy.toxic(proxy, "resets", "reset_peer", "upstream", {"timeout": 0}, toxicity=RESET_SHARE)
