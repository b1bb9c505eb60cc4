"""Redelivery changes nothing: a ledger whose group is rewound re-reads the same records, with a cold
cache (states loaded from PostgreSQL), and leaves every row as it was."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from corridor.core.kafka import client_security
from corridor.demo.story import chromite_story
from corridor.ledger.topics import CONSUMED_TOPICS, partitions_of
from tests.integration.ledger.ledger_helpers import (
    InProcessLedger,
    LedgerSetup,
    drop_schemas,
    eventually,
    wait_ready,
)

pytestmark = pytest.mark.integration


async def committed_offsets(bootstrap: str, group_id: str) -> dict[TopicPartition, int | None]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **client_security(), group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = await partitions_of(bootstrap, CONSUMED_TOPICS)
        consumer.assign(tps)
        return {tp: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()


async def rewind(bootstrap: str, group_id: str, offsets: dict[TopicPartition, int | None]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **client_security(), group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: o for tp, o in offsets.items() if o is not None})
    finally:
        await consumer.stop()


async def snapshot(db: asyncpg.Pool, schema: str, trade_id: Any) -> dict[str, Any]:
    s = f'"{schema}"'
    queries = {
        "events": f'SELECT event_id, ingested_at, topic, partition, "offset", attempts, payload::text '
        f"FROM {s}.events WHERE trade_id = $1 ORDER BY event_id",
        "trades": f"SELECT version, status, state::text, updated_at FROM {s}.trade_states "
        "WHERE trade_id = $1",
        "orders": f"SELECT status, state::text, updated_at FROM {s}.orders WHERE trade_id = $1",
        "shipments": f"SELECT shipment_id, status, state::text, updated_at FROM {s}.shipments "
        "WHERE trade_id = $1 ORDER BY 1",
        "certificates": f"SELECT certificate_number, status, state::text, updated_at FROM {s}.certificates "
        "WHERE trade_id = $1 ORDER BY 1",
    }
    return {name: [dict(r) for r in await db.fetch(q, trade_id)] for name, q in queries.items()}


async def test_redelivering_everything_changes_nothing(
    stack: Any, ledger_setup: LedgerSetup, publish: Any, db: asyncpg.Pool
) -> None:
    settings = ledger_setup.settings(stack)
    await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)
    first = InProcessLedger(settings)
    second: InProcessLedger | None = None
    try:
        await asyncio.to_thread(first.start)
        await wait_ready(first.url)
        start = await committed_offsets(stack.bootstrap_servers, ledger_setup.group_id)
        assert all(o is not None for o in start.values())  # pinned at the end when the group was new

        story = chromite_story()
        await publish(*story.events)

        async def complete() -> bool:
            version = await db.fetchval(
                f'SELECT version FROM "{ledger_setup.db_schema}".trades WHERE trade_id = $1', story.trade_id
            )
            return version == len(story.events)

        await eventually(complete, within=90)
        before = await snapshot(db, ledger_setup.db_schema, story.trade_id)
        assert len(before["events"]) == len(story.events)
        await asyncio.to_thread(first.stop)

        await rewind(stack.bootstrap_servers, ledger_setup.group_id, start)
        second = InProcessLedger(settings)
        await asyncio.to_thread(second.start)
        await wait_ready(second.url)
        await eventually(lambda: second.ledger.stats.duplicates >= len(story.events), within=90)
        await asyncio.sleep(1.0)  # and whatever else was in those batches
        after = await snapshot(db, ledger_setup.db_schema, story.trade_id)
        assert after == before  # same rows, same ingestion times, same states, not even rewritten
    finally:
        for server in (first, second):
            if server is not None:
                await asyncio.to_thread(server.stop)
        await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)
