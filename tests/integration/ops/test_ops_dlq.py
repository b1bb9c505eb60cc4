"""``corridor dlq``: a shipment booking dead-lettered because its trade was unknown after the last retry
is listed and shown; once the order is published, ``dlq replay`` re-produces it and the ledger stores it
exactly once; a second replay re-produces nothing."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from corridor.core.domain.events import ShipmentBooked
from corridor.demo.story import chromite_story
from corridor.ledger.topics import DLQ_TOPIC
from tests.integration.ledger.ledger_helpers import TopicTail, eventually, headers_of
from tests.integration.ops.ops_helpers import Isolation, run_cli

pytestmark = pytest.mark.integration


async def _copies(bootstrap: str, topic: str, event_id: str, start: int, partition: int) -> int:
    """Records carrying ``event_id`` on ``topic``/``partition`` from ``start`` to the end."""
    from aiokafka import TopicPartition

    from corridor.ops.kafka_io import reader, scan

    tp = TopicPartition(topic, partition)
    found = 0
    async with reader(bootstrap) as consumer:
        async for record in scan(consumer, [tp], start={tp: start}):
            if headers_of(record).get("ce_id") == event_id:
                found += 1
    return found


async def test_a_dead_lettered_booking_is_replayed_once_its_order_exists_and_stored_exactly_once(
    ops_stack: Any, iso: Isolation, services: Any, publish: Any, db: asyncpg.Pool
) -> None:
    ledger = await services("ledger", iso).ready()
    story = chromite_story()
    booking = next(e for e in story.events if isinstance(e, ShipmentBooked))
    before = story.events[: story.events.index(booking)]
    after = story.events[story.events.index(booking) + 1 :]
    event_id = str(booking.event_id)
    dlq = await TopicTail(ops_stack.bootstrap_servers, DLQ_TOPIC).start()
    try:
        # the carrier books before the buyer ever ordered: parked 3 times (1 s apart), then dead-lettered
        (ack,) = await publish(booking)

        def ours(record: Any) -> bool:
            headers = headers_of(record)
            return headers.get("ce_id") == event_id and headers.get("dlq_consumer_group") == iso.group_id

        (dead,) = await dlq.wait_for(ours, within=120)
    finally:
        await dlq.stop()
    position = f"{dead.partition}:{dead.offset}"
    mine = ("--filter", f"event={event_id}", "--filter", f"group={iso.group_id}")

    # list: depth, reasons, the record with its dlq headers
    code, out, err = await run_cli(ops_stack, "dlq", "list", "--json", *mine)
    assert code == 0, err
    listing = json.loads(out)
    assert listing["total"] == listing["pending"] == 1
    assert listing["depth"] == {ack.topic: {"total": 1, "pending": 1}}
    assert listing["top_reasons"][0]["error_class"] == "PrerequisiteMissing"
    (row,) = listing["records"]
    assert row["position"] == position and row["replayed"] is None
    assert (row["original_topic"], row["original_partition"], row["original_offset"]) == (
        ack.topic,
        ack.partition,
        ack.offset,
    )
    assert row["attempts"] == "4" and "gave up after 3 retries" in row["reason"]
    code, out, err = await run_cli(ops_stack, "dlq", "list", *mine)
    assert code == 0, err
    assert "1 dead letter(s), 1 not replayed" in out and "PrerequisiteMissing" in out

    # show: headers and the decoded event
    code, out, err = await run_cli(ops_stack, "dlq", "show", position)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["event"]["event_id"] == event_id and shown["event"]["shipment_id"] == booking.shipment_id
    assert shown["headers"]["dlq_error_class"] == "PrerequisiteMissing"
    assert shown["headers"]["ce_type"] == booking.avro_name

    # a dry run produces nothing
    code, out, err = await run_cli(ops_stack, "dlq", "replay", "--dry-run", "--json", *mine)
    assert code == 0, err
    assert json.loads(out)["matched"] == [position] and json.loads(out)["replayed"] == []
    assert await _copies(ops_stack.bootstrap_servers, ack.topic, event_id, ack.offset, ack.partition) == 1

    # fix the cause: the order (and what precedes the booking) is published and stored
    await publish(*before)
    s = iso.ledger_schema

    async def stored(n: int) -> bool:
        count = await db.fetchval(f'SELECT count(*) FROM "{s}".events WHERE trade_id = $1', story.trade_id)
        return bool(count == n)

    await eventually(lambda: stored(len(before)), within=60)

    code, out, err = await run_cli(ops_stack, "dlq", "replay", "--json", *mine)
    assert code == 0, err
    report = json.loads(out)
    (replayed,) = report["replayed"]
    assert replayed["position"] == position and replayed["event_id"] == event_id
    assert (replayed["topic"], replayed["partition"]) == (ack.topic, ack.partition)

    async def booking_stored() -> Any:
        return await db.fetch(
            f'SELECT topic, partition, "offset", attempts FROM "{s}".events WHERE event_id = $1',
            booking.event_id,
        )

    rows = await eventually(booking_stored, within=60)
    assert len(rows) == 1
    assert (rows[0]["topic"], rows[0]["partition"], rows[0]["offset"]) == (
        replayed["topic"],
        replayed["partition"],
        replayed["offset"],
    )

    # a second replay finds it replayed and re-produces nothing
    code, out, err = await run_cli(ops_stack, "dlq", "replay", "--json", *mine)
    assert code == 0, err
    again = json.loads(out)
    assert again["replayed"] == [] and again["already_replayed"] == [position]
    code, out, err = await run_cli(ops_stack, "dlq", "replay", *mine)
    assert code == 0 and "replayed 0 dead letter(s)" in out
    assert await _copies(ops_stack.bootstrap_servers, ack.topic, event_id, ack.offset, ack.partition) == 2

    code, out, err = await run_cli(ops_stack, "dlq", "list", "--json", *mine)
    listing = json.loads(out)
    assert listing["pending"] == 0 and listing["records"][0]["replayed"]["event_id"] == event_id

    # the rest of the trade applies on top: every event stored once, the trade complete
    await publish(*after)
    await eventually(lambda: stored(len(story.events)), within=90)
    version = await db.fetchval(f'SELECT version FROM "{s}".trades WHERE trade_id = $1', story.trade_id)
    assert version == len(story.events)
    assert await db.fetchval(f'SELECT count(*) FROM "{s}".events WHERE event_id = $1', booking.event_id) == 1
    assert ledger.process.poll() is None
