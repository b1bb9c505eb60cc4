"""Fixtures of the monitor's tests: a ledger and a monitor of their own over the shared stack.

Each test module gets its own ledger and monitor (module-scoped: they stop when the module is done, not
at the end of the session). Isolation on a shared stack: the ledger started here has its own consumer
group (starting at the end of the topics) and its own PostgreSQL schemas (dropped afterwards); the
monitor reads that schema and watches that group as "the ledger". Stories are published with fresh
trade ids.

Exact numbers on a shared cluster: ``produced`` publishes a known set of events and checks that the
end offsets the monitor reported moved by exactly that many on exactly those partitions. When
something else wrote to the trade topics meanwhile (another engineer's tests), it tries again with
new stories, up to three times.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from corridor.core.codec import Codec
from corridor.core.kafka import TradeProducer
from corridor.core.registry_client import RegistryClient
from corridor.demo.story import chromite_story, explosives_story, with_own_numbers
from corridor.monitor.settings import MonitorSettings
from tests.integration.ledger.ledger_helpers import (
    InProcessLedger,
    LedgerSetup,
    drop_schemas,
    unique,
    wait_ready,
)
from tests.integration.monitor.monitor_helpers import (
    OPERATOR_TOKEN,
    InProcessMonitor,
    Produced,
    World,
    commit_group,
    get_json,
    group_of,
    topic_ends,
    trade_end_offsets,
    wait_until,
)

ATTEMPTS = 3
#: Seconds between the monitor's samples in these tests (the page refreshes as often).
REFRESH_S = 1.0


@pytest.fixture(scope="module")
async def monitor_world(stack: Any) -> AsyncIterator[World]:
    """A ledger (own group and schemas) and a monitor watching it, both ready."""
    setup = LedgerSetup(unique("it-monitor-ledger"), unique("ledger_mon"), unique("partners_mon"))
    await drop_schemas(stack.database_url, setup.db_schema, setup.partners_schema)
    ledger = InProcessLedger(setup.settings(stack))
    await asyncio.to_thread(ledger.start)
    monitor: InProcessMonitor | None = None
    try:
        await wait_ready(ledger.url)
        monitor = InProcessMonitor(
            MonitorSettings(
                bootstrap_servers=stack.bootstrap_servers,
                schema_registry_url=stack.schema_registry_url,
                database_url=stack.database_url,
                monitor_ledger_schema=setup.db_schema,
                monitor_ledger_group=setup.group_id,
                monitor_refresh_s=REFRESH_S,
                monitor_token=OPERATOR_TOKEN,
                log_level="WARNING",
            )
        )
        await asyncio.to_thread(monitor.start)
        async with httpx.AsyncClient(base_url=monitor.url, timeout=10) as http:

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await wait_until(ready, within=60, what="the monitor's /readyz")
        yield World(stack, setup, ledger, monitor)
    finally:
        if monitor is not None:
            await asyncio.to_thread(monitor.stop)
        await asyncio.to_thread(ledger.stop)
        await drop_schemas(stack.database_url, setup.db_schema, setup.partners_schema)


@pytest.fixture(scope="module")
async def monitor_http(monitor_world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=monitor_world.url, timeout=30, headers=monitor_world.login) as http:
        yield http


@pytest.fixture(scope="module")
async def trade_producer(stack: Any) -> AsyncIterator[TradeProducer]:
    """``corridor.core.kafka.TradeProducer`` (acks=all) on the stack's registry."""
    registry = RegistryClient(stack.schema_registry_url)
    producer = TradeProducer(stack.bootstrap_servers, Codec(registry), client_id="it-monitor")
    await producer.start()
    yield producer
    await producer.stop()
    await registry.close()


async def _overview(http: httpx.AsyncClient, group: str) -> dict[str, Any]:
    overview: dict[str, Any] = await get_json(http, "/api/overview", group=group)
    return overview


@pytest.fixture(scope="module")
async def produced(
    stack: Any, monitor_world: World, monitor_http: httpx.AsyncClient, trade_producer: TradeProducer
) -> Produced:
    """Two chromite stories and one explosives story published while the monitor watched, with a
    consumer group committed at the end offsets just before: its lag must equal what was published."""
    noise = []
    for attempt in range(1, ATTEMPTS + 1):
        group = f"it-monitor-lag-{uuid.uuid4().hex[:10]}"
        start = await trade_end_offsets(stack.bootstrap_servers)
        await commit_group(stack.bootstrap_servers, group, start)

        async def group_listed(g: str = group) -> dict[str, Any] | None:
            overview = await _overview(monitor_http, g)
            return overview if group_of(overview["groups"], g) else None

        first = await wait_until(group_listed, within=30, what=f"group {group} in /api/overview")
        before = topic_ends(first)
        if before != start:
            noise.append(f"attempt {attempt}: end offsets moved between the commit and the first sample")
            continue

        stories = [chromite_story(), chromite_story(), with_own_numbers(explosives_story)]
        acks = await trade_producer.publish_many([e for s in stories for e in s.events])
        expected_ends = dict(before)
        for ack in acks:
            key = (ack.topic, ack.partition)
            expected_ends[key] = max(expected_ends[key], ack.offset + 1)

        async def caught_up(g: str = group, want: dict[tuple[str, int], int] = expected_ends) -> Any:
            overview = await _overview(monitor_http, g)
            ends = topic_ends(overview)
            return overview if all(ends.get(k, -1) >= v for k, v in want.items()) else None

        last = await wait_until(caught_up, within=30, what="the monitor to see the published events")
        after = topic_ends(last)
        if after != expected_ends:
            noise.append(f"attempt {attempt}: something else wrote to the trade topics meanwhile")
            continue
        return Produced(
            group=group,
            acks=acks,
            before=before,
            after=after,
            overview=last,
            attempts=attempt,
            trade_ids=[str(s.trade_id) for s in stories],
        )
    pytest.fail(f"the trade topics never stayed quiet long enough for exact numbers: {noise}")
