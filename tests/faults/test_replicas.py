"""Several replicas of every service at once, under load, with one of each killed and replaced (issue 23).

On the fault suite's isolated three-broker corridor (``conftest.corridor``: its gateway, ledger and relay
are replica 1 of each), this case adds two ledgers, two relays (their own instance ids), a second
gateway and two webhook dispatchers, subscribes one partner's webhook to a loopback receiver the test
runs, and offers trades through both gateways. Mid-load, one gateway, one ledger, one relay and one
dispatcher are SIGKILLed and a replacement of each is started (same port, same instance id, as a
StatefulSet pod comes back); then a fourth ledger and a fourth relay (a new instance id) are added,
so the groups rebalance again under load. Then, as in every fault case: every acknowledged event is in
the ledger once, in each entitled partner topic once in its trade's order; and every event of the
subscribed partner's topic was processed once by the receiver, which also counts the POSTs of each event
id (the dispatcher delivers at least once: a POST answered after its timeout, or claimed by the killed
dispatcher, is posted again and answered ``duplicate``; those are reported, not failed).

The gateways run with a short claim stale window (26 s, above their 10 s delivery bound + 5 s request
timeout + the margin; ADR 41) so the retries of requests the killed gateway left pending are taken
over within the case; the dispatchers with a short backoff, so a delivery claim the killed dispatcher
left is stale after 35 s (ADR 12).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from corridor.core.kafka import client_security
from corridor.demo.story import chromite_story
from corridor.webhooks.receiver import Receiver
from tests.faults.conftest import Corridor
from tests.faults.harness import (
    LoadGenerator,
    Outcome,
    ServiceProcess,
    check,
    eventually,
    now,
    service_env,
)
from tests.faults.test_faults import retry_failed
from tests.integration.webhooks.webhooks_helpers import FlakyFront, ServerThread

pytestmark = [pytest.mark.faults, pytest.mark.replicas, pytest.mark.timeout(600)]

WARM_UP_S = 8.0
AFTER_S = 10.0
#: Load over both gateways together (events/s).
RATE = 40.0
SECRET = "whsec_faults-replicas-secret"
FAULT = "3 ledgers, 3 relays, 2 gateways, 2 dispatchers: kill -9 one of each, replaced; +1 ledger, +1 relay"
#: Gateways: a 10 s delivery bound and a stale window just above the floor it sets (ADR 41).
GATEWAY_ENV = {
    "CORRIDOR_GATEWAY_DELIVERY_TIMEOUT_S": "10",
    "CORRIDOR_GATEWAY_CLAIM_STALE_S": "26",
}
#: Dispatchers: short backoff and timeout, so a dead one's delivery claim is stale after 2 + 3 + 30 s.
WEBHOOKS_ENV = {
    "CORRIDOR_WEBHOOKS_ALLOWED_CALLBACKS": "127.0.0.1",
    "CORRIDOR_WEBHOOKS_BACKOFF_BASE_S": "0.2",
    "CORRIDOR_WEBHOOKS_BACKOFF_MAX_S": "2",
    "CORRIDOR_WEBHOOKS_TIMEOUT_S": "3",
    "CORRIDOR_WEBHOOKS_METADATA_MAX_AGE_MS": "2000",
    "CORRIDOR_WEBHOOKS_SUBSCRIPTION_TTL_S": "1",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replicas:
    """Every replica of the case by service, replica 1 being the corridor fixture's own."""

    gateways: list[ServiceProcess]
    ledgers: list[ServiceProcess]
    relays: list[ServiceProcess]
    dispatchers: list[ServiceProcess]
    #: started under load, after the kills: scaling out while the groups rebalance
    scale_up: list[ServiceProcess]

    @property
    def added(self) -> list[ServiceProcess]:
        return self.gateways[1:] + self.ledgers[1:] + self.relays[1:] + self.dispatchers


