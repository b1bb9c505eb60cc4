"""Network partitions, not only crashes (issue 23 item 5, docs/adr/0042-network-partitions.md).

The corridor of these cases (``partitioned`` in conftest.py) runs the gateway, the ledger and the relay
each in a network namespace of its own; they reach the brokers, PostgreSQL and the registry through
Toxiproxy on the namespaces' hub address (tests/faults/netns.py). A case cuts a link with iptables
rules inside one service's namespace (every segment dropped both ways, silently: a partition, not a
refused connection), or slows every service↔Kafka link with Toxiproxy's toxics, or cuts one broker
off from the other two (iptables on loopback matching the brokers' cgroups); then heals it.

Same load, same checks as the crash cases (test_faults.run_case): every acknowledged event stored
once and relayed once to each entitled partner, each topic's order kept, the parties agreeing on one
order; a row each in tests/faults/last-run.md.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from corridor.core.topics import ORDERS
from tests.faults.conftest import FAULTS_LISTENER_NAME, Corridor
from tests.faults.harness import cluster_view
from tests.faults.netns import Network, Toxiproxy
from tests.faults.test_faults import _leader_of, run_case

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

#: How long a link stays cut.
CUT_S = 15.0
#: How long the services' links to Kafka stay slow and lossy.
SLOW_S = 20.0
#: How long one broker stays cut off from the other two, at least (longer, up to ISOLATED_MAX_S, until
#: the majority has taken over its leaderships and dropped it from every ISR).
ISOLATED_S = 18.0
ISOLATED_MAX_S = 40.0
#: How long the healed broker has to be back in the ISR of every trade partition.
REJOIN_S = 90.0
#: Added to every answer from a broker to a service (Toxiproxy ``latency`` toxic, downstream).
LATENCY_MS = 200
#: The loss approximation: this share of service↔broker connections is reset (``reset_peer``).
RESET_SHARE = 0.05


def _connects(network: Network, service: str, address: str, port: int) -> bool:
    """Whether a TCP connection from inside ``service``'s namespace to ``address:port`` opens within
    a second (the proof a cut is in place, and gone again after the heal)."""
    return _opens(network.of(service).prefix(), address, port)


def _opens(prefix: tuple[str, ...], address: str, port: int) -> bool:
    """Whether a TCP connection to ``address:port`` from a probe started with ``prefix`` (in a
    namespace, in a broker's cgroup, or ``()``: as the test process) opens within a second."""
    probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=1.0).close()"
    done = subprocess.run([*prefix, sys.executable, "-c", probe], capture_output=True, timeout=30)
    return done.returncode == 0


#: A Kafka ApiVersions request (v0, correlation id 1, no client id): a broker answers it before any
#: login, so its round trip from inside a namespace shows what the path to the broker adds.
_API_VERSIONS = bytes.fromhex("0000000a0012000000000001ffff")
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


async def test_broker_isolated_from_the_other_two(partitioned: Corridor) -> None:
    """One broker (the leader of ``trade.orders.v1``-1) cut off from the other two, both ways, on the
    ports the brokers use among themselves (internal and controller listener), while every client still
    reaches it: a minority partition. The majority (two of three controllers, two of three replicas)
    goes on: it fences the lost broker, takes over its leaderships and shrinks the ISRs to the two of
    them (min.insync.replicas 2 still met); the lost broker cannot complete an acks=all write alone.
    After the heal it must be back in every ISR."""

    async def inject(c: Corridor) -> str:
        groups = c.broker_groups
        assert groups is not None
        config = c.config
        isolated = await _leader_of(c, ORDERS, 1)
        others = c.live_brokers(isolated)
        everyone = [isolated, *others]
        for node in everyone:
            assert groups.members(node), f"broker {node} is not in its cgroup {groups.path(node)}"
        ports = {n: (config.client_port(n), config.controller_port(n)) for n in everyone}
        before = await cluster_view(config, everyone, within=10)
        led = sum(1 for s in before if s.leader == isolated)
        host = config.host
        # from the isolated broker's group to a peer, from a peer's group to it, from the test process to it
        paths = (
            (groups.prefix(isolated), ports[others[0]][0]),
            (groups.prefix(others[0]), ports[isolated][1]),
        )
        assert all([await asyncio.to_thread(_opens, p, host, port) for p, port in paths]), "no link to cut"
        cut_at = time.monotonic()
        groups.isolate(isolated, ports)
        moved_after: float | None = None
        smallest_isr = 3
        try:
            held = not any([await asyncio.to_thread(_opens, p, host, port) for p, port in paths])
            reachable = await asyncio.to_thread(_opens, (), host, ports[isolated][0])
            rules = groups.rules()
            while True:
                elapsed = time.monotonic() - cut_at
                if elapsed >= ISOLATED_MAX_S or (elapsed >= ISOLATED_S and moved_after is not None):
                    break
                await asyncio.sleep(1.0)
                try:
                    states = await cluster_view(config, others, within=5)  # the majority's view
                except RuntimeError:
                    continue
                smallest_isr = min([smallest_isr, *(len(s.isr) for s in states)])
                if moved_after is None and all(
                    s.leader != isolated and isolated not in s.isr for s in states
                ):
                    moved_after = time.monotonic() - cut_at
        finally:
            groups.heal()
        healed_at = time.monotonic()
        isolated_for = healed_at - cut_at
        assert held, f"the cut of broker {isolated} let a connection through:\n{rules}"
        assert reachable, f"clients could not reach broker {isolated} during the cut"
        assert moved_after is not None, (
            f"the majority {others} had not taken over broker {isolated}'s leaderships and ISR places "
            f"{ISOLATED_MAX_S:g} s after the cut"
        )
        back_after: float | None = None
        while time.monotonic() - healed_at < REJOIN_S:
            await asyncio.sleep(1.0)
            try:
                states = await cluster_view(config, others, within=5)
            except RuntimeError:
                continue
            if all(isolated in s.isr for s in states):
                back_after = time.monotonic() - healed_at
                break
        assert back_after is not None, (
            f"broker {isolated} was not back in every ISR {REJOIN_S:g} s after the heal"
        )
        return (
            f"broker {isolated} (leader of {led} of {len(before)} trade partitions, {ORDERS}-1 among them) "
            f"cut off from brokers {others[0]} and {others[1]} (internal + controller ports, both ways; "
            f"clients still reach it) for {isolated_for:.0f} s: its leaderships moved and it left every "
            f"ISR after {moved_after:.0f} s, smallest ISR {smallest_isr}; back in every ISR "
            f"{back_after:.0f} s after the heal"
        )

    await run_case(partitioned, "partition: one broker cut off from the other two", inject)
