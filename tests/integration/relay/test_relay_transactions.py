"""aiokafka's transactional producer against our Kafka 4.1 broker: the building blocks of the relay's
exactly-once (docs/adr/0011-relay-exactly-once.md), proven before they are relied on.

* a committed transaction's records are visible to read_committed consumers, an aborted one's never
  (read_uncommitted consumers see both: the records were written, then marked aborted);
* ``send_offsets_to_transaction`` commits the consumer group's offsets with the transaction, and only
  if it commits;
* a second producer with the same ``transactional_id`` fences the first: the first one's open
  transaction is aborted and it can commit nothing any more (``ProducerFenced``).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import ProducerFenced

from corridor.core.kafka import client_security
from tests.integration.relay.relay_helpers import SecureStack, read_topic

pytestmark = pytest.mark.integration


async def new_topic(bootstrap: str, partitions: int = 1) -> str:
    name = f"test.txn.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


def transactional(bootstrap: str, transactional_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, **client_security(), transactional_id=transactional_id, acks="all"
    )


async def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in found.items()}


def values(records: list[object]) -> list[bytes]:
    return [r.value for r in records]  # type: ignore[attr-defined]


async def _commit_and_abort(bootstrap: str) -> None:
    topic = await new_topic(bootstrap)
    producer = transactional(bootstrap, f"test-txn-{uuid.uuid4().hex[:8]}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-1")
            await producer.send_and_wait(topic, b"committed-2")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-3")
    finally:
        await producer.stop()
    assert values(await read_topic(bootstrap, topic)) == [b"committed-1", b"committed-2", b"committed-3"]
    uncommitted = values(await read_topic(bootstrap, topic, isolation_level="read_uncommitted"))
    assert uncommitted == [b"committed-1", b"committed-2", b"aborted", b"committed-3"]


async def _offsets_go_with_the_transaction(bootstrap: str) -> None:
    source, sink = await new_topic(bootstrap), await new_topic(bootstrap)
    group = f"test-txn-group-{uuid.uuid4().hex[:8]}"
    tp = TopicPartition(source, 0)
    producer = transactional(bootstrap, f"test-txn-{uuid.uuid4().hex[:8]}")
    await producer.start()
    try:
        await producer.begin_transaction()
        await producer.send_and_wait(sink, b"x")
        await producer.send_offsets_to_transaction({tp: 5}, group)
        await producer.abort_transaction()
        assert tp not in await committed_offsets(bootstrap, group)
        async with producer.transaction():
            await producer.send_and_wait(sink, b"y")
            await producer.send_offsets_to_transaction({tp: 7}, group)
    finally:
        await producer.stop()
    assert (await committed_offsets(bootstrap, group))[tp] == 7
    assert values(await read_topic(bootstrap, sink)) == [b"y"]


async def _a_new_producer_fences_the_old_one(bootstrap: str) -> None:
    topic = await new_topic(bootstrap)
    transactional_id = f"test-txn-{uuid.uuid4().hex[:8]}"
    zombie = transactional(bootstrap, transactional_id)
    await zombie.start()
    successor = transactional(bootstrap, transactional_id)
    try:
        await zombie.begin_transaction()
        await zombie.send_and_wait(topic, b"from the zombie, never committed")
        # The successor's InitProducerId bumps the epoch and aborts the zombie's open transaction.
        await successor.start()
        async with successor.transaction():
            await successor.send_and_wait(topic, b"from the successor")
        with pytest.raises(ProducerFenced):
            await zombie.commit_transaction()
            await zombie.begin_transaction()  # aiokafka may report the fence on the next call
            await zombie.send_and_wait(topic, b"late")
            await zombie.commit_transaction()
    finally:
        await successor.stop()
        try:
            await zombie.stop()
        except ProducerFenced:
            pass
    assert values(await read_topic(bootstrap, topic)) == [b"from the successor"]


def test_commit_visible_abort_invisible(partner_stack: SecureStack) -> None:
    asyncio.run(_commit_and_abort(partner_stack.bootstrap))


def test_consumed_offsets_commit_with_the_transaction_only(partner_stack: SecureStack) -> None:
    asyncio.run(_offsets_go_with_the_transaction(partner_stack.bootstrap))


def test_same_transactional_id_fences_the_zombie(partner_stack: SecureStack) -> None:
    asyncio.run(_a_new_producer_fences_the_old_one(partner_stack.bootstrap))
