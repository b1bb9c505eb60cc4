"""A live move to a topic generation with more partitions, under load (ADR 0040, docs/operations.md
"More partitions"): the procedure an operator runs, step by step, on the fault corridor.

Load runs through the gateway the whole time. The "fault" is the move: the gateway stopped (partners get
connection errors and retry later with the same ids), the ledger and the relay drained and stopped,
the trade topics and the accepted stream copied from 6 to 12 partitions (``corridor generation copy``),
the relay's state translated (``generation relay-state``), the services' rights granted on the new
topics (``generation acls``), the ledger rebuilt from the new topics and switched in (``corridor rebuild
--switch``), and every service started again with ``CORRIDOR_TOPIC_GENERATION=2`` and
``CORRIDOR_TRADE_PARTITIONS=12``. Then more load, retries of what failed, and the suite's checks: every
acknowledged event stored once and relayed once to each entitled partner topic, per-trade order kept —
across both generations (the partner topics do not move).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from corridor.core.kafka import client_security
from corridor.core.kafka_read import reader
from corridor.core.settings import PROJECT_ROOT
from corridor.core.topics import ACCEPTED, GENERATION_ENV, PARTITIONS_ENV, TRADE_TOPICS, generation_name
from corridor.ledger.topics import RETRY_TOPICS
from corridor.ops.kafka_io import topic_partitions
from tests.faults.conftest import Corridor
from tests.faults.test_faults import run_case
from tests.support.kafka_login import operator_env

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

NEW_PARTITIONS = 12
LEDGER_GROUP, RELAY_GROUP = "corridor-ledger", "corridor-relay"
STATE_TOPIC = f"{RELAY_GROUP}.state.v2"


def _cli(corridor: Corridor, *args: str, generation: int = 1) -> str:
    """``corridor <args>`` as the operator would run it against the fault corridor."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")}
    assert corridor.stack.database_url is not None
    env.update(
        operator_env(corridor.config.state_dir),
        CORRIDOR_STATE_DIR=str(corridor.config.state_dir),
        CORRIDOR_BOOTSTRAP_SERVERS=corridor.stack.bootstrap_servers,
        CORRIDOR_SCHEMA_REGISTRY_URL=corridor.stack.schema_registry_url,
        CORRIDOR_DATABASE_URL=corridor.stack.database_url,
    )
    if generation > 1:
        env.update({GENERATION_ENV: str(generation), PARTITIONS_ENV: str(NEW_PARTITIONS)})
    done = subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"corridor {' '.join(args)}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


async def _behind(bootstrap: str, group: str, topics: list[str]) -> int:
    """Records of ``topics`` the group has not committed past (a missing commit counts from 0)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    counts = await topic_partitions(bootstrap, topics)
    tps = [TopicPartition(t, p) for t in topics for p in range(counts.get(t, 0))]
    ends: dict[TopicPartition, int] = {}
    begins: dict[TopicPartition, int] = {}
    async with reader(bootstrap) as consumer:
        for topic in topics:  # topic by topic, each bounded: one slow broker answer is asked again
            mine = [tp for tp in tps if tp.topic == topic]
            ends.update(await asyncio.wait_for(consumer.end_offsets(mine), 15))
            begins.update(await asyncio.wait_for(consumer.beginning_offsets(mine), 15))
    return sum(
        max(ends[tp] - max(committed[tp].offset if tp in committed else 0, begins[tp]), 0) for tp in tps
    )


async def _drained(corridor: Corridor, within: float = 420.0) -> str:
    """The ledger has applied everything (trade and retry topics, its outbox published) and the relay
    has relayed the accepted stream to its end."""
    bootstrap = corridor.stack.bootstrap_servers
    deadline = time.monotonic() + within
    last: Any = None
    said = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        try:
            ledger = await _behind(bootstrap, LEDGER_GROUP, [*TRADE_TOPICS, *RETRY_TOPICS])
            unpublished = await corridor.pool.fetchval(
                "SELECT count(*) FROM ledger.outbox WHERE published_at IS NULL"
            )
            relay = await _behind(bootstrap, RELAY_GROUP, [ACCEPTED])
        except (KafkaError, TimeoutError) as exc:  # a slow answer on a loaded machine: ask again
            last = f"{type(exc).__name__}: {exc}"
            continue
        last = f"ledger {ledger} behind, {unpublished} unpublished, relay {relay} behind"
        if ledger == unpublished == relay == 0:
            return last
        if time.monotonic() >= said + 10:  # what the move waits for, in the case's output
            said = time.monotonic()
            print(f"draining: {last}")
    raise AssertionError(f"not drained within {within:.0f} s: {last}")


async def test_a_live_move_to_a_generation_with_more_partitions(corridor: Corridor) -> None:
    async def inject(c: Corridor) -> str:
        steps: list[str] = []
        began = time.monotonic()

        def step(what: str) -> None:
            steps.append(f"{what} {time.monotonic() - began:.0f}s")

        c.gateway.stop()  # 1. producers stopped: partners get connection errors and retry later
        step("gateway stopped")
        await _drained(c)  # 2. the ledger and the relay drained
        for service in (c.ledger, c.relay):
            if service is not None:
                service.stop()
        step("drained")
        # 3. copy the trade topics and the accepted stream; 4. carry the relay's state over
        await asyncio.to_thread(
            _cli, c, "generation", "copy", "--to", "2", "--partitions", str(NEW_PARTITIONS)
        )
        accepted_g2, state_g2 = generation_name(ACCEPTED, 2), generation_name(STATE_TOPIC, 2)
        await asyncio.to_thread(
            _cli,
            c,
            "generation",
            "copy",
            "--partitions",
            str(NEW_PARTITIONS),
            "--topic",
            f"{ACCEPTED}={accepted_g2}",
        )
        await asyncio.to_thread(
            _cli,
            c,
            "generation",
            "relay-state",
            "--accepted",
            f"{ACCEPTED}={accepted_g2}",
            "--state",
            f"{STATE_TOPIC}={state_g2}",
        )
        await asyncio.to_thread(_cli, c, "generation", "acls", "--to", "2")
        step("copied")
        # 5. the ledger rebuilt from the new topics and switched in
        await asyncio.to_thread(_cli, c, "rebuild", "--switch", generation=2)
        step("rebuilt")
        # 6. every service on the new generation: ledger, relay, then the gateway
        for service in (c.ledger, c.relay, c.gateway):
            if service is not None:
                service.env.update({GENERATION_ENV: "2", PARTITIONS_ENV: str(NEW_PARTITIONS)})
                service.restarts += 1
                service.start()
                await service.wait_ready(240)  # the relay reloads its routes first
        step("all on generation 2")
        return f"6 → {NEW_PARTITIONS} partitions, gateway down for the move: " + ", ".join(steps)

    outcome = await run_case(corridor, f"live move to generation 2 ({NEW_PARTITIONS} partitions)", inject)
    # the second phase's events went to the new generation: the ledger stored them from .g2 topics
    topics = {row["topic"] for row in await corridor.pool.fetch("SELECT DISTINCT topic FROM ledger.events")}
    assert topics <= {generation_name(t, 2) for t in TRADE_TOPICS}, topics  # the rebuild re-read history
    assert outcome.acknowledged > 0
