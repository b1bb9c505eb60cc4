"""The contract of the relay's ports ``SlotProducer`` and ``SlotStore`` (``corridor.relay.ports``) taken
together, as one function run on the in-memory fakes (tests/unit/relay/test_relay_worker.py) and on
aiokafka's transactional producer with ``KafkaSlotStore`` on a real broker
(tests/integration/relay/test_relay_slot_contract.py). ADR 0036.

``state_topic`` has at least one partition; the records go to its partition 0, the consumed offsets
to the consumer group ``group_id`` (whose committed offsets ``store`` reads)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from aiokafka.errors import ProducerFenced
from aiokafka.structs import TopicPartition

from corridor.core.routing import TradeRoute
from corridor.relay.ports import SlotProducer, SlotStore
from corridor.relay.state import SOURCE_TOPICS, encode_route


async def check_slot_transactions(
    new_producer: Callable[[str], SlotProducer], store: SlotStore, state_topic: str, group_id: str
) -> None:
    source = TopicPartition(SOURCE_TOPICS[0], 0)
    transactional_id = f"contract-{uuid.uuid4().hex[:8]}"
    first, second = f"trade-{uuid.uuid4()}", f"trade-{uuid.uuid4()}"
    route = TradeRoute(("buyer-a", "supplier-b"), ((0, 1),), ("corridor.trade.orders.OrderPlaced",))
    other = TradeRoute(("buyer-c",), ((0, 2),), ("corridor.trade.orders.OrderPlaced",))
    before = await store.committed_positions(0)
    assert set(before) == {TopicPartition(t, 0) for t in SOURCE_TOPICS}

    producer = new_producer(transactional_id)
    await producer.start()
    # committed: the records and the consumed offsets together
    await producer.begin_transaction()
    ack = await producer.send(
        state_topic, key=first.encode(), value=encode_route(route, ["id-1"]), partition=0
    )
    await ack
    await producer.send_offsets_to_transaction({source: before[source] + 3}, group_id)
    await producer.commit_transaction()
    # aborted: neither the record nor the offsets
    await producer.begin_transaction()
    await producer.send(state_topic, key=second.encode(), value=encode_route(other), partition=0)
    await producer.send_offsets_to_transaction({source: before[source] + 9}, group_id)
    await producer.abort_transaction()

    assert (await store.committed_positions(0))[source] == before[source] + 3
    routes, ids = await store.restore(0)
    assert (routes, ids) == ({first: route}, {first: frozenset({"id-1"})})
    record = await store.source_record(TopicPartition(state_topic, 0), 0)
    assert (record.key, record.offset) == (first.encode(), 0)

    # a tombstone forgets the trade
    await producer.begin_transaction()
    await producer.send(state_topic, key=first.encode(), value=None, partition=0)
    await producer.commit_transaction()
    assert await store.restore(0) == ({}, {})

    # a new producer of the same transactional id fences the old one
    successor = new_producer(transactional_id)
    await successor.start()
    with pytest.raises(ProducerFenced):
        await producer.begin_transaction()
        await producer.send(state_topic, key=second.encode(), value=encode_route(other), partition=0)
        await producer.commit_transaction()
    await successor.begin_transaction()
    await successor.send(state_topic, key=second.encode(), value=encode_route(other), partition=0)
    await successor.commit_transaction()
    assert (await store.restore(0))[0] == {second: other}
    await successor.stop()
    try:
        await producer.stop()
    except ProducerFenced:
        pass
