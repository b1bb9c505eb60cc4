"""Hostile input at the schema registry: every bad request is a 4xx with a Confluent ``error_code`` (never a
5xx, never a hang), oversized requests are 413, and the registry keeps serving afterwards.

The corpus (``corpus/registry/*.json``) holds invalid schemas, bad request bodies and media types, and
garbage subjects, versions and ids with the exact status and error code expected; Hypothesis sends
arbitrary JSON, text and bytes as schemas and arbitrary path segments.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.conftest import (
    REGISTRY_JSON,
    corpus_cases,
    generated_body,
    hostile_settings,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CASES = corpus_cases("registry")


def check_answer(response: httpx.Response, allowed: set[int] | None = None) -> Any:
    """Never a 5xx; an error is Confluent's ``{"error_code": int, "message": str}`` in its media type."""
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:2000]}"
    if allowed is not None:
        assert status in allowed, f"{status} not in {sorted(allowed)}: {response.text[:2000]}"
    if status >= 400:
        assert response.headers["content-type"].startswith(REGISTRY_JSON), response.headers
        body = response.json()
        assert isinstance(body["error_code"], int) and str(body["error_code"]).startswith(str(status))
        assert isinstance(body["message"], str) and body["message"]
        return body
    return response.json() if response.content else None


def subject_of(name: str) -> str:
    return f"hostile.{uuid.uuid4().hex[:8]}-corridor.hostile.{name}"


