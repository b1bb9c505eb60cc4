"""Every service's OpenAPI document is valid (openapi-spec-validator) and complete enough to generate a
client from: the partner API key on every protected route with its 401/403 (the registry's HTTP basic
login and the monitor's operator token on theirs, ADR 0023), a schema for every JSON
answer, /metrics as text, one named request schema per content type on the gateway, binary mode's ce-*
headers, and the webhook callback as OpenAPI 3.1 ``webhooks`` with its signature header."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate

from corridor.core.domain.events import EVENT_TYPES


def _apps() -> Iterator[tuple[str, FastAPI]]:
    from corridor.core import credentials
    from corridor.gateway.app import create_app as gateway
    from corridor.ledger.app import create_app as ledger
    from corridor.ledger.settings import LedgerSettings
    from corridor.monitor.app import create_app as monitor
    from corridor.monitor.settings import MonitorSettings
    from corridor.registry.app import create_app as registry
    from corridor.relay.app import create_app as relay
    from corridor.relay.settings import RelaySettings
    from corridor.webhooks.app import create_app as webhooks
    from corridor.webhooks.settings import WebhooksSettings

    yield "gateway", gateway()
    yield "ledger", ledger(LedgerSettings(), run_consumer=False)
    yield "monitor", monitor(MonitorSettings(monitor_token="t" * 32))
    with tempfile.TemporaryDirectory() as tmp:
        users = Path(tmp) / credentials.REGISTRY_USERS
        credentials.set_user(users, "reader", "pw-reader-0123", credentials.READ)
        yield "registry", registry("postgresql://unused@127.0.0.1:1/unused", users_file=users)
    yield "relay", relay(RelaySettings())
    from corridor.webhooks.secrets_box import new_key

    yield "webhooks", webhooks(WebhooksSettings(webhooks_secrets_key=new_key()), run_dispatcher=False)


DOCS = {name: app.openapi() for name, app in _apps()}
#: The services partners call with their API key, and the path prefix it protects.
PROTECTED = {"gateway": "/v1/", "ledger": "/v1/", "webhooks": "/v1/"}
#: Services with a login of their own (ADR 0023): its schemes, and the paths left open.
LOGINS = {
    "registry": ({"basicAuth": "basic"}, set()),
    "monitor": ({"bearer": "bearer", "basicAuth": "basic"}, {"/healthz", "/readyz"}),
}


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


@pytest.mark.parametrize("service", sorted(DOCS))
def test_document_is_valid_openapi(service: str) -> None:
    doc = DOCS[service]
    assert doc["openapi"].startswith("3.1")
    validate(doc)


@pytest.mark.parametrize("service", sorted(DOCS))
def test_protected_routes_declare_the_api_key_and_401_403(service: str) -> None:
    doc = DOCS[service]
    prefix = PROTECTED.get(service)
    if service in LOGINS:
        expected, open_paths = LOGINS[service]
        schemes = doc["components"]["securitySchemes"]
        assert {name: scheme["scheme"] for name, scheme in schemes.items()} == expected
        for path, method, op in _operations(doc):
            if path in open_paths:
                assert not op.get("security"), f"{method} {path} is open"
                continue
            assert op["security"] == [{name: []} for name in expected], f"{method} {path}"
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"
        return
    if prefix is None:
        assert not any(op.get("security") for _, _, op in _operations(doc)), "no key on this service"
        return
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"
    protected = [(p, m, op) for p, m, op in _operations(doc) if p.startswith(prefix)]
    assert protected
    for path, method, op in protected:
        assert op["security"] == [{"bearer": []}, {"apiKey": []}], f"{method} {path}"
        for status in ("401", "403"):
            content = op["responses"][status]["content"]
            assert "application/problem+json" in content, f"{method} {path} {status}"


def _typed(schema: dict[str, Any]) -> bool:
    return bool(schema) and any(k in schema for k in ("$ref", "type", "oneOf", "anyOf", "allOf"))


@pytest.mark.parametrize("service", sorted(DOCS))
def test_every_json_answer_has_a_schema(service: str) -> None:
    missing = []
    for path, method, op in _operations(DOCS[service]):
        for status, answer in op["responses"].items():
            for media, body in (answer.get("content") or {}).items():
                if "json" in media and not _typed(body.get("schema") or {}):
                    missing.append(f"{method.upper()} {path} {status} {media}")
                if "json" in media and (body.get("schema") or {}).get("additionalProperties") is True:
                    if not (body["schema"].get("properties")):
                        missing.append(f"{method.upper()} {path} {status} {media}: an untyped dict")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("service", sorted(DOCS))
def test_metrics_is_prometheus_text(service: str) -> None:
    answer = DOCS[service]["paths"]["/metrics"]["get"]["responses"]["200"]
    [media] = answer["content"]
    assert media.startswith("text/plain")


def test_gateway_has_one_named_request_schema_per_content_type() -> None:
    doc = DOCS["gateway"]
    for path in ("/v1/events", "/v1/events/batch"):
        content = doc["paths"][path]["post"]["requestBody"]["content"]
        refs = [body["schema"]["$ref"] for body in content.values()]
        assert len(content) == 2 and len(set(refs)) == 2, f"{path}: {refs}"
        for ref in refs:
            assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]


def test_gateway_documents_binary_mode_headers() -> None:
    op = DOCS["gateway"]["paths"]["/v1/events"]["post"]
    headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
    assert {"ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-subject"} <= headers
    json_schema = DOCS["gateway"]["components"]["schemas"]["CloudEventJson"]
    assert len(json_schema["oneOf"]) == 2  # structured, or binary mode's data


def test_webhook_callback_is_an_openapi_webhook_with_its_signature_header() -> None:
    from corridor.webhooks import delivery, signing

    doc = DOCS["webhooks"]
    callback = doc["webhooks"]["tradeEvent"]["post"]
    headers = {p["name"]: p for p in callback["parameters"] if p["in"] == "header"}
    assert headers[signing.HEADER]["required"]
    assert {delivery.DELIVERY_HEADER, delivery.ATTEMPT_HEADER} <= set(headers)
    [media] = callback["requestBody"]["content"]
    assert media == delivery.CONTENT_TYPE.split(";")[0]
    event = doc["components"]["schemas"]["CallbackEvent"]
    assert set(event["properties"]["type"]["enum"]) == set(EVENT_TYPES)
    assert len(event["properties"]["data"]["oneOf"]) == len(EVENT_TYPES)  # one data schema per event type


def test_signature_pattern_matches_what_the_dispatcher_sends() -> None:
    import re

    from corridor.webhooks import signing

    callback = DOCS["webhooks"]["webhooks"]["tradeEvent"]["post"]
    [header] = [p for p in callback["parameters"] if p["name"] == signing.HEADER]
    assert re.fullmatch(header["schema"]["pattern"], signing.sign("s" * 32, b"{}"))
