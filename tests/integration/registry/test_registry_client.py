"""confluent-kafka's ``SchemaRegistryClient``, unmodified, against our registry: as with Confluent."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

pytestmark = pytest.mark.integration


def order_schema(*extra_fields: dict[str, object], doc: str = "A trade order") -> str:
    """The Order record as a producer would register it; ``extra_fields`` evolve it."""
    return json.dumps(
        {
            "type": "record",
            "name": "OrderPlaced",
            "namespace": "pk.corridor.trade",
            "doc": doc,
            "fields": [
                {"name": "order_id", "type": "string"},
                {"name": "buyer", "type": "string"},
                *extra_fields,
            ],
        }
    )


def subject_for(unique: str) -> str:
    # TopicRecordNameStrategy: <topic>-<record full name>, so dots and a dash
    return f"trade.orders.{unique}-pk.corridor.trade.OrderPlaced"


def test_register_get_lookup_and_versions(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = subject_for(unique)
    v1 = Schema(order_schema(), "AVRO")
    schema_id = sr_client.register_schema(subject, v1)
    assert isinstance(schema_id, int) and schema_id > 0

    fetched = sr_client.get_schema(schema_id)
    assert fetched.schema_type == "AVRO"
    assert fetched.schema_str == v1.schema_str  # the text as registered comes back

    registered = sr_client.lookup_schema(subject, v1)
    assert (registered.subject, registered.version, registered.schema_id) == (subject, 1, schema_id)

    v2 = Schema(order_schema({"name": "currency", "type": "string", "default": "PKR"}), "AVRO")
    v2_id = sr_client.register_schema(subject, v2)
    assert v2_id != schema_id

    latest = sr_client.get_latest_version(subject)
    assert (latest.version, latest.schema_id, latest.subject) == (2, v2_id, subject)
    assert json.loads(latest.schema.schema_str) == json.loads(v2.schema_str)

    first = sr_client.get_version(subject, 1)
    assert (first.version, first.schema_id) == (1, schema_id)
    assert sr_client.get_versions(subject) == [1, 2]
    assert subject in sr_client.get_subjects()
    assert sr_client.get_subjects(subject_prefix=f"trade.orders.{unique}") == [subject]


def test_same_schema_same_id_and_no_new_version(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = subject_for(unique)
    text = order_schema(doc=f"doc {unique}")
    first = sr_client.register_schema(subject, Schema(text, "AVRO"))
    # Whitespace and key order do not make a new schema; a fresh client skips its cache.
    reformatted = json.dumps(json.loads(text), indent=4, sort_keys=True)
    fresh = SchemaRegistryClient(sr_client.config())
    try:
        assert fresh.register_schema(subject, Schema(reformatted, "AVRO")) == first
        assert fresh.get_versions(subject) == [1]
        # The same schema under another subject keeps its global id but gets that subject's version 1.
        other = f"trade.shipments.{unique}-pk.corridor.trade.OrderPlaced"
        assert fresh.register_schema(other, Schema(text, "AVRO")) == first
        assert fresh.lookup_schema(other, Schema(text, "AVRO")).version == 1
        assert sorted(fresh.get_subjects_by_schema_id(first)) == sorted([subject, other])
        versions = fresh.get_schema_versions(first)
        assert {(v.subject, v.version) for v in versions} == {(subject, 1), (other, 1)}
    finally:
        fresh.close()


def test_delete_subject_soft_then_permanent(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = subject_for(unique)
    schema_id = sr_client.register_schema(subject, Schema(order_schema(doc=unique), "AVRO"))
    sr_client.register_schema(
        subject, Schema(order_schema({"name": "note", "type": "string", "default": ""}, doc=unique), "AVRO")
    )

    assert sr_client.delete_subject(subject) == [1, 2]
    assert subject not in sr_client.get_subjects()
    assert subject in sr_client.get_subjects(deleted=True)
    assert sr_client.get_versions(subject, deleted=True) == [1, 2]
    # a soft-deleted version is still readable with deleted=true, and its id still resolves
    assert sr_client.get_version(subject, 1, deleted=True).schema_id == schema_id
    fresh = SchemaRegistryClient(sr_client.config())
    try:
        assert fresh.get_schema(schema_id).schema_str is not None
    finally:
        fresh.close()

    with pytest.raises(SchemaRegistryError) as soft_again:
        sr_client.delete_subject(subject)
    assert (soft_again.value.http_status_code, soft_again.value.error_code) == (404, 40404)

    assert sr_client.delete_subject(subject, permanent=True) == [1, 2]
    assert subject not in sr_client.get_subjects(deleted=True)
    with pytest.raises(SchemaRegistryError) as gone:
        sr_client.get_versions(subject, deleted=True)
    assert gone.value.error_code == 40401

    # Registering the same schema again: same global id, numbering starts over.
    again = SchemaRegistryClient(sr_client.config())
    try:
        assert again.register_schema(subject, Schema(order_schema(doc=unique), "AVRO")) == schema_id
        assert again.get_versions(subject) == [1]
    finally:
        again.close()


def test_permanent_delete_needs_soft_delete_first(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = subject_for(unique)
    sr_client.register_schema(subject, Schema(order_schema(doc=unique), "AVRO"))
    with pytest.raises(SchemaRegistryError) as exc:
        sr_client.delete_subject(subject, permanent=True)
    assert (exc.value.http_status_code, exc.value.error_code) == (404, 40405)


def test_delete_version(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = subject_for(unique)
    sr_client.register_schema(subject, Schema(order_schema(doc=unique), "AVRO"))
    sr_client.register_schema(
        subject, Schema(order_schema({"name": "note", "type": "string", "default": ""}, doc=unique), "AVRO")
    )
    assert sr_client.delete_version(subject, 2) == 2
    assert sr_client.get_versions(subject) == [1]
    assert sr_client.get_latest_version(subject).version == 1
    assert sr_client.delete_version(subject, 2, permanent=True) == 2
    assert sr_client.get_versions(subject, deleted=True) == [1]


@pytest.mark.parametrize(
    "level",
    ["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"],
)
def test_subject_compatibility_every_mode(sr_client: SchemaRegistryClient, unique: str, level: str) -> None:
    subject = subject_for(unique)
    assert sr_client.set_compatibility(subject_name=subject, level=level) == {"compatibility": level}
    assert sr_client.get_compatibility(subject) == level
    assert sr_client.get_config(subject).compatibility_level.value == level


def test_global_compatibility_every_mode(sr_client: SchemaRegistryClient) -> None:
    assert sr_client.get_compatibility() == "BACKWARD"  # Confluent's default
    try:
        for level in [
            "NONE",
            "BACKWARD_TRANSITIVE",
            "FORWARD",
            "FORWARD_TRANSITIVE",
            "FULL",
            "FULL_TRANSITIVE",
        ]:
            sr_client.set_compatibility(level=level)
            assert sr_client.get_compatibility() == level
        # deleting the global config resets it to the default and answers the level it had
        assert sr_client.delete_config().compatibility_level.value == "FULL_TRANSITIVE"
        assert sr_client.get_compatibility() == "BACKWARD"
    finally:
        sr_client.set_compatibility(level="BACKWARD")
    assert sr_client.get_compatibility() == "BACKWARD"


def test_subject_without_own_level_falls_back_only_on_request(
    sr_client: SchemaRegistryClient, unique: str
) -> None:
    subject = subject_for(unique)
    with pytest.raises(SchemaRegistryError) as exc:
        sr_client.get_compatibility(subject)
    assert exc.value.error_code == 40408
    sr_client.set_compatibility(subject_name=subject, level="FULL")
    assert sr_client.delete_config(subject).compatibility_level.value == "FULL"
    with pytest.raises(SchemaRegistryError):
        sr_client.get_compatibility(subject)


def test_incompatible_registration_is_409_with_reason(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = subject_for(unique)
    sr_client.register_schema(subject, Schema(order_schema(doc=unique), "AVRO"))
    # BACKWARD (the default): a new field without a default cannot be read from old data
    breaking = Schema(order_schema({"name": "amount", "type": "double"}, doc=unique), "AVRO")

    assert sr_client.test_compatibility(subject, breaking) is False
    assert sr_client.test_compatibility_all_versions(subject, breaking) is False
    with pytest.raises(SchemaRegistryError) as exc:
        sr_client.register_schema(subject, breaking)
    assert exc.value.http_status_code == 409
    assert exc.value.error_code == 409
    assert "amount" in exc.value.error_message
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in exc.value.error_message
    assert sr_client.get_versions(subject) == [1]

    fine = Schema(order_schema({"name": "amount", "type": "double", "default": 0.0}, doc=unique), "AVRO")
    assert sr_client.test_compatibility(subject, fine) is True
    assert sr_client.test_compatibility(subject, fine, version=1) is True
    assert sr_client.register_schema(subject, fine) > 0
    assert sr_client.get_versions(subject) == [1, 2]


def test_schema_types_and_mode(sr_client: SchemaRegistryClient) -> None:
    assert sr_client.get_schema_types() == ["AVRO"]
    assert sr_client.get_global_mode() == "READWRITE"
    assert sr_client.update_global_mode("READWRITE") == "READWRITE"
    assert sr_client.get_mode("any.subject-x.Y") == "READWRITE"
    assert sr_client.update_mode("any.subject-x.Y", "READWRITE") == "READWRITE"
    assert sr_client.delete_mode("any.subject-x.Y") == "READWRITE"
    with pytest.raises(SchemaRegistryError) as exc:
        sr_client.update_global_mode("IMPORT")  # choosing ids is not supported
    assert exc.value.error_code == 42205


def test_readonly_mode_refuses_registrations_and_deletions(
    sr_client: SchemaRegistryClient, unique: str
) -> None:
    subject = f"pk.corridor.orders.Frozen.{unique}"
    v1 = Schema(order_schema(doc=unique), "AVRO")
    assert sr_client.register_schema(subject, v1) > 0
    assert sr_client.update_mode(subject, "READONLY") == "READONLY"
    assert sr_client.get_mode(subject) == "READONLY"
    for refused in (
        lambda: sr_client.register_schema(subject, Schema(order_schema(doc=unique + "2"), "AVRO")),
        lambda: sr_client.delete_subject(subject),
        lambda: sr_client.delete_version(subject, 1),
    ):
        with pytest.raises(SchemaRegistryError) as exc:
            refused()
        assert exc.value.error_code == 42205
    assert sr_client.get_latest_version(subject).version == 1  # reading still works
    assert sr_client.delete_mode(subject) == "READONLY"
    assert sr_client.get_mode(subject) == "READWRITE"
    try:  # the whole registry frozen; a subject's own READWRITE does not escape READONLY_OVERRIDE
        assert sr_client.update_global_mode("READONLY_OVERRIDE") == "READONLY_OVERRIDE"
        sr_client.update_mode(subject, "READWRITE")
        with pytest.raises(SchemaRegistryError) as exc:
            sr_client.delete_subject(subject)
        assert exc.value.error_code == 42205
    finally:
        sr_client.update_global_mode("READWRITE")
        sr_client.delete_mode(subject)
    assert sr_client.delete_subject(subject) == [1]


def test_references(sr_client: SchemaRegistryClient, unique: str) -> None:
    money_subject = f"pk.corridor.common.Money.{unique}"
    money = json.dumps(
        {
            "type": "record",
            "name": "Money",
            "namespace": "pk.corridor.common",
            "fields": [
                {
                    "name": "amount",
                    "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2},
                },
                {"name": "currency", "type": "string"},
            ],
        }
    )
    sr_client.register_schema(money_subject, Schema(money, "AVRO"))
    invoice = json.dumps(
        {
            "type": "record",
            "name": "Invoice",
            "namespace": "pk.corridor.trade",
            "fields": [{"name": "total", "type": "pk.corridor.common.Money"}],
        }
    )
    refs = [SchemaReference("pk.corridor.common.Money", money_subject, 1)]
    subject = f"trade.invoices.{unique}-pk.corridor.trade.Invoice"
    invoice_id = sr_client.register_schema(subject, Schema(invoice, "AVRO", refs))

    fetched = sr_client.get_version(subject, 1)
    assert [(r.name, r.subject, r.version) for r in fetched.schema.references] == [
        ("pk.corridor.common.Money", money_subject, 1)
    ]
    assert sr_client.get_referenced_by(money_subject, 1) == [invoice_id]

    # A referenced version cannot be deleted while something uses it.
    with pytest.raises(SchemaRegistryError) as exc:
        sr_client.delete_version(money_subject, 1)
    assert exc.value.error_code == 42206
