"""Reading our topics the way a partner's standard client does: confluent-kafka + AvroDeserializer."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from corridor.core.settings import Settings, registry_user_info
from corridor.core.topics import TRADE_TOPICS
from tests.support.kafka_login import confluent_login


def read_with_confluent(
    bootstrap: str, registry_url: str, trade_id: str, count: int, timeout: float = 30.0
) -> list[tuple[Any, Any]]:
    """Every record of one trade from all trade topics, decoded by confluent-kafka's AvroDeserializer."""
    # a partner's client: basic.auth.user.info with a read credential (the stack's services' one here)
    user_info = registry_user_info(Settings()) or ""
    deserializer = AvroDeserializer(
        SchemaRegistryClient({"url": registry_url, "basic.auth.user.info": user_info})
    )
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            **confluent_login(),  # the operator (ADR 24): no listener of the stack is anonymous
            "group.id": f"confluent-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
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
            value = deserializer(
                msg.value(), SerializationContext(msg.topic(), MessageField.VALUE, msg.headers())
            )
            found.append((msg, value))
    finally:
        consumer.close()
    return found
