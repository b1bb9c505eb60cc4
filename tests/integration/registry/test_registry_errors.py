"""Every error case answers Confluent's HTTP status and ``error_code`` (over plain HTTP, httpx)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.registry.conftest import writer_auth

pytestmark = pytest.mark.integration

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

V1 = json.dumps(
    {
        "type": "record",
        "name": "CertificateIssued",
        "namespace": "pk.corridor.customs",
        "fields": [{"name": "certificate_id", "type": "string"}],
    }
)
V2 = json.dumps(
    {
        "type": "record",
        "name": "CertificateIssued",
        "namespace": "pk.corridor.customs",
        "fields": [
            {"name": "certificate_id", "type": "string"},
            {"name": "issuer", "type": "string", "default": "PSQCA"},
        ],
    }
)


def subject_for(unique: str) -> str:
    return f"trade.certificates.{unique}-pk.corridor.customs.CertificateIssued"


def expect(response: httpx.Response, status: int, error_code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(CONTENT_TYPE)
    body = response.json()
    assert body["error_code"] == error_code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def register(http: httpx.Client, subject: str, schema: str, **extra: Any) -> httpx.Response:
    return http.post(
        f"/subjects/{subject}/versions",
        json={"schema": schema, **extra},
        headers={"Content-Type": CONTENT_TYPE},
    )


def test_root_types_and_content_types(http: httpx.Client, unique: str) -> None:
    root = http.get("/")
    assert root.status_code == 200 and root.json() == {}
    assert root.headers["content-type"].startswith(CONTENT_TYPE)
    assert http.get("/schemas/types").json() == ["AVRO"]
    # plain application/json is accepted as well as Confluent's media type
    response = http.post(
        f"/subjects/{subject_for(unique)}/versions",
        content=json.dumps({"schema": V1}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200 and set(response.json()) == {"id"}


def test_schema_endpoints_shapes(http: httpx.Client, unique: str) -> None:
    subject = subject_for(unique)
    schema_id = register(http, subject, V1).json()["id"]
    assert http.get(f"/schemas/ids/{schema_id}").json() == {"schema": V1}
    raw = http.get(f"/schemas/ids/{schema_id}/schema")
    assert raw.status_code == 200 and raw.json() == json.loads(V1)
    assert http.get(f"/schemas/ids/{schema_id}", params={"subject": subject}).json() == {"schema": V1}
    assert subject in http.get(f"/schemas/ids/{schema_id}/subjects").json()
    assert {"subject": subject, "version": 1} in http.get(f"/schemas/ids/{schema_id}/versions").json()
    assert http.get(f"/subjects/{subject}/versions/latest").json() == {
        "subject": subject,
        "version": 1,
        "id": schema_id,
        "schema": V1,
    }
    assert http.get(f"/subjects/{subject}/versions/-1").json()["version"] == 1
    assert http.get(f"/subjects/{subject}/versions/1/schema").json() == json.loads(V1)
    assert http.get(f"/subjects/{subject}/versions/1/referencedby").json() == []
    lookup = http.post(f"/subjects/{subject}", json={"schema": V1})
    assert lookup.json() == {"subject": subject, "version": 1, "id": schema_id, "schema": V1}
    assert http.get("/mode").json() == {"mode": "READWRITE"}
    assert http.put("/mode", json={"mode": "READWRITE"}).json() == {"mode": "READWRITE"}


def test_subject_not_found_40401(http: httpx.Client, unique: str) -> None:
    missing = f"missing.{unique}-x.Y"
    expect(http.get(f"/subjects/{missing}/versions"), 404, 40401)
    expect(http.get(f"/subjects/{missing}/versions/1"), 404, 40401)
    expect(http.get(f"/subjects/{missing}/versions/latest"), 404, 40401)
    expect(http.post(f"/subjects/{missing}", json={"schema": V1}), 404, 40401)
    expect(http.delete(f"/subjects/{missing}"), 404, 40401)
    expect(http.delete(f"/subjects/{missing}/versions/1"), 404, 40401)
    expect(http.delete(f"/config/{missing}"), 404, 40401)


def test_version_not_found_40402(http: httpx.Client, unique: str) -> None:
    subject = subject_for(unique)
    register(http, subject, V1)
    expect(http.get(f"/subjects/{subject}/versions/99"), 404, 40402)
    expect(http.delete(f"/subjects/{subject}/versions/99"), 404, 40402)
    expect(http.post(f"/compatibility/subjects/{subject}/versions/99", json={"schema": V2}), 404, 40402)


def test_schema_not_found_40403(http: httpx.Client, unique: str) -> None:
    for path in (
        "/schemas/ids/987654",
        "/schemas/ids/987654/schema",
        "/schemas/ids/987654/subjects",
        "/schemas/ids/987654/versions",
    ):
        expect(http.get(path), 404, 40403)
    subject = subject_for(unique)
    register(http, subject, V1)
    # the subject exists, this schema was never registered in it
    expect(http.post(f"/subjects/{subject}", json={"schema": V2}), 404, 40403)


def test_soft_delete_codes_40404_to_40407(http: httpx.Client, unique: str) -> None:
    subject = subject_for(unique)
    register(http, subject, V1)
    register(http, subject, V2)

    expect(http.delete(f"/subjects/{subject}/versions/2", params={"permanent": "true"}), 404, 40407)
    assert http.delete(f"/subjects/{subject}/versions/2").json() == 2
    expect(http.delete(f"/subjects/{subject}/versions/2"), 404, 40406)
    # soft-deleted versions are hidden unless asked for
    expect(http.get(f"/subjects/{subject}/versions/2"), 404, 40402)
    assert http.get(f"/subjects/{subject}/versions/2", params={"deleted": "true"}).json()["version"] == 2
    assert http.get(f"/subjects/{subject}/versions", params={"deleted": "true"}).json() == [1, 2]
    assert http.get(f"/subjects/{subject}/versions", params={"deletedOnly": "true"}).json() == [2]
    assert http.delete(f"/subjects/{subject}/versions/2", params={"permanent": "true"}).json() == 2

    expect(http.delete(f"/subjects/{subject}", params={"permanent": "true"}), 404, 40405)
    assert http.delete(f"/subjects/{subject}").json() == [1]
    expect(http.delete(f"/subjects/{subject}"), 404, 40404)
    expect(http.get(f"/subjects/{subject}/versions"), 404, 40401)
    assert http.delete(f"/subjects/{subject}", params={"permanent": "true"}).json() == [1]
    expect(http.get(f"/subjects/{subject}/versions", params={"deleted": "true"}), 404, 40401)


def test_subject_compatibility_not_configured_40408(http: httpx.Client, unique: str) -> None:
    subject = subject_for(unique)
    expect(http.get(f"/config/{subject}"), 404, 40408)
    fallback = http.get(f"/config/{subject}", params={"defaultToGlobal": "true"})
    assert fallback.json() == {"compatibilityLevel": "BACKWARD"}
    assert http.put(f"/config/{subject}", json={"compatibility": "full"}).json() == {"compatibility": "FULL"}
    assert http.get(f"/config/{subject}").json() == {"compatibilityLevel": "FULL"}
    assert http.delete(f"/config/{subject}").json() == {"compatibilityLevel": "FULL"}


def test_incompatible_409(http: httpx.Client, unique: str) -> None:
    subject = subject_for(unique)
    register(http, subject, V1)
    breaking = json.dumps(
        {
            "type": "record",
            "name": "CertificateIssued",
            "namespace": "pk.corridor.customs",
            "fields": [{"name": "certificate_id", "type": "long"}],
        }
    )
    body = expect(register(http, subject, breaking), 409, 409)
    assert "certificate_id" in body["message"] and "TYPE_MISMATCH" in body["message"]
    verbose = http.post(
        f"/compatibility/subjects/{subject}/versions/latest",
        params={"verbose": "true"},
        json={"schema": breaking},
    ).json()
    assert verbose["is_compatible"] is False
    assert any("certificate_id" in message for message in verbose["messages"])
    terse = http.post(f"/compatibility/subjects/{subject}/versions", json={"schema": V2}).json()
    assert terse == {"is_compatible": True}


def test_invalid_schema_42201(http: httpx.Client, unique: str) -> None:
    subject = subject_for(unique)
    unknown_type = json.dumps(
        {"type": "record", "name": "Bad", "fields": [{"name": "x", "type": "pk.corridor.Nowhere"}]}
    )
    body = expect(register(http, subject, unknown_type), 422, 42201)
    assert "pk.corridor.Nowhere" in body["message"]  # the parser's reason is passed on
    expect(register(http, subject, "{not json"), 422, 42201)
    expect(http.post(f"/subjects/{subject}/versions", json={"schemaType": "AVRO"}), 422, 42201)
    expect(register(http, subject, V1, schemaType="PROTOBUF"), 422, 42201)
    bad_default = json.dumps(
        {"type": "record", "name": "Bad", "fields": [{"name": "n", "type": "int", "default": "seven"}]}
    )
    expect(register(http, subject, bad_default), 422, 42201)
    missing_ref = [{"name": "pk.corridor.Money", "subject": f"nothing.{unique}", "version": 1}]
    expect(register(http, subject, json.dumps("pk.corridor.Money"), references=missing_ref), 422, 42201)
    expect(http.post(f"/subjects/{subject}", json={"schema": "{not json"}), 422, 42201)
    expect(http.post(f"/compatibility/subjects/{subject}/versions", json={"schema": "[}"}), 422, 42201)
    # verbose compatibility reports an invalid schema as incompatible instead
    verbose = http.post(
        f"/compatibility/subjects/{subject}/versions", params={"verbose": "true"}, json={"schema": "[}"}
    ).json()
    assert verbose["is_compatible"] is False and verbose["messages"]


def test_invalid_version_42202(http: httpx.Client, unique: str) -> None:
    subject = subject_for(unique)
    register(http, subject, V1)
    for version in ("0", "-2", "abc", "2147483648", "1.5"):
        expect(http.get(f"/subjects/{subject}/versions/{version}"), 422, 42202)
    expect(http.delete(f"/subjects/{subject}/versions/zero"), 422, 42202)
    expect(http.post(f"/compatibility/subjects/{subject}/versions/nope", json={"schema": V2}), 422, 42202)


def test_invalid_compatibility_42203(http: httpx.Client, unique: str) -> None:
    expect(http.put("/config", json={"compatibility": "SIDEWAYS"}), 422, 42203)
    expect(http.put(f"/config/{subject_for(unique)}", json={"compatibility": None}), 422, 42203)
    expect(http.put("/config", json={}), 422, 42203)


def test_modes_42204_42205(http: httpx.Client) -> None:
    expect(http.put("/mode", json={"mode": "SOMETIMES"}), 422, 42204)
    expect(http.put("/mode", json={"mode": "IMPORT"}), 422, 42205)


def test_unknown_route_and_bad_json(http: httpx.Client, unique: str) -> None:
    expect(http.get("/no/such/route"), 404, 404)
    expect(http.get("/schemas/ids/not-a-number"), 404, 404)
    expect(
        http.post(
            f"/subjects/{subject_for(unique)}/versions",
            content=b"{oops",
            headers={"Content-Type": CONTENT_TYPE},
        ),
        400,
        400,
    )


def test_store_error_50001(
    start_registry: Callable[[str], Any], execute_sql: Callable[[str], None], unique: str
) -> None:
    server = start_registry(f"registry_broken_{unique}")
    # the database loses the table under a running registry: requests must fail as store errors
    execute_sql(f'DROP TABLE "{server.db_schema}".subject_versions CASCADE')
    with httpx.Client(base_url=server.url, auth=writer_auth()) as client:
        expect(client.get("/subjects"), 500, 50001)
