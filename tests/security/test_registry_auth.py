"""The schema registry refuses anonymous and under-privileged requests (issue 16 item 4).

A real registry (uvicorn, real PostgreSQL, a throwaway schema) with a users file of one ``write`` and
one ``read`` user; then the stack's own registry with the credentials ``stack up`` made. confluent-kafka's
``SchemaRegistryClient`` is used unmodified, with ``basic.auth.user.info``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError

from corridor.core import credentials
from tests.integration.registry.conftest import (
    REGISTRY_READER,
    REGISTRY_WRITER,
    RunningRegistry,
    _drop_schema,
)

pytestmark = pytest.mark.integration

SUBJECT = "pk.corridor.security.Probe"
SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Probe",
        "namespace": "pk.corridor.security",
        "fields": [{"name": "a", "type": "int"}],
    }
)
#: Every request that changes the registry (method, path, body).
WRITES: tuple[tuple[str, str, Any], ...] = (
    ("POST", f"/subjects/{SUBJECT}/versions", {"schema": SCHEMA}),
    ("DELETE", f"/subjects/{SUBJECT}", None),
    ("DELETE", f"/subjects/{SUBJECT}/versions/1", None),
    ("DELETE", f"/subjects/{SUBJECT}?permanent=true", None),
    ("PUT", "/config", {"compatibility": "NONE"}),
    ("PUT", f"/config/{SUBJECT}", {"compatibility": "NONE"}),
    ("DELETE", f"/config/{SUBJECT}", None),
    ("PUT", "/mode", {"mode": "READONLY"}),
    ("PUT", f"/mode/{SUBJECT}", {"mode": "READONLY"}),
    ("DELETE", f"/mode/{SUBJECT}", None),
)


def auth(user_info: str) -> httpx.BasicAuth:
    user, _, password = user_info.partition(":")
    return httpx.BasicAuth(user, password)


@pytest.fixture(scope="module")
def secured_registry(database_url: str) -> Iterator[str]:
    db_schema = "registry_sec_" + hashlib.sha1(f"{os.getpid()}".encode()).hexdigest()[:8]
    _drop_schema(database_url, db_schema)
    server = RunningRegistry(database_url, db_schema)
    server.start()
    with httpx.Client(base_url=server.url, auth=auth(REGISTRY_WRITER), timeout=10) as writer:
        assert writer.post(f"/subjects/{SUBJECT}/versions", json={"schema": SCHEMA}).status_code == 200
    try:
        yield server.url
    finally:
        server.stop()
        _drop_schema(database_url, db_schema)


def test_anonymous_requests_get_401(secured_registry: str) -> None:
    with httpx.Client(base_url=secured_registry, timeout=10) as anonymous:
        for method, path, body in (("GET", "/subjects", None), ("GET", "/schemas/ids/1", None), *WRITES):
            response = anonymous.request(method, path, json=body)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error_code"] == 401
            assert response.headers["www-authenticate"].startswith("Basic ")
        assert anonymous.get("/readyz").status_code == 200  # the stack's probe, says nothing about schemas
    wrong = httpx.BasicAuth(REGISTRY_WRITER.partition(":")[0], "not-the-password")
    assert httpx.get(f"{secured_registry}/subjects", auth=wrong, timeout=10).status_code == 401
    # the subject is still there: nothing anonymous went through
    with httpx.Client(base_url=secured_registry, auth=auth(REGISTRY_READER), timeout=10) as reader:
        assert reader.get(f"/subjects/{SUBJECT}/versions").json() == [1]


def test_the_read_role_reads_but_every_write_gets_403(secured_registry: str) -> None:
    with httpx.Client(base_url=secured_registry, auth=auth(REGISTRY_READER), timeout=10) as reader:
        assert SUBJECT in reader.get("/subjects").json()
        assert reader.post(f"/subjects/{SUBJECT}", json={"schema": SCHEMA}).json()["version"] == 1  # a lookup
        checked = reader.post(f"/compatibility/subjects/{SUBJECT}/versions/latest", json={"schema": SCHEMA})
        assert checked.json()["is_compatible"] is True
        for method, path, body in WRITES:
            response = reader.request(method, path, json=body)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error_code"] == 403
        assert reader.get(f"/subjects/{SUBJECT}/versions").json() == [1]
        assert reader.get("/mode").json() == {"mode": "READWRITE"}


def test_confluent_kafka_client_with_basic_auth_user_info(secured_registry: str) -> None:
    schema = Schema(SCHEMA.replace('"int"', '"long"'), "AVRO")  # int → long: a BACKWARD change
    with SchemaRegistryClient({"url": secured_registry, "basic.auth.user.info": REGISTRY_WRITER}) as writer:
        schema_id = writer.register_schema(SUBJECT, schema)
        assert writer.get_latest_version(SUBJECT).schema_id == schema_id
    with SchemaRegistryClient({"url": secured_registry, "basic.auth.user.info": REGISTRY_READER}) as reader:
        assert reader.get_schema(schema_id).schema_str == schema.schema_str
        with pytest.raises(SchemaRegistryError) as refused:
            reader.delete_subject(SUBJECT)
        assert refused.value.http_status_code == 403
    with SchemaRegistryClient({"url": secured_registry}) as anonymous:
        with pytest.raises(SchemaRegistryError) as refused:
            anonymous.get_subjects()
        assert refused.value.http_status_code == 401


def test_the_stacks_registry_holds_the_stacks_credentials(kafka_stack: Any) -> None:
    """``stack up`` made the credentials (0600, in a 0700 directory); services hold the read role."""
    directory = credentials.credentials_dir(kafka_stack.state_dir)
    assert directory.stat().st_mode & 0o777 == 0o700
    for name in (credentials.REGISTRY_USERS, credentials.REGISTRY_OPERATOR, credentials.REGISTRY_SERVICES):
        assert (directory / name).stat().st_mode & 0o777 == 0o600, name
    services = credentials.read_secret(directory / credentials.REGISTRY_SERVICES)
    url = kafka_stack.schema_registry_url
    assert httpx.get(f"{url}/subjects", timeout=10).status_code == 401
    with httpx.Client(base_url=url, auth=auth(services), timeout=10) as service:
        subjects = service.get("/subjects").json()
        assert subjects, "stack up registers the event schemas as the operator"
        assert service.delete(f"/subjects/{subjects[0]}").status_code == 403
        assert service.put("/mode", json={"mode": "READONLY"}).status_code == 403