@pytest.fixture(scope="module")
async def replicas(corridor: Corridor) -> AsyncIterator[Replicas]:
    stack = corridor.stack
    assert stack.database_url and corridor.relay is not None

    def env(service: str, **extra: str) -> dict[str, str]:
        assert stack.database_url is not None
        found = service_env(
            corridor.config, service, stack.database_url, stack.bootstrap_servers, stack.schema_registry_url
        )
        return {**found, **extra}

    logs = corridor.config.state_dir / "logs"

    def process(name: str, replica: int, **extra: str) -> ServiceProcess:
        return ServiceProcess(name, free_port(), env(name, **extra), logs / f"{name}-{replica}.log")

    # replica 1 of the gateway runs with the same claim settings as the second (one stale window)
    corridor.gateway.env.update(GATEWAY_ENV)
    corridor.gateway.stop()
    corridor.gateway.start()
    made = Replicas(
        gateways=[corridor.gateway, process("gateway", 2, **GATEWAY_ENV)],
        ledgers=[corridor.ledger, process("ledger", 2), process("ledger", 3)],
        relays=[
            corridor.relay,
            process("relay", 2, CORRIDOR_RELAY_INSTANCE_ID="faults-relay-2"),
            process("relay", 3, CORRIDOR_RELAY_INSTANCE_ID="faults-relay-3"),
        ],
        dispatchers=[process("webhooks", 1, **WEBHOOKS_ENV), process("webhooks", 2, **WEBHOOKS_ENV)],
        scale_up=[process("ledger", 4), process("relay", 4, CORRIDOR_RELAY_INSTANCE_ID="faults-relay-4")],
    )
    try:
        for service in made.added:
            service.start()
        await asyncio.gather(*(s.wait_ready(180) for s in [corridor.gateway, *made.added]))
        yield made
    finally:
        for service in made.added + made.scale_up:
            service.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[FlakyFront, str]]:
    front = FlakyFront(Receiver(SECRET))
    server = ServerThread(front, "faults-receiver").start()
    try:
        yield front, f"{server.url}/corridor/events"
    finally:
        await asyncio.to_thread(server.stop)


async def subscribe(dispatcher: ServiceProcess, api_key: str, url: str) -> None:
    async with httpx.AsyncClient(base_url=dispatcher.url, timeout=30) as http:
        response = await http.post(
            "/v1/subscriptions",
            json={"callback_url": url, "secret": SECRET},
            headers={"Authorization": f"Bearer {api_key}"},
        )
    assert response.status_code == 201, response.text


def merged(generators: list[LoadGenerator]) -> LoadGenerator:
    """One generator's view of the load offered through several gateways (retries go to the first)."""
    first = generators[0]
    out = LoadGenerator(first.gateway_url, first.keys, sum(g.rate for g in generators))
    out.attempts = [a for g in generators for a in g.attempts]
    out.held_back = sum(g.held_back for g in generators)
    out.max_in_flight = sum(g.max_in_flight for g in generators)
    out.stalls = sorted(s for g in generators for s in g.stalls)
    out.started_at = min(g.started_at for g in generators)
    out.stopped_at = max(g.stopped_at for g in generators)
    return out


async def explain_undelivered(corridor: Corridor, partner: str, missing: set[str]) -> str:
    """Where undelivered events are: their partner-topic positions, their delivery claims, and the
    dispatchers' committed offsets against the end of each partition."""
    assert corridor.reader is not None
    topic = f"partner.{partner}.v1"
    positions = sorted(
        (c.partition, c.offset, c.event_id)
        for e in missing
        for c in corridor.reader.copies.get(e, ())
        if c.partner == partner
    )
    rows = await corridor.pool.fetch(
        "SELECT event_id, state, owner::text, claimed_at FROM webhooks.deliveries WHERE event_id = ANY($1)",
        sorted(missing),
    )
    claims = {r["event_id"]: (r["state"], r["owner"][:8], r["claimed_at"].strftime("%H:%M:%S")) for r in rows}
    admin = AIOKafkaAdminClient(bootstrap_servers=corridor.stack.bootstrap_servers, **client_security())
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets("corridor-webhooks")
    finally:
        await admin.close()
    offsets = {tp.partition: meta.offset for tp, meta in committed.items() if tp.topic == topic}
    lines = [f"  undelivered in {topic} (partition, offset, event, claim); committed offsets {offsets}:"]
    lines += [f"    {p} {o} {e} {claims.get(e, 'no claim')}" for p, o, e in positions[:20]]
    return "\n".join(lines)


async def start(service: ServiceProcess) -> float:
    """A new replica started; seconds to ready."""
    started = time.monotonic()
    service.start()
    await service.wait_ready(180)
    return time.monotonic() - started


async def replace(service: ServiceProcess) -> float:
    """SIGKILL, then the replacement started at once (same port and environment); seconds to ready."""
    service.kill()
    started = time.monotonic()
    await service.restart()
    return time.monotonic() - started


