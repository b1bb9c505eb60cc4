"""Trade events through the real broker and registry: produce, consume, decode, commit semantics."""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest
from aiokafka import TopicPartition

from corridor.core.codec import Codec
from corridor.core.domain.validation import InvalidEvent, parse_event
from corridor.core.kafka import TradeConsumer, TradeProducer, TradeRecord, end_offsets, start_group_at
from corridor.core.registry_client import RegistryClient
from corridor.core.topics import ORDERS, TRADE_TOPICS
from corridor.demo.story import chromite_story

pytestmark = pytest.mark.integration


async def _read_trade(
    bootstrap: str, registry: RegistryClient, trade_id: uuid.UUID, count: int, since: dict
) -> list[TradeRecord]:
    """The trade's records, read by a new group from ``since`` (so other clients' history is skipped)."""
    seen: list[TradeRecord] = []
    group = f"it-{uuid.uuid4().hex[:8]}"
    await start_group_at(bootstrap, group, since)
    consumer = TradeConsumer(TRADE_TOPICS, bootstrap_servers=bootstrap, group_id=group, codec=Codec(registry))

    async def collect(record: TradeRecord) -> None:
        if record.key == str(trade_id):
            seen.append(record)
            if len(seen) >= count:
                consumer.request_stop()

    async with consumer:
        await consumer.run(collect, idle_timeout=20)
    return seen


async def test_story_round_trips_in_order_with_headers(kafka_stack) -> None:
    story = chromite_story()
    since = await end_offsets(kafka_stack.bootstrap_servers, TRADE_TOPICS)
    async with RegistryClient(kafka_stack.schema_registry_url) as registry:
        async with TradeProducer(kafka_stack.bootstrap_servers, Codec(registry)) as producer:
            acks = await producer.publish_many(story.events)
        records = await _read_trade(
            kafka_stack.bootstrap_servers, registry, story.trade_id, len(story.events), since
        )

    assert len(acks) == len(story.events) == len(records)
    assert {r.event.event_id for r in records} == {e.event_id for e in story.events}
    by_id = {e.event_id: e for e in story.events}
    for record in records:
        assert record.event == by_id[record.event.event_id]  # every field survives the trip
        assert record.cloudevent.type == record.event.avro_name
        assert record.cloudevent.id == str(record.event.event_id)
        assert record.cloudevent.source == f"/corridor/partners/{record.event.sender}"
        assert record.cloudevent.trace_id is not None
    # one trade → one partition per topic, and the order within a topic is the publishing order
    partitions = defaultdict(set)
    for ack in acks:
        partitions[ack.topic].add(ack.partition)
    assert all(len(p) == 1 for p in partitions.values())
    for topic in TRADE_TOPICS:
        published = [str(e.event_id) for e in story.events if e.topic == topic]
        consumed = [r.cloudevent.id for r in sorted(records, key=lambda r: r.offset) if r.topic == topic]
        assert consumed == published


async def test_invalid_event_is_refused_before_kafka(kafka_stack) -> None:
    before = await end_offsets(kafka_stack.bootstrap_servers, (ORDERS,))
    order = chromite_story().events[0].model_dump(mode="json")
    order["incoterm"] = "FOB"
    order["transport_mode"] = "ROAD"
    order["lines"][0]["quantity"]["unit"] = "TONS"
    with pytest.raises(InvalidEvent) as exc:
        parse_event("OrderPlaced", order)
    assert [e.field for e in exc.value.errors] == ["lines[0].quantity.unit"]
    order["lines"][0]["quantity"]["unit"] = "TNE"
    with pytest.raises(InvalidEvent) as exc:
        parse_event("OrderPlaced", order)
    assert exc.value.errors[0].field == "incoterm" and "sea-only" in exc.value.errors[0].reason
    assert await end_offsets(kafka_stack.bootstrap_servers, (ORDERS,)) == before


async def test_consumer_commits_only_what_the_handler_finished(kafka_stack) -> None:
    story = chromite_story()
    orders = [e for e in story.events if e.topic == ORDERS]
    group = f"it-commit-{uuid.uuid4().hex[:8]}"
    await start_group_at(
        kafka_stack.bootstrap_servers, group, await end_offsets(kafka_stack.bootstrap_servers, (ORDERS,))
    )
    async with RegistryClient(kafka_stack.schema_registry_url) as registry:
        async with TradeProducer(kafka_stack.bootstrap_servers, Codec(registry)) as producer:
            acks = await producer.publish_many(orders)
        partition = acks[0].partition
        handled: list[str] = []

        async def fail_on_third(record: TradeRecord) -> None:
            if record.key != str(story.trade_id):
                return
            if len(handled) == 2:
                raise RuntimeError("handler crashed")
            handled.append(record.cloudevent.id)

        consumer = TradeConsumer(
            [ORDERS], bootstrap_servers=kafka_stack.bootstrap_servers, group_id=group, codec=Codec(registry)
        )
        async with consumer:
            with pytest.raises(RuntimeError, match="handler crashed"):
                await consumer.run(fail_on_third, idle_timeout=20)
            committed = await consumer._consumer.committed(TopicPartition(ORDERS, partition))
        assert committed == acks[2].offset  # the failed record is the next one to read

        again: list[str] = []

        async def collect(record: TradeRecord) -> None:
            if record.key == str(story.trade_id):
                again.append(record.cloudevent.id)
                if len(again) == len(orders) - 2:
                    second.request_stop()

        second = TradeConsumer(
            [ORDERS], bootstrap_servers=kafka_stack.bootstrap_servers, group_id=group, codec=Codec(registry)
        )
        async with second:
            await second.run(collect, idle_timeout=20)
    assert handled + again == [str(e.event_id) for e in orders]
