"""A standard client — confluent-kafka with AvroDeserializer and SchemaRegistryClient — decodes our records."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from services.core.codec import Codec
from services.core.kafka import TradeProducer
from services.core.registry_client import RegistryClient
from services.core.topics import TRADE_TOPICS
from services.demo.story import chromite_story

pytestmark = pytest.mark.integration


def read_with_confluent(bootstrap: str, registry_url: str, trade_id: str, count: int, timeout: float = 30.0):
    """Every record of one trade from all trade topics, decoded by confluent-kafka's AvroDeserializer."""
    import time

    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"confluent-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(list(TRADE_TOPICS))
    found = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            if msg.key() != trade_id.encode():
                continue
            value = deserializer(msg.value(), SerializationContext(msg.topic(), MessageField.VALUE, msg.headers()))
            found.append((msg, value))
    finally:
        consumer.close()
    return found


async def test_confluent_avro_deserializer_decodes_every_record(stack) -> None:
    story = chromite_story()
    async with RegistryClient(stack.schema_registry_url) as registry:
        async with TradeProducer(stack.bootstrap_servers, Codec(registry)) as producer:
            await producer.publish_many(story.events)
    found = read_with_confluent(stack.bootstrap_servers, stack.schema_registry_url, str(story.trade_id),
                                len(story.events))
    assert len(found) == len(story.events)
    by_id = {str(e.event_id): e for e in story.events}
    for msg, value in found:
        headers = dict(msg.headers())
        for name in ("ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject", "content-type"):
            assert name in headers, name
        event = by_id[headers["ce_id"].decode()]
        assert str(value["event_id"]) == str(event.event_id)
        assert headers["ce_type"].decode() == event.avro_name
        assert value["sender"] == event.sender
    order = next(v for m, v in found if dict(m.headers())["ce_type"].endswith("OrderPlaced"))
    assert order["lines"][0]["unit_price"]["amount"] == Decimal("285.5000")
    assert order["buyer"]["name_local"] == "天津荣达铁合金冶炼有限公司"
