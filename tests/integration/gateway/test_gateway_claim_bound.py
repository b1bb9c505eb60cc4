"""A gateway claim ends with its first owner's produce (ADR 0041), on a real broker and the real table.

The record goes to a broker that does not answer (this session's own broker, SIGSTOPped for a few
seconds: every produce request times out, and aiokafka's idempotent producer retries it for ever). While
it retries, a second owner (another gateway's request) finds the claim in progress in
``gateway.idempotency``; ``TradeProducer.abandon`` then fails the record at once and stops the sender, so
the owner releases its claim and the other request owns it — long before the claim could go stale. Once
the broker runs again, the abandoned producer sends nothing more: the topic holds the record at most
once (a request already in the broker's socket when it was paused is still appended; ADR 0041 says why
that is bounded, and what the ledger's event-id dedup covers beyond it).
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from corridor.core.codec import Codec
from corridor.core.kafka import TradeProducer, client_security
from corridor.core.produce_errors import ProducerAbandonedError
from corridor.core.registry_client import RegistryClient
from corridor.gateway.ports import ClaimState
from corridor.gateway.store import GatewayStore
from corridor.stack import StackStatus, kill_broker, status
from tests.conftest import _default_stack_config

pytestmark = pytest.mark.integration


async def _records_in(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client_security(), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        ends = await consumer.end_offsets([tp])
        return int(ends[tp])
    finally:
        await consumer.stop()


async def test_an_unacknowledged_record_is_abandoned_and_its_claim_freed_before_it_goes_stale(
    kafka_stack: StackStatus, bootstrap_servers: str, schema_registry_url: str, database_url: str
) -> None:
    config = _default_stack_config()
    [broker] = [b.node_id for b in status(config).brokers if b.alive][:1]
    paused = False
    stuck = f"claims-bound-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_security())
    await admin.start()
    schema = f"gateway_bound_{uuid.uuid4().hex[:8]}"
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
    registry = RegistryClient(schema_registry_url)
    producer = TradeProducer(
        bootstrap_servers, Codec(registry), service="claims-test", request_timeout_ms=2000
    )
    try:
        await admin.create_topics([NewTopic(stuck, 1, 1)])
        store = GatewayStore(pool, schema, stale_after_s=3600)  # staleness plays no part here
        await store.ensure_schema()
        await producer.start()
        key, digest = str(uuid.uuid4()), hashlib.sha256(b"the event").digest()
        first, second = uuid.uuid4(), uuid.uuid4()
        assert (await store.claim("p1", [key], [digest], first))[key].state is ClaimState.OWNED
        raw, generation = await producer.ready()
        await (await raw.send(stuck, value=b"warm", key=b"trade-0"))  # connected, metadata known
        kill_broker(config, broker, signal.SIGSTOP, wait=False)
        paused = True
        future = await raw.send(stuck, value=b"the event", key=b"trade-1")
        await asyncio.sleep(5.0)  # the request times out (2 s) and is sent again, and again
        assert not future.done()
        assert (await store.claim("p1", [key], [digest], second))[key].state is ClaimState.IN_PROGRESS

        assert producer.abandon(generation, "the delivery bound passed")
        with pytest.raises(ProducerAbandonedError):
            await asyncio.wait_for(future, 5)
        await store.complete("p1", first, [], [key])  # what _finalize does with a failed record
        assert (await store.claim("p1", [key], [digest], second))[key].state is ClaimState.OWNED

        kill_broker(config, broker, signal.SIGCONT, wait=False)
        paused = False
        await asyncio.sleep(4.0)  # the abandoned producer sends nothing more
        assert await _records_in(bootstrap_servers, stuck) in (1, 2)  # the warm-up, the event at most once
        _raw, replaced = await producer.ready()
        assert replaced == generation + 1
    finally:
        if paused:
            kill_broker(config, broker, signal.SIGCONT, wait=False)
        await producer.stop()
        await registry.close()
        await admin.delete_topics([stuck])
        await admin.close()
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()
