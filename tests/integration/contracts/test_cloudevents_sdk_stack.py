"""The CloudEvents SDK reads a record the gateway really produced: an event sent in HTTP binary mode with
an extension attribute (``ce-erpref``) comes out of Kafka as a binary-mode record the SDK converts, with
the extension as ``ce_erpref``, and its data decodes with a stock Confluent Avro deserializer."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from corridor.core.credentials import REGISTRY_SERVICES, credentials_dir, read_secret
from corridor.core.kafka import client_security
from corridor.core.topics import TOPIC_SPECS
from tests.integration.contracts.contract_helpers import order_placed

pytestmark = pytest.mark.integration


class AvroBody(JSONFormat):
    def read_data(self, body: bytes, datacontenttype: str | None) -> Any:
        return body if datacontenttype == "application/avro" else super().read_data(body, datacontenttype)


async def test_sdk_converts_a_produced_record_with_its_extension(stack: Any, buyer: tuple[str, str]) -> None:
    partner_id, key = buyer
    event = order_placed(partner_id)
    topic = "trade.orders.v1"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap_servers, **client_security(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        spec = next(s for s in TOPIC_SPECS if s.name == topic)
        partitions = [TopicPartition(topic, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        headers = {f"ce-{k}": quote(v, safe="/:") for k, v in event.items() if k != "data"}
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(
                f"{stack.gateway_url}/v1/events",
                content=json.dumps(event["data"]),
                headers={
                    **headers,
                    "ce-erpref": "PO%2042",
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {key}",
                },
            )
        assert answer.status_code == 201, answer.text
        record = None
        async with asyncio.timeout(30):
            while record is None:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    record = next(
                        (r for r in records if dict(r.headers).get("ce_id") == event["id"].encode()), record
                    )
    finally:
        await consumer.stop()
    message = ce_kafka.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    converted = ce_kafka.from_binary(message, AvroBody())
    assert converted.get_id() == event["id"]
    assert converted.get_type() == event["type"]
    assert converted.get_source() == f"/corridor/partners/{partner_id}"
    assert converted.get_extension("erpref") == "PO 42"
    assert converted.get_extension("partitionkey") == event["data"]["trade_id"]
    # a read-role registry login (the stack's services'), as a partner passes its own
    user_info = read_secret(credentials_dir(stack.state_dir) / REGISTRY_SERVICES)
    deserialize = AvroDeserializer(
        SchemaRegistryClient({"url": stack.schema_registry_url, "basic.auth.user.info": user_info})
    )
    data = deserialize(converted.get_data(), SerializationContext(topic, MessageField.VALUE))
    assert data["order_id"] == event["data"]["order_id"]
    assert data["buyer"]["party_id"] == partner_id