async def test_three_ledgers_three_relays_two_gateways_two_dispatchers_kill_and_replace(
    corridor: Corridor, replicas: Replicas, receiver: tuple[FlakyFront, str]
) -> None:
    begin = time.monotonic()
    await corridor.healthy()
    front, url = receiver
    buyer = chromite_story().events[0].sender  # the buyer of every chromite trade
    await subscribe(replicas.dispatchers[0], corridor.keys[buyer], url)

    generators = [LoadGenerator(g.url, corridor.keys, RATE / 2, active=20) for g in replicas.gateways]
    for generator in generators:
        await generator.start()
    try:
        await asyncio.sleep(WARM_UP_S)
        fault_at = now()
        victims = [replicas.gateways[1], replicas.ledgers[1], replicas.relays[1], replicas.dispatchers[1]]
        ready = await asyncio.gather(*(replace(s) for s in victims))
        # and a scale-up: a fourth ledger and a fourth relay (a new instance id) join their groups
        added = await asyncio.gather(*(start(s) for s in replicas.scale_up))
        note = (
            "SIGKILL of gateway 2, ledger 2, relay 2 and dispatcher 2 under load; replacements ready "
            + ", ".join(f"{s.name} {r:.1f} s" for s, r in zip(victims, ready, strict=True))
            + "; then ledger 4 and relay 4 added, ready "
            + ", ".join(f"{s.name} {r:.1f} s" for s, r in zip(replicas.scale_up, added, strict=True))
        )
        await asyncio.sleep(AFTER_S)
    finally:
        for generator in generators:
            await generator.stop()
    generator = merged(generators)
    failed_stored = await retry_failed(corridor, generator)
    outcome = await check(
        Outcome(
            FAULT,
            note=note,
            failed_stored=failed_stored,
        ),
        generator,
        corridor.pool,
        corridor.reader,
        fault_at,
    )
    outcome.duration_s = time.monotonic() - begin
    outcome.load_s = generator.stopped_at - generator.started_at

    # webhooks: every event of the buyer's partner topic processed once by the receiver
    assert corridor.reader is not None
    owed = {e for e, copies in corridor.reader.copies.items() if any(c.partner == buyer for c in copies)}

    async def all_delivered() -> bool:
        return owed <= {d["id"] for d in front.receiver.events}

    await eventually(all_delivered, 240)  # a dead dispatcher's claim: 35 s; rebalances under load
    processed = Counter(d["id"] for d in front.receiver.events)
    posts = Counter(h.event_id for h in front.hits if h.status == 200 and h.event_id is not None)
    missing = owed - set(processed)
    # The dispatcher delivers at least once and the receiver is idempotent on the event id (ADR 12): a
    # POST whose answer came after the dispatcher's timeout is sent again (attempt 2), and a delivery
    # claim of the killed dispatcher is taken over (attempt 1 again). Delivered once = processed once.
    again = {
        e: [(h.attempt, h.status) for h in front.hits if h.event_id == e] for e, n in posts.items() if n > 1
    }
    outcome.note += (
        f"; webhooks: {len(owed)} events of partner.{buyer}.v1 owed to the subscription, "
        f"{len(set(processed) & owed)} processed once by the receiver, {len(again)} POSTed again "
        "(answered `duplicate`)"
    )
    if again:
        outcome.details.append(f"webhook POSTs per event posted again (attempt, status): {again}")
    if missing:
        outcome.problems.append(f"{len(missing)} webhook deliveries missing, e.g. {sorted(missing)[:3]}")
        outcome.lost += len(missing)
        outcome.details.append(await explain_undelivered(corridor, buyer, missing))
    if any(n > 1 for n in processed.values()):
        outcome.problems.append("the receiver processed an event twice")
        outcome.duplicates += sum(n - 1 for n in processed.values() if n > 1)
    corridor.outcomes.append(outcome)
    print(f"\n{outcome.fault}: {outcome.note}; problems: {outcome.problems}")
    for detail in outcome.details:
        print(detail)
    assert outcome.acknowledged > 0, "no event was acknowledged at all"
    assert owed, "no event reached the subscribed partner's topic"
    assert outcome.lost == 0, outcome.problems
    assert outcome.duplicates == 0, outcome.problems
    assert outcome.out_of_order == 0, outcome.problems
    assert outcome.misrouted == 0, outcome.problems
    assert outcome.refused == 0, outcome.problems
