"""Endpoints current Confluent clients call besides the classic ones (docs/adr/0019): ``GET /schemas``,
``GET /contexts``, ``GET /subjects/{subject}/metadata`` and ``GET /v1/metadata/id``, through
confluent-kafka's ``SchemaRegistryClient`` where it has a call for them, else over HTTP as Confluent's
Java client and tools send them."""

from __future__ import annotations

import json

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from tests.integration.registry.conftest import REGISTRY_READER

pytestmark = pytest.mark.integration
#: The registry answers 401 without a login (ADR 0023): these reads use the read role.
READER = httpx.BasicAuth(*REGISTRY_READER.split(":", 1))


def _schema(name: str, *fields: str) -> Schema:
    record = {
        "type": "record",
        "name": name,
        "namespace": "corridor.test",
        "fields": [{"name": f, "type": "string", "default": ""} for f in ("id", *fields)],
    }
    return Schema(json.dumps(record), "AVRO")


def test_contexts_is_the_default_context(sr_client: SchemaRegistryClient) -> None:
    assert sr_client.get_contexts() == ["."]


def test_latest_with_metadata(sr_client: SchemaRegistryClient, unique: str) -> None:
    subject = f"meta-{unique}-value"
    sr_client.register_schema(subject, _schema("Meta"))
    second = sr_client.register_schema(subject, _schema("Meta", "extra"))
    latest = sr_client.get_latest_with_metadata(subject, {})
    assert (latest.schema_id, latest.version, latest.subject) == (second, 2, subject)
    # no version carries metadata here, so a filter matches none: Confluent's 40403
    with pytest.raises(SchemaRegistryError) as refused:
        sr_client.get_latest_with_metadata(subject, {"owner": "buyer-team"})
    assert (refused.value.http_status_code, refused.value.error_code) == (404, 40403)
    with pytest.raises(SchemaRegistryError) as unknown:
        sr_client.get_latest_with_metadata(f"nope-{unique}", {})
    assert unknown.value.error_code == 40401


def test_list_schemas(sr_client: SchemaRegistryClient, registry_url: str, unique: str) -> None:
    prefix = f"list-{unique}"
    ids = [
        sr_client.register_schema(f"{prefix}-a", _schema("A")),
        sr_client.register_schema(f"{prefix}-b", _schema("B")),
    ]
    ids.append(sr_client.register_schema(f"{prefix}-b", _schema("B", "more")))
    every = httpx.get(f"{registry_url}/schemas", params={"subjectPrefix": prefix}, auth=READER).json()
    assert [(s["subject"], s["version"], s["id"]) for s in every] == [
        (f"{prefix}-a", 1, ids[0]),
        (f"{prefix}-b", 1, ids[1]),
        (f"{prefix}-b", 2, ids[2]),
    ]
    assert all("schemaType" not in s and json.loads(s["schema"])["type"] == "record" for s in every)
    latest = httpx.get(
        f"{registry_url}/schemas", params={"subjectPrefix": prefix, "latestOnly": "true"}, auth=READER
    ).json()
    assert [(s["subject"], s["version"]) for s in latest] == [(f"{prefix}-a", 1), (f"{prefix}-b", 2)]
    page = httpx.get(
        f"{registry_url}/schemas", params={"subjectPrefix": prefix, "offset": 1, "limit": 1}, auth=READER
    ).json()
    assert [(s["subject"], s["version"]) for s in page] == [(f"{prefix}-b", 1)]


def test_cluster_id_and_version(registry_url: str) -> None:
    assert httpx.get(f"{registry_url}/v1/metadata/id").status_code == 401  # not without a login
    answer = httpx.get(f"{registry_url}/v1/metadata/id", auth=READER)
    assert answer.status_code == 200
    body = answer.json()
    assert body["scope"]["path"] == []
    assert body["scope"]["clusters"]["schema-registry-cluster"] == "schema-registry"
    assert "kafka-cluster" in body["scope"]["clusters"]
    version = httpx.get(f"{registry_url}/v1/metadata/version", auth=READER).json()
    assert version["version"]