def build_request(case: dict[str, Any]) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path, headers, body) of a corpus case."""
    subject = quote(subject_of(case["name"].replace("-", "_")), safe="")
    long_subject = quote("s" + uuid.uuid4().hex * 156, safe="")  # 4,993 bytes
    path = case.get("path", "/subjects/{subject}/versions")
    path = path.replace("{subject}", subject).replace("{long_subject}", long_subject)
    headers = {}
    content_type = case.get("content_type", REGISTRY_JSON)
    if content_type is not None:
        headers["Content-Type"] = content_type
    if "body" in case:
        body = generated_body(case["body"])
    elif "request" in case:
        body = json.dumps(case["request"]).encode()
    elif "schema" in case or "schema_text" in case:
        text = case["schema_text"] if "schema_text" in case else json.dumps(case["schema"])
        body = json.dumps({"schema": text, **case.get("request_extra", {})}).encode()
    else:
        body = b""
    return case.get("method", "POST"), path, headers, body


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_corpus_case(registry_http: httpx.Client, case: dict[str, Any]) -> None:
    method, path, headers, body = build_request(case)
    response = registry_http.request(method, path, content=body or None, headers=headers)
    expect = case["expect"]
    allowed = set(expect["status_in"]) if "status_in" in expect else {expect["status"]}
    answer = check_answer(response, allowed)
    if "error_code" in expect:
        assert answer["error_code"] == expect["error_code"], answer
    if "message" in expect:
        assert expect["message"].lower() in answer["message"].lower(), answer


def test_the_corpus_covers_the_brief() -> None:
    names = {i.split(":", 1)[1] for i, _ in CASES}
    for wanted in (
        "not-json",
        "not-avro-json",
        "unknown-field-type",
        "duplicate-field-names",
        "duplicate-type-names",
        "recursive-record-is-legal-avro",
        "nested-json-10000",
        "union-default-not-the-first-type",
        "record-name-starting-with-a-digit",
        "text-plain",
        "version-2-to-the-31",
        "schema-id-negative",
        "subject-with-nul-read",
    ):
        assert wanted in names


# -- size ------------------------------------------------------------------------------------------------


def big_schema(size: int) -> str:
    fields = []
    schema = {"type": "record", "name": "Big", "namespace": "corridor.hostile", "fields": fields}
    while len(json.dumps(schema)) < size:
        fields.append({"name": f"f{len(fields)}", "type": "string", "doc": "天" * 200})
    return json.dumps(schema, ensure_ascii=False)


def test_oversized_schemas_are_413(registry_http: httpx.Client) -> None:
    """The request limit is 1 MiB by default: larger bodies are refused before they are read or parsed,
    declared (Content-Length) or streamed (chunked); a schema just under it is registered."""
    subject = quote(subject_of("Big"), safe="")
    too_big = json.dumps({"schema": big_schema(1024 * 1024 + 1)}).encode()
    response = registry_http.post(
        f"/subjects/{subject}/versions", content=too_big, headers={"Content-Type": REGISTRY_JSON}
    )
    answer = check_answer(response, {413})
    assert answer["error_code"] == 413 and "1048576" in answer["message"]

    def chunks() -> Any:
        for i in range(0, len(too_big), 65536):
            yield too_big[i : i + 65536]

    streamed = registry_http.post(
        f"/subjects/{subject}/versions", content=chunks(), headers={"Content-Type": REGISTRY_JSON}
    )
    assert check_answer(streamed, {413})["error_code"] == 413
    compat = registry_http.post(
        f"/compatibility/subjects/{subject}/versions",
        content=too_big,
        headers={"Content-Type": REGISTRY_JSON},
    )
    check_answer(compat, {413})
    fits = json.dumps({"schema": big_schema(600 * 1024)}, ensure_ascii=False).encode()
    assert len(fits) < 1024 * 1024
    registered = registry_http.post(
        f"/subjects/{subject}/versions", content=fits, headers={"Content-Type": REGISTRY_JSON}
    )
    schema_id = check_answer(registered, {200})["id"]
    assert check_answer(registry_http.get(f"/schemas/ids/{schema_id}"), {200})["schema"]


def test_the_request_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from corridor.registry.app import create_app
    from corridor.registry.settings import RegistrySettings

    monkeypatch.setenv("CORRIDOR_REGISTRY_MAX_REQUEST_BYTES", "65536")
    settings = RegistrySettings()
    assert settings.registry_max_request_bytes == 65536
    from tests.integration.registry.conftest import registry_users_file

    app = create_app(
        "postgresql://unused",
        users_file=registry_users_file(),
        max_request_bytes=settings.registry_max_request_bytes,
    )
    assert app.state.max_request_bytes == 65536


# -- Hypothesis ------------------------------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["record", "enum", "fixed", "array", "map", "int", "string", "null", "name", "fields"])
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "name", "fields", "items", "values", "symbols", "size", "default"])
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@hostile_settings(max_examples=120)
@given(schema=json_values, endpoint=st.sampled_from(["register", "lookup", "compatibility"]))
def test_arbitrary_json_schemas_get_confluent_errors(
    registry_http: httpx.Client, schema: Any, endpoint: str
) -> None:
    subject = quote(subject_of("Fuzz"), safe="")
    path = {
        "register": f"/subjects/{subject}/versions",
        "lookup": f"/subjects/{subject}",
        "compatibility": f"/compatibility/subjects/{subject}/versions",
    }[endpoint]
    response = registry_http.post(
        path, content=json.dumps({"schema": json.dumps(schema)}), headers={"Content-Type": REGISTRY_JSON}
    )
    answer = check_answer(response, {200, 404, 409, 422})
    if response.status_code == 422:
        assert answer["error_code"] in (42201, 42205)


@hostile_settings(max_examples=60)
@given(text=st.text(max_size=300), body=st.binary(max_size=2048))
def test_arbitrary_text_and_bytes_get_confluent_errors(
    registry_http: httpx.Client, text: str, body: bytes
) -> None:
    subject = quote(subject_of("Text"), safe="")
    as_schema = registry_http.post(
        f"/subjects/{subject}/versions",
        content=json.dumps({"schema": text}),
        headers={"Content-Type": REGISTRY_JSON},
    )
    check_answer(as_schema, {200, 400, 422})
    as_body = registry_http.post(
        f"/subjects/{subject}/versions", content=body, headers={"Content-Type": REGISTRY_JSON}
    )
    check_answer(as_body, {200, 400, 422})


path_segments = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=60
) | st.sampled_from(["-1", "0", "latest", "2147483648", "99999999999999999999", "1e3", "%00", "..", "\x00"])


@hostile_settings(max_examples=40)
@given(subject=path_segments, version=path_segments, schema_id=path_segments)
def test_arbitrary_subjects_versions_and_ids_get_confluent_errors(
    registry_http: httpx.Client, subject: str, version: str, schema_id: str
) -> None:
    s, v, i = (quote(x, safe="") for x in (subject, version, schema_id))
    for method, path in (
        ("GET", f"/subjects/{s}/versions"),
        ("GET", f"/subjects/{s}/versions/{v}"),
        ("GET", f"/schemas/ids/{i}"),
        ("GET", f"/config/{s}"),
        ("DELETE", f"/subjects/{s}/versions/{v}"),
        ("GET", f"/subjects?subjectPrefix={s}&offset={v}&limit={i}"),
    ):
        check_answer(registry_http.request(method, path), {200, 400, 404, 405, 422})


def test_still_serving_after_the_hostile_requests(registry_http: httpx.Client) -> None:
    subject = quote(subject_of("Good"), safe="")
    schema = {
        "type": "record",
        "name": "Good",
        "namespace": "corridor.hostile",
        "fields": [{"name": "note", "type": ["null", "string"], "default": None}],
    }
    registered = registry_http.post(
        f"/subjects/{subject}/versions",
        content=json.dumps({"schema": json.dumps(schema)}),
        headers={"Content-Type": REGISTRY_JSON},
    )
    schema_id = check_answer(registered, {200})["id"]
    fetched = check_answer(registry_http.get(f"/schemas/ids/{schema_id}"), {200})
    assert json.loads(fetched["schema"]) == schema
    assert check_answer(registry_http.get(f"/subjects/{subject}/versions"), {200}) == [1]
