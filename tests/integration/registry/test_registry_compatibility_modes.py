"""Each compatibility level accepts and rejects registrations as Confluent's does (real avro checker)."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

pytestmark = pytest.mark.integration


def record(*fields: dict[str, object]) -> Schema:
    return Schema(
        json.dumps(
            {"type": "record", "name": "Order", "namespace": "pk.corridor.trade", "fields": list(fields)}
        ),
        "AVRO",
    )


ID = {"name": "id", "type": "string"}
X_DEFAULT = {"name": "x", "type": "int", "default": 0}
X_REQUIRED = {"name": "x", "type": "int"}
X_STRING = {"name": "x", "type": "string"}

# (level, steps): each step is a schema and whether registering it must succeed.
CASES: list[tuple[str, list[tuple[Schema, bool]]]] = [
    # adding a field without a default: old data lacks it
    ("BACKWARD", [(record(ID), True), (record(ID, X_REQUIRED), False), (record(ID, X_DEFAULT), True)]),
    # only the latest counts: v3 needs x, v2 has it, v1 does not
    ("BACKWARD", [(record(ID), True), (record(ID, X_DEFAULT), True), (record(ID, X_REQUIRED), True)]),
    (
        "BACKWARD_TRANSITIVE",
        [(record(ID), True), (record(ID, X_DEFAULT), True), (record(ID, X_REQUIRED), False)],
    ),
    # removing a field the old schema requires: old readers cannot read new data
    ("FORWARD", [(record(ID, X_REQUIRED), True), (record(ID), False), (record(ID, X_STRING), False)]),
    ("FORWARD", [(record(ID), True), (record(ID, X_REQUIRED), True)]),
    ("FORWARD", [(record(ID, X_REQUIRED), True), (record(ID, X_DEFAULT), True), (record(ID), True)]),
    (
        "FORWARD_TRANSITIVE",
        [(record(ID, X_REQUIRED), True), (record(ID, X_DEFAULT), True), (record(ID), False)],
    ),
    ("FULL", [(record(ID), True), (record(ID, X_REQUIRED), False), (record(ID, X_DEFAULT), True)]),
    ("FULL", [(record(ID), True), (record(ID, X_DEFAULT), True), (record(ID, X_REQUIRED), True)]),
    ("FULL_TRANSITIVE", [(record(ID), True), (record(ID, X_DEFAULT), True), (record(ID, X_REQUIRED), False)]),
    ("NONE", [(record(ID, X_REQUIRED), True), (record(ID, X_STRING), True), (record(X_REQUIRED), True)]),
]


@pytest.mark.parametrize(
    ("level", "steps"), CASES, ids=[f"{level}-{i}" for i, (level, _) in enumerate(CASES)]
)
def test_level_semantics(
    sr_client: SchemaRegistryClient, unique: str, level: str, steps: list[tuple[Schema, bool]]
) -> None:
    subject = f"trade.orders.{unique}-pk.corridor.trade.Order"
    sr_client.set_compatibility(subject_name=subject, level=level)
    expected_versions = 0
    for index, (schema, accepted) in enumerate(steps):
        # what test_compatibility predicts must match what registration does
        if expected_versions:
            assert sr_client.test_compatibility_all_versions(subject, schema) is accepted, f"step {index}"
        if accepted:
            sr_client.register_schema(subject, schema)
            expected_versions += 1
        else:
            with pytest.raises(SchemaRegistryError) as exc:
                sr_client.register_schema(subject, schema)
            assert (exc.value.http_status_code, exc.value.error_code) == (409, 409), f"step {index}"
            assert level in exc.value.error_message
    assert sr_client.get_versions(subject) == list(range(1, expected_versions + 1))


def test_transitive_check_skips_deleted_versions(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = f"trade.orders.{unique}-pk.corridor.trade.Order"
    sr_client.set_compatibility(subject_name=subject, level="BACKWARD_TRANSITIVE")
    sr_client.register_schema(subject, record(ID))
    sr_client.register_schema(subject, record(ID, X_DEFAULT))
    with pytest.raises(SchemaRegistryError):
        sr_client.register_schema(subject, record(ID, X_REQUIRED))
    sr_client.delete_version(subject, 1)
    sr_client.register_schema(subject, record(ID, X_REQUIRED))
    assert sr_client.get_versions(subject) == [2, 3]


def test_test_compatibility_against_one_version(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = f"trade.orders.{unique}-pk.corridor.trade.Order"
    sr_client.set_compatibility(subject_name=subject, level="BACKWARD_TRANSITIVE")
    sr_client.register_schema(subject, record(ID))
    sr_client.register_schema(subject, record(ID, X_DEFAULT))
    candidate = record(ID, X_REQUIRED)
    assert sr_client.test_compatibility(subject, candidate, version=2) is True
    assert sr_client.test_compatibility(subject, candidate, version=1) is False
    assert sr_client.test_compatibility(subject, candidate, version="latest") is True
    assert sr_client.test_compatibility_all_versions(subject, candidate) is False


def test_subject_level_overrides_global(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = f"trade.orders.{unique}-pk.corridor.trade.Order"
    sr_client.register_schema(subject, record(ID))
    breaking = record(ID, X_STRING)  # x has no default: BACKWARD-incompatible
    try:
        sr_client.set_compatibility(level="NONE")
        sr_client.set_compatibility(subject_name=subject, level="BACKWARD")
        with pytest.raises(SchemaRegistryError):
            sr_client.register_schema(subject, breaking)
        sr_client.delete_config(subject)  # back to the global NONE
        assert sr_client.register_schema(subject, breaking) > 0
    finally:
        sr_client.set_compatibility(level="BACKWARD")


def test_first_version_and_unknown_subject_are_always_compatible(
    sr_client: SchemaRegistryClient, unique: str
) -> None:
    subject = f"trade.orders.{unique}-pk.corridor.trade.Order"
    assert sr_client.test_compatibility(subject, record(ID)) is True
    assert sr_client.test_compatibility_all_versions(subject, record(ID)) is True
