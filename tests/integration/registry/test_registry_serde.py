"""confluent-kafka's ``AvroSerializer`` / ``AvroDeserializer`` round-trip through our registry, unmodified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from confluent_kafka.schema_registry import (
    Schema,
    SchemaReference,
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.integration.registry.conftest import REGISTRY_WRITER

pytestmark = pytest.mark.integration

SHIPMENT = json.dumps(
    {
        "type": "record",
        "name": "ShipmentDispatched",
        "namespace": "pk.corridor.trade",
        "fields": [
            {"name": "shipment_id", "type": "string"},
            {
                "name": "declared_value",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 14, "scale": 2},
            },
            {"name": "dispatched_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "route", "type": "string"},
        ],
    }
)

RECORD = {
    "shipment_id": "SHP-2026-000042",
    "declared_value": Decimal("1234567.89"),
    "dispatched_at": datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC),
    # Urdu and Chinese: Karachi to Kashgar via the Khunjerab Pass
    "route": "کراچی سے کاشغر براستہ خنجراب — 卡拉奇至喀什，经红其拉甫山口",
}


@pytest.fixture
def fresh_client(registry_url: str) -> Iterator[SchemaRegistryClient]:
    """A client with an empty cache, as a consumer in another process would have."""
    client = SchemaRegistryClient({"url": registry_url, "basic.auth.user.info": REGISTRY_WRITER})
    yield client
    client.close()


def test_round_trip_with_decimal_timestamp_and_unicode(
    sr_client: SchemaRegistryClient, fresh_client: SchemaRegistryClient, unique: str
) -> None:
    topic = f"trade.shipments.{unique}"
    serializer = AvroSerializer(
        sr_client,
        SHIPMENT,
        conf={"auto.register.schemas": True, "subject.name.strategy": topic_record_subject_name_strategy},
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    payload = serializer(RECORD, ctx)
    assert payload is not None

    subject = f"{topic}-pk.corridor.trade.ShipmentDispatched"
    registered = fresh_client.get_latest_version(subject)
    assert registered.version == 1
    # Confluent wire format: magic byte 0, then the schema id as 4 bytes big-endian
    assert payload[0] == 0
    assert int.from_bytes(payload[1:5], "big") == registered.schema_id

    deserializer = AvroDeserializer(fresh_client)
    assert deserializer(payload, ctx) == RECORD

    # A second serializer (another producer) gets the same id without a new version.
    with SchemaRegistryClient(sr_client.config()) as other_client:
        again = AvroSerializer(
            other_client,
            SHIPMENT,
            conf={"auto.register.schemas": True, "subject.name.strategy": topic_record_subject_name_strategy},
        )
        assert again(RECORD, ctx)[:5] == payload[:5]
    assert fresh_client.get_versions(subject) == [1]


def test_round_trip_with_schema_references(
    sr_client: SchemaRegistryClient, fresh_client: SchemaRegistryClient, unique: str
) -> None:
    money_subject = f"pk.corridor.common.Money-{unique}"
    money = {
        "type": "record",
        "name": "Money",
        "namespace": "pk.corridor.common",
        "fields": [
            {
                "name": "amount",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 4},
            },
            {"name": "currency", "type": "string"},
        ],
    }
    sr_client.register_schema(money_subject, Schema(json.dumps(money), "AVRO"))
    invoice = json.dumps(
        {
            "type": "record",
            "name": "InvoiceIssued",
            "namespace": "pk.corridor.trade",
            "fields": [
                {"name": "invoice_id", "type": "string"},
                {"name": "total", "type": "pk.corridor.common.Money"},
            ],
        }
    )
    schema = Schema(invoice, "AVRO", [SchemaReference("pk.corridor.common.Money", money_subject, 1)])
    topic = f"trade.invoices.{unique}"
    serializer = AvroSerializer(
        sr_client,
        schema,
        conf={"auto.register.schemas": True, "subject.name.strategy": topic_record_subject_name_strategy},
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    record = {"invoice_id": "INV-7", "total": {"amount": Decimal("99.5000"), "currency": "CNY"}}
    payload = serializer(record, ctx)

    assert AvroDeserializer(fresh_client)(payload, ctx) == record
    registered = fresh_client.get_latest_version(f"{topic}-pk.corridor.trade.InvoiceIssued")
    assert int.from_bytes(payload[1:5], "big") == registered.schema_id
    assert registered.schema.references[0].subject == money_subject
