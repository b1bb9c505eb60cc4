"""A standard client (confluent-kafka, AvroDeserializer, SchemaRegistryClient) decodes our records."""

from __future__ import annotations

from decimal import Decimal

import pytest

from corridor.core.codec import Codec
from corridor.core.envelope import REQUIRED_HEADERS
from corridor.core.kafka import TradeProducer
from corridor.core.registry_client import RegistryClient
from corridor.demo.story import chromite_story
from tests.support.confluent import read_with_confluent

pytestmark = pytest.mark.integration


async def test_confluent_avro_deserializer_decodes_every_record(stack) -> None:
    story = chromite_story()
    async with RegistryClient(stack.schema_registry_url) as registry:
        async with TradeProducer(stack.bootstrap_servers, Codec(registry)) as producer:
            await producer.publish_many(story.events)
    found = read_with_confluent(
        stack.bootstrap_servers, stack.schema_registry_url, str(story.trade_id), len(story.events)
    )
    assert len(found) == len(story.events)
    by_id = {str(e.event_id): e for e in story.events}
    for msg, value in found:
        headers = dict(msg.headers())
        for name in REQUIRED_HEADERS:
            assert name in headers, name
        event = by_id[headers["ce_id"].decode()]
        assert str(value["event_id"]) == str(event.event_id)
        assert headers["ce_type"].decode() == event.avro_name
        assert value["sender"] == event.sender
    order = next(v for m, v in found if dict(m.headers())["ce_type"].endswith(b"OrderPlaced"))
    assert order["lines"][0]["unit_price"]["amount"] == Decimal("285.5000")
    assert order["buyer"]["name_local"] == "天津荣达铁合金冶炼有限公司"
