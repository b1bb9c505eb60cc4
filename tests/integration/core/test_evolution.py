"""Schema evolution on the real broker and registry: v2 of an event adds an optional field with a default.

An old consumer (reader = v1) reads v2 records; a new consumer (reader = v2) reads v1 records.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastavro.schema import parse_schema

from corridor.core.codec import Codec
from corridor.core.domain.events import OrderCancelled
from corridor.core.kafka import client_security
from corridor.core.registry_client import RegistryClient
from corridor.core.schemas import SchemaCatalog, catalog, subject_for
from corridor.demo.story import BUYER

pytestmark = pytest.mark.integration


def _v2(schema: dict) -> dict:
    v2 = copy.deepcopy(schema)
    v2["fields"].append(
        {
            "name": "cancellation_code",
            "type": ["null", "string"],
            "default": None,
            "doc": "UN/CEFACT reason code of the cancellation (added in v2).",
        }
    )
    return v2


async def test_old_and_new_consumers_read_each_others_records(stack, tmp_path) -> None:
    topic = f"test.evolution.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap_servers, **client_security())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    v1 = dataclasses.replace(catalog().event("OrderCancelled"), topic=topic)
    v2_schema = _v2(v1.schema)
    v2 = dataclasses.replace(v1, schema=v2_schema, parsed=parse_schema(v2_schema))
    assert v1.subject == v2.subject == subject_for(topic, "corridor.trade.orders.OrderCancelled")

    event = OrderCancelled(
        event_id=uuid.uuid4(),
        trade_id=uuid.uuid4(),
        occurred_at="2026-03-02T10:00:00+08:00",
        sender=BUYER.party_id,
        order_id="TJRD-PO-2026-0117",
        reason="Smelter furnace outage",
    )
    async with RegistryClient(stack.schema_registry_url) as registry:
        old = Codec(registry, SchemaCatalog.of(v1))  # the old service only knows v1
        new = Codec(registry, SchemaCatalog.of(v2))  # the upgraded service knows v2

        v1_id = await old.writer_id(v1)
        v2_id = await new.writer_id(v2)  # registered as version 2 under the same subject
        assert v1_id != v2_id
        v1_bytes = old.encode(event)
        v2_record = {**event.to_avro(), "cancellation_code": "AP12"}
        v2_bytes = Codec.encode_record(new._writers[v2.full_name], v2_record)

        producer = AIOKafkaProducer(
            bootstrap_servers=stack.bootstrap_servers,
            **client_security(),
            acks="all",
            enable_idempotence=True,
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, v1_bytes, key=str(event.trade_id).encode())
            await producer.send_and_wait(topic, v2_bytes, key=str(event.trade_id).encode())
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack.bootstrap_servers,
            **client_security(),
            auto_offset_reset="earliest",
            group_id=f"evolution-{uuid.uuid4().hex[:6]}",
        )
        await consumer.start()
        try:
            records = []
            while len(records) < 2:
                batch = await consumer.getmany(timeout_ms=5000)
                assert batch, "records did not come back"
                records.extend(r for rs in batch.values() for r in rs)
        finally:
            await consumer.stop()

        # old consumer: reads the v2 record with its v1 reader schema; the new field is dropped
        assert await old.decode(records[1].value) == event
        assert await old.decode(records[0].value) == event
        # new consumer: reads the v1 record with its v2 reader schema; the new field takes its default
        _, _, from_v1 = await new.decode_record(records[0].value)
        _, _, from_v2 = await new.decode_record(records[1].value)
        assert from_v1["cancellation_code"] is None
        assert from_v2["cancellation_code"] == "AP12"
        assert from_v1["reason"] == from_v2["reason"] == "Smelter furnace outage"
