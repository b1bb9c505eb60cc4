"""``/metrics`` of the gateway and the ledger after real traffic; consumer lag rises while the ledger is
stopped and drains once it runs again."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from corridor.core.metrics import FAMILIES, sample_sum, sample_value
from corridor.core.topics import TRADE_TOPICS
from corridor.demo.story import ALL_PARTIES, chromite_story
from corridor.demo.via_gateway import ensure_partner_keys, publish_via_gateway
from corridor.ops.lag import group_lag
from tests.integration.ledger.ledger_helpers import eventually
from tests.integration.ops.ops_helpers import Isolation, lag_of, run_cli

pytestmark = pytest.mark.integration


async def test_gateway_and_ledger_expose_the_metric_families_after_traffic(
    ops_stack: Any, iso: Isolation, services: Any, publish: Any, db: asyncpg.Pool, tmp_path: Path
) -> None:
    ledger = await services("ledger", iso).ready()
    gateway = await services("gateway", iso).ready()
    story = chromite_story()
    senders = {e.sender for e in story.events}
    keys = await ensure_partner_keys(
        ops_stack.database_url,
        [p for p in ALL_PARTIES if p.party_id in senders],
        tmp_path,
        schema=iso.partners_schema,
    )
    await publish_via_gateway(story, gateway.url, keys)
    async with httpx.AsyncClient(base_url=gateway.url) as http:  # refused: no key
        assert (await http.post("/v1/events", content=b"{}")).status_code == 401
    # a second order for the trade, straight to Kafka: a lifecycle violation, dead-lettered
    first = story.events[0]
    await publish(first.model_validate({**first.model_dump(), "event_id": uuid.uuid4()}))

    s = iso.ledger_schema

    async def stored() -> bool:
        n = await db.fetchval(f'SELECT count(*) FROM "{s}".events WHERE trade_id = $1', story.trade_id)
        return bool(n == len(story.events))

    await eventually(stored, within=90)

    async def dead_lettered() -> str | None:
        text: str = await ledger.metrics()
        return text if sample_sum(text, "corridor_dead_letters_total", service="ledger") >= 1 else None

    text = await eventually(dead_lettered, within=60)
    for family in FAMILIES:
        assert f"# TYPE {family} " in text, family
    assert sample_value(
        text, "corridor_dead_letters_total", topic="trade.orders.v1", reason="LifecycleViolation"
    )
    orders_in = sample_value(
        text, "corridor_events_in_total", service="ledger", topic="trade.orders.v1", type="OrderPlaced"
    )
    assert orders_in is not None and orders_in >= 2
    for topic in TRADE_TOPICS:
        assert sample_sum(text, "corridor_e2e_latency_seconds_count", service="ledger", topic=topic) >= 1
    assert sample_sum(text, "corridor_handler_duration_seconds_count", service="ledger", handler="batch") >= 1
    assert any(
        sample_value(text, "corridor_consumer_lag", group=iso.group_id, topic=t, partition=str(p)) is not None
        for t in TRADE_TOPICS
        for p in range(6)
    )
    assert sample_sum(text, "ledger_events_stored_total") >= len(story.events)  # the ledger's own counters
    # every stored event knows when it was published (the e2e latency's start)
    missing = await db.fetchval(
        f'SELECT count(*) FROM "{s}".events WHERE trade_id = $1 AND published_at IS NULL', story.trade_id
    )
    assert missing == 0

    text = await gateway.metrics()
    for family in FAMILIES:
        assert f"# TYPE {family} " in text, family
    assert sample_sum(text, "corridor_events_in_total", service="gateway") >= len(story.events)
    assert sample_sum(text, "corridor_events_out_total", service="gateway") >= len(story.events)
    assert sample_value(
        text, "corridor_events_out_total", service="gateway", topic="trade.orders.v1", type="OrderPlaced"
    )
    assert sample_sum(text, "corridor_produce_duration_seconds_count", service="gateway") >= len(story.events)
    posted = sample_value(
        text, "corridor_handler_duration_seconds_count", service="gateway", handler="POST /v1/events"
    )
    assert posted is not None and posted >= len(story.events) + 1
    assert sample_value(text, "corridor_errors_total", service="gateway", kind="unauthorized") == 1
    assert "process_cpu_seconds_total" in text


async def test_lag_rises_while_the_ledger_is_stopped_and_drains_when_it_runs_again(
    ops_stack: Any, iso: Isolation, services: Any, publish: Any, db: asyncpg.Pool
) -> None:
    first = await services("ledger", iso).ready()
    first.stop()
    story = chromite_story()
    acks = await publish(*story.events)

    rows = await group_lag(ops_stack.bootstrap_servers, iso.group_id, TRADE_TOPICS)
    behind = {(r.topic, r.partition): r for r in rows}
    for ack in acks:  # every event we published is behind the group's committed offsets
        assert behind[(ack.topic, ack.partition)].committed is not None
        assert behind[(ack.topic, ack.partition)].committed <= ack.offset  # type: ignore[operator]
    assert sum(r.lag for r in rows) >= len(story.events)
    code, out, err = await run_cli(ops_stack, "lag", "--group", iso.group_id, "--json")
    assert code == 0, err
    assert json.loads(out)["total"] >= len(story.events)

    again = await services("ledger", iso).ready()
    s = iso.ledger_schema

    async def stored() -> bool:
        n = await db.fetchval(f'SELECT count(*) FROM "{s}".events WHERE trade_id = $1', story.trade_id)
        return bool(n == len(story.events))

    await eventually(stored, within=90)

    async def drained() -> bool:
        # the restarted member reports its position against the high watermarks: zero once caught up
        # (other tests publishing meanwhile can only make it wait for the next report)
        return lag_of(await again.metrics(), iso.group_id, TRADE_TOPICS) == 0

    await eventually(drained, within=60, interval=0.5)

    async def committed() -> bool:
        rows = await group_lag(ops_stack.bootstrap_servers, iso.group_id, TRADE_TOPICS)
        done = {(r.topic, r.partition): r.committed or 0 for r in rows}
        return all(done[(a.topic, a.partition)] > a.offset for a in acks)

    await eventually(committed, within=60)
