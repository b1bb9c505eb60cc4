"""Hostile input at the gateway: every bad request gets a precise 4xx problem, never a 5xx or a hang, and
a good event sent afterwards is still accepted and reaches Kafka.

* the corpus (``corpus/gateway/*.json``): hand-written nasty cases with the exact answer expected;
* a sweep of wrong JSON types at every path of an OrderPlaced;
* Hypothesis: the valid examples mutated field by field, arbitrary JSON documents, arbitrary bytes;
* Chinese and Urdu text accepted where text is allowed, byte for byte through Kafka;
* duplicate and conflicting ids, header injection, size limits (413) and the rate limit (429).
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.core.domain.events import EVENT_TYPES
from corridor.core.envelope import trace_id
from corridor.gateway.limits import RateLimiter, retry_after
from corridor.gateway.problems import Problem
from tests.hostile.conftest import (
    EXAMPLES_BY_NAME,
    PROBLEM_JSON,
    REQUEST_TIMEOUT_S,
    GatewayHandle,
    KafkaReader,
    cloudevent,
    corpus_cases,
    delete_path,
    encode_with_raw,
    format_path,
    generated_body,
    hostile_settings,
    leaf_paths,
    parse_path,
    set_path,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
JSON = "application/json"
ORDER = EXAMPLES_BY_NAME["OrderPlaced"]
#: What the gateway may answer to anything a partner sends; never a 5xx.
CLIENT_ERRORS = {400, 403, 409, 413, 415, 422}


# -- helpers -----------------------------------------------------------------------------------------------


def check_answer(response: httpx.Response, allowed: set[int] | None = None) -> dict[str, Any]:
    """Not a 5xx; a 4xx is RFC 9457 problem details whose errors name a field and a reason each."""
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:2000]}"
    if allowed is not None:
        assert status in allowed, f"{status} not in {sorted(allowed)}: {response.text[:2000]}"
    body: dict[str, Any] = response.json()
    if status >= 400:
        assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
        assert body["status"] == status
        assert body["type"].startswith("urn:corridor:problem:") and body["title"] and body["detail"]
        if status == 422:
            assert body["errors"], body
        for error in body.get("errors") or []:
            assert isinstance(error["field"], str) and error["field"], body
            assert isinstance(error["reason"], str) and error["reason"], body
    elif status == 201 and "results" not in body:
        assert set(body) == {"event_id", "topic", "partition", "offset", "status", "receipt_url"}, body
    return body


def post_event(
    http: httpx.Client,
    gateway: GatewayHandle,
    sender: str,
    body: bytes,
    content_type: str | None = STRUCTURED,
    path: str = "/v1/events",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = {**gateway.auth(sender), **(headers or {})}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    return http.post(path, content=body, headers=all_headers)


def good_order(sender: str = ORDER.sender) -> dict[str, Any]:
    data = ORDER.fresh()
    if sender != ORDER.sender:
        data["sender"] = sender
        data["buyer"]["party_id"] = sender
    return data


def assert_still_accepting(http: httpx.Client, gateway: GatewayHandle, kafka: KafkaReader) -> None:
    """A good event is accepted (201) and is in Kafka, decoded, with its own id."""
    data = good_order()
    response = post_event(http, gateway, ORDER.sender, json.dumps(cloudevent(ORDER.type, data)).encode())
    body = check_answer(response, {201})
    raw, event = kafka.record(body["topic"], body["partition"], body["offset"])
    assert str(event.event_id) == data["event_id"] and raw.key == data["trade_id"].encode()


def related(field: str, path: str) -> bool:
    """An error field that is the mutated path, one of its parents or one of its children."""
    return any(
        a == b or a.startswith(b + ".") or a.startswith(b + "[") for a, b in ((field, path), (path, field))
    )


# -- the corpus ----------------------------------------------------------------------------------------------


def build_request(case: dict[str, Any], gateway: GatewayHandle) -> tuple[str, dict[str, str], bytes]:
    """(path, headers, body) of a corpus case."""
    example = EXAMPLES_BY_NAME[case.get("base", "OrderPlaced")]
    sender = case.get("as", example.sender)
    headers = dict(gateway.auth(sender)) if sender is not None else {}
    content_type = case.get("content_type", STRUCTURED)
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers.update(case.get("headers", {}))
    path = case.get("endpoint", "/v1/events")
    if "body" in case:
        return path, headers, generated_body(case["body"])
    doc = cloudevent(example.type, example.fresh())
    raw: dict[str, str] = {}
    for where, value in case.get("set", {}).items():
        set_path(doc, parse_path(where), value)
    for where, (text, times) in case.get("set_repeat", {}).items():
        set_path(doc, parse_path(where), text * times)
    for where, text in case.get("set_raw", {}).items():
        placeholder = f"@@raw-{len(raw)}@@"
        raw[placeholder] = text
        set_path(doc, parse_path(where), placeholder)
    for where in case.get("remove", []):
        delete_path(doc, parse_path(where))
    if case.get("mode") == "binary":
        for name in ("specversion", "id", "source", "type"):
            headers[f"ce-{name}"] = str(doc[name])
        doc = doc["data"]
    if case.get("batch"):
        doc = [doc] * int(case.get("batch_copies", 1))
    return path, headers, encode_with_raw(doc, raw)


GATEWAY_CASES = corpus_cases("gateway")


@pytest.mark.parametrize("case", [c for _, c in GATEWAY_CASES], ids=[i for i, _ in GATEWAY_CASES])
def test_corpus_case(http: httpx.Client, gateway: GatewayHandle, kafka: KafkaReader, case: dict[str, Any]):
    path, headers, body = build_request(case, gateway)
    response = http.post(path, content=body, headers=headers)
    expect = case["expect"]
    allowed = set(expect["status_in"]) if "status_in" in expect else {expect["status"]}
    answer = check_answer(response, allowed)
    if "type" in expect:
        assert answer["type"] == "urn:corridor:problem:" + expect["type"], answer
    if "detail" in expect:
        assert expect["detail"].lower() in answer["detail"].lower(), answer
    got = [(e["field"], e["reason"]) for e in answer.get("errors") or []]
    for wanted in expect.get("errors", []):
        assert any(
            field == wanted["field"] and wanted.get("reason", "").lower() in reason.lower()
            for field, reason in got
        ), f"expected {wanted} in {got}"
    if expect.get("roundtrip"):
        _, event = kafka.record(answer["topic"], answer["partition"], answer["offset"])
        sent = json.loads(body)
        for where in case.get("set", {}):
            parts = parse_path(where)
            assert parts[0] == "data"
            value: Any = event
            for part in parts[1:]:
                value = value[part] if isinstance(part, int) else getattr(value, part)
            expected: Any = sent
            for part in parts:
                expected = expected[part]
            assert value == expected, (where, value, expected)


def test_the_corpus_covers_the_brief() -> None:
    """Every class of hostile input the suite promises has corpus cases."""
    names = {i.split(":", 1)[0] for i, _ in GATEWAY_CASES}
    assert {
        "bodies",
        "codes",
        "decimals",
        "envelope",
        "integers",
        "media-types",
        "text",
        "timestamps",
    } <= names


# -- wrong JSON types at every level -------------------------------------------------------------------------

WRONG_TYPES: list[Any] = [None, 0, -1, 1.5, True, "", "x", [], [1], {}, {"x": 1}]


def test_wrong_types_at_every_level_of_an_order(
    http: httpx.Client, gateway: GatewayHandle, kafka: KafkaReader
) -> None:
    """Every path of OrderPlaced (CloudEvents attributes and data), every JSON type in turn (a batch per
    path, so the errors come per item): acceptable values pass (a null optional field, free text …), the
    others are 422 naming the path — never a 5xx."""
    doc = cloudevent(ORDER.type, ORDER.fresh())
    paths = [p for p in leaf_paths(doc) if p[0] != "id"]
    accepted = refused = 0
    for parts in paths:
        where = format_path(parts)
        original: Any = doc
        for part in parts:
            original = original[part]
        values = [v for v in WRONG_TYPES if not (type(v) is type(original) and v == original)]
        items = []
        for value in values:
            item = cloudevent(ORDER.type, ORDER.fresh())
            set_path(item, parts, value)
            if parts == ["data", "event_id"] and isinstance(value, str) and value:
                item["id"] = value
            items.append(item)
        response = post_event(
            http, gateway, ORDER.sender, json.dumps(items).encode(), BATCH, "/v1/events/batch"
        )
        answer = check_answer(response, {201, 400, 403, 422})
        if response.status_code != 422:
            accepted += len(values) if response.status_code == 201 else 0
            continue
        by_index: dict[int, list[str]] = {}
        for error in answer["errors"]:
            by_index.setdefault(error["index"], []).append(error["field"])
        accepted += len(values) - len(by_index)
        refused += len(by_index)
        for index, fields in by_index.items():
            value = values[index]
            if original is not None and isinstance(original, dict | list) != isinstance(value, dict | list):
                assert any(related(f, where) for f in fields) or (
                    where == "data.event_id" and "id" in fields
                ), (where, value, fields)
    assert refused > len(paths)  # most of them are refused …
    assert accepted > 0  # … and some fit (null optional fields, free text)
    assert_still_accepting(http, gateway, kafka)


# -- Hypothesis: mutated examples, arbitrary JSON, arbitrary bytes -------------------------------------------

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u0007bell",
    "\x1b[31mred",
    "\x7f",
    "line\r\nX-Injected: yes",
    "\u202eevil",
    "天津荣达铁合金冶炼有限公司",
    "ژوب ویلی کرومائٹ",
    "😀",
    "x" * 2001,
    "0" * 300,
    "1e400",
    "-0",
    "NaN",
    "Infinity",
    "-Infinity",
    "sNaN",
    "2026-13-45T25:61:61Z",
    "2026-02-10T09:30:00",
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "2026-02-10",
    "XX123",
    "pkkhi",
    "PKKHI ",
    "2610.00",
    "26100A",
    "91120116MA05K7QX3A",
    "4271931 6",
    "FOB ",
    "fob",
    "UN02410",
    "' OR 1=1 --",
    "${jndi:ldap://127.0.0.1/a}",
    "<script>alert(1)</script>",
    "%00%0d%0a",
    "../../etc/passwd",
]
RAW_NUMBERS = [
    "1e400",
    "-1e400",
    "-0",
    "-0.0",
    "1E-400",
    "123456789012345678901234567890",
    "-9223372036854775809",
    "2147483648",
    "4294967296",
    "0.1e1",
    "NaN",
    "Infinity",
    "-Infinity",
]

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(NASTY_STRINGS)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, list[tuple[str, list[str | int], Any]]]:
    """An example and 1 to 3 operations on its CloudEvent: set a value, set a raw JSON number, delete a
    member, or add an unknown member."""
    name = draw(st.sampled_from(sorted(EXAMPLES_BY_NAME)))
    doc = cloudevent(EXAMPLES_BY_NAME[name].type, EXAMPLES_BY_NAME[name].data)
    paths = [p for p in leaf_paths(doc) if p[0] == "data" or len(p) == 1]
    ops: list[tuple[str, list[str | int], Any]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        parts = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["set", "set", "set", "raw", "delete", "add"]))
        if kind == "set":
            ops.append(("set", parts, draw(json_values)))
        elif kind == "raw":
            ops.append(("raw", parts, draw(st.sampled_from(RAW_NUMBERS))))
        elif kind == "delete":
            ops.append(("delete", parts, None))
        else:
            ops.append(
                (
                    "add",
                    parts,
                    (draw(st.sampled_from(["x", "extra", "__proto__", "data"])), draw(json_leaves)),
                )
            )
    return name, ops


def apply_ops(doc: dict[str, Any], ops: list[tuple[str, list[str | int], Any]]) -> tuple[bytes, bool]:
    """The request body; and whether it is still the JSON shape ops were drawn for (False if an earlier
    op removed or replaced what a later one addresses)."""
    raw: dict[str, str] = {}
    for kind, parts, value in ops:
        try:
            if kind == "set":
                set_path(doc, parts, value)
            elif kind == "raw":
                placeholder = f"@@raw-{len(raw)}@@"
                raw[placeholder] = value
                set_path(doc, parts, placeholder)
            elif kind == "delete":
                delete_path(doc, parts)
            else:
                target: Any = doc
                for part in parts:
                    target = target[part]
                if not isinstance(target, dict):
                    continue
                target[value[0]] = value[1]
        except (KeyError, IndexError, TypeError):
            return encode_with_raw(doc, raw), False
    return encode_with_raw(doc, raw), True


@hostile_settings(max_examples=150)
@given(case=mutations())
def test_mutated_examples_get_precise_client_errors(
    http: httpx.Client, gateway: GatewayHandle, case: tuple[str, list[tuple[str, list[str | int], Any]]]
) -> None:
    name, ops = case
    example = EXAMPLES_BY_NAME[name]
    doc = cloudevent(example.type, example.fresh())
    body, intact = apply_ops(doc, ops)
    response = post_event(http, gateway, example.sender, body)
    answer = check_answer(response, {201, *CLIENT_ERRORS})
    if not intact or len(ops) != 1 or response.status_code != 422:
        return
    kind, parts, value = ops[0]
    where = format_path(parts)
    fields = [e["field"] for e in answer["errors"]]
    if kind == "add" and parts[0] == "data":
        assert any(related(f, format_path([*parts, value[0]])) for f in fields), (where, value, fields)
    if kind == "set" and parts[0] == "data":
        original: Any = example.data
        for part in parts[1:]:
            original = original[part]
        if original is not None and isinstance(original, dict | list) != isinstance(value, dict | list):
            assert any(related(f, where) or f == "id" for f in fields), (where, value, fields)


@hostile_settings(max_examples=80)
@given(
    doc=json_values,
    where=st.sampled_from(["body", "data", "attribute", "batch"]),
    name=st.sampled_from(sorted(EXAMPLES_BY_NAME)),
    attribute=st.sampled_from(["specversion", "id", "source", "type", "time", "subject", "traceparent"]),
)
def test_arbitrary_json_is_refused_with_a_client_error(
    http: httpx.Client, gateway: GatewayHandle, doc: Any, where: str, name: str, attribute: str
) -> None:
    example = EXAMPLES_BY_NAME[name]
    if where == "body":
        body, path = json.dumps(doc).encode(), "/v1/events"
    elif where == "data":
        body, path = json.dumps(cloudevent(example.type, doc)).encode(), "/v1/events"
    elif where == "attribute":
        event = cloudevent(example.type, example.fresh())
        event[attribute] = doc
        body, path = json.dumps(event).encode(), "/v1/events"
    else:
        body, path = json.dumps([cloudevent(example.type, doc), doc]).encode(), "/v1/events/batch"
    response = post_event(http, gateway, example.sender, body, path=path)
    check_answer(response, {201, *CLIENT_ERRORS})


@hostile_settings(max_examples=60)
@given(
    body=st.binary(max_size=4096),
    content_type=st.sampled_from(
        [STRUCTURED, JSON, BATCH, "text/plain", None, "application/json; charset=utf-16"]
    ),
    path=st.sampled_from(["/v1/events", "/v1/events/batch"]),
)
def test_arbitrary_bytes_are_refused_with_a_client_error(
    http: httpx.Client, gateway: GatewayHandle, body: bytes, content_type: str | None, path: str
) -> None:
    response = post_event(http, gateway, ORDER.sender, body, content_type, path=path)
    check_answer(response, CLIENT_ERRORS)


def test_still_accepting_after_the_hypothesis_runs(
    http: httpx.Client, gateway: GatewayHandle, kafka: KafkaReader
) -> None:
    assert gateway.server.alive
    assert_still_accepting(http, gateway, kafka)


# -- Chinese and Urdu: accepted where text is allowed, byte for byte through Kafka ---------------------------

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
ARABIC_SCRIPT = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)  # Urdu letters, digits, marks
LATIN = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
EXTRA = st.sampled_from(["\u200c", "\u200f", "\u00a0", "。", "،", "۔", "😀", "\U00020000", "é", "é"])
trade_text = st.text(alphabet=CJK | ARABIC_SCRIPT | LATIN | EXTRA, min_size=1, max_size=120).filter(
    lambda s: s.strip() != ""
)


@hostile_settings(max_examples=12)
@given(name_local=trade_text, description_local=trade_text, notes=trade_text)
def test_chinese_and_urdu_text_is_accepted_and_round_trips(
    http: httpx.Client,
    gateway: GatewayHandle,
    kafka: KafkaReader,
    name_local: str,
    description_local: str,
    notes: str,
) -> None:
    data = ORDER.fresh()
    data["buyer"]["name_local"] = name_local
    data["supplier"]["name_local"] = notes[::-1].strip() or "ژوب"
    data["lines"][0]["description_local"] = description_local
    data["notes"] = notes
    response = post_event(http, gateway, ORDER.sender, json.dumps(cloudevent(ORDER.type, data)).encode())
    answer = check_answer(response, {201})
    _, event = kafka.record(answer["topic"], answer["partition"], answer["offset"])
    assert event.buyer.name_local == name_local
    assert event.supplier.name_local == data["supplier"]["name_local"]
    assert event.lines[0].description_local == description_local
    assert event.notes == notes


# -- ids: duplicates in a batch, the same id for another event, replays --------------------------------------


def test_duplicate_and_conflicting_ids(
    http: httpx.Client, gateway: GatewayHandle, kafka: KafkaReader
) -> None:
    data = good_order()
    event = cloudevent(ORDER.type, data)
    body = json.dumps(event).encode()

    # the same id twice in one batch: 422 naming the second, nothing produced
    twice = post_event(
        http, gateway, ORDER.sender, json.dumps([event, event]).encode(), JSON, "/v1/events/batch"
    )
    answer = check_answer(twice, {422})
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [(1, "id")]
    assert "twice" in answer["errors"][0]["reason"]

    first = check_answer(post_event(http, gateway, ORDER.sender, body), {201})
    assert first["event_id"] == data["event_id"]

    # the same event again, also with the id upper-cased (the same UUID): the stored answer, no new record
    for again in (body, json.dumps({**event, "id": data["event_id"].upper()}).encode()):
        replay = post_event(http, gateway, ORDER.sender, again)
        assert check_answer(replay, {201}) == first
        assert replay.headers.get("idempotent-replayed") == "true"

    # the same id with another body: 409 naming the id, single and in a batch
    changed = json.loads(body)
    changed["data"]["notes"] = "changed after the first send"
    conflict = check_answer(post_event(http, gateway, ORDER.sender, json.dumps(changed).encode()), {409})
    assert conflict["type"] == "urn:corridor:problem:idempotency-conflict"
    assert conflict["errors"][0]["field"] == "id"
    other = cloudevent(ORDER.type, good_order())
    in_batch = post_event(
        http, gateway, ORDER.sender, json.dumps([other, changed]).encode(), BATCH, "/v1/events/batch"
    )
    answer = check_answer(in_batch, {409})
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [(1, "id")]

    # Idempotency-Key reused for a different event: 409
    key = {"Idempotency-Key": f"hostile-{uuid.uuid4()}"}
    check_answer(post_event(http, gateway, ORDER.sender, json.dumps(other).encode(), headers=key), {201})
    third = cloudevent(ORDER.type, good_order())
    check_answer(post_event(http, gateway, ORDER.sender, json.dumps(third).encode(), headers=key), {409})

    # another partner may use the same id for its own event (keys are per partner) … but not publish ours
    spare = good_order("hostile-spare-buyer")
    spare["event_id"] = data["event_id"]
    check_answer(
        post_event(http, gateway, "hostile-spare-buyer", json.dumps(cloudevent(ORDER.type, spare)).encode()),
        {201},
    )
    refused = post_event(http, gateway, "hostile-spare-buyer", body)
    assert check_answer(refused, {403})["errors"]
    assert_still_accepting(http, gateway, kafka)


# -- header injection ----------------------------------------------------------------------------------------


def raw_request(url: str, request: bytes) -> bytes:
    """Send bytes as they are (no client would) and read the answer; bounded by a timeout."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT_S) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
    return b"".join(chunks)


def test_header_injection_is_refused_and_nothing_is_reflected(
    http: httpx.Client, gateway: GatewayHandle, kafka: KafkaReader
) -> None:
    data = good_order()
    # binary mode: percent-encoded CR LF in ce-* headers decode to text that must not become a header
    headers = {
        **gateway.auth(ORDER.sender),
        "Content-Type": JSON,
        "ce-specversion": "1.0",
        "ce-id": data["event_id"] + "%0D%0AX-Injected:%20yes",
        "ce-source": "/erp%0D%0ASet-Cookie:%20session=stolen",
        "ce-type": ORDER.type + "%0D%0AX-Injected:%20yes",
    }
    response = http.post("/v1/events", content=json.dumps(data).encode(), headers=headers)
    answer = check_answer(response, {422})
    assert "type" in {e["field"] for e in answer["errors"]}
    assert "x-injected" not in response.headers and "set-cookie" not in response.headers

    # a CR LF in the CloudEvents traceparent attribute: accepted, but the record carries a clean one
    event = cloudevent(ORDER.type, data, traceparent="00-abc\r\nX-Injected: yes")
    answer = check_answer(post_event(http, gateway, ORDER.sender, json.dumps(event).encode()), {201})
    raw, _ = kafka.record(answer["topic"], answer["partition"], answer["offset"])
    record_headers = dict(raw.headers)
    assert trace_id(record_headers["traceparent"].decode()) is not None
    assert record_headers["ce_source"] == f"/corridor/partners/{ORDER.sender}".encode()
    assert not any(b"\r" in v or b"\n" in v for _, v in raw.headers)

    # bare CR / LF / NUL in header fields, and a smuggling attempt: the server refuses, and lives on
    key = gateway.keys[ORDER.sender]
    post = "POST /v1/events HTTP/1.1\r\nHost: x\r\n"
    for bad in (
        post + f"X-API-Key: {key}\rX-Injected: yes\r\nContent-Length: 0\r\n\r\n",
        post + f"X-API-Key: {key}\x00\r\nContent-Length: 0\r\n\r\n",
        post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        post + "Bad Header: yes\r\n\r\n",
        "GET /v1/events%0d%0aX-Injected:%20yes HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        answer_bytes = raw_request(gateway.url, bad.encode("latin-1"))
        status_line = answer_bytes.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1.1 4"), (bad, answer_bytes[:300])
        head = answer_bytes.split(b"\r\n\r\n", 1)[0].lower()
        assert b"\r\nx-injected" not in head and b"set-cookie" not in head
    assert gateway.server.alive
    assert_still_accepting(http, gateway, kafka)


# -- size limits: 413 with problem details -------------------------------------------------------------------


def test_too_large_bodies_are_413_problems(
    http: httpx.Client, gateway: GatewayHandle, kafka: KafkaReader
) -> None:
    single = gateway.settings.gateway_max_event_bytes
    batch = gateway.settings.gateway_max_batch_bytes
    data = good_order()
    data["notes"] = "x" * single  # text is limited to 2,000 characters anyway: the size check comes first
    body = json.dumps(cloudevent(ORDER.type, data)).encode()
    assert len(body) > single
    answer = check_answer(post_event(http, gateway, ORDER.sender, body), {413})
    assert answer["type"] == "urn:corridor:problem:content-too-large" and str(single) in answer["detail"]

    def chunks(payload: bytes) -> Any:  # no Content-Length: refused while reading
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    check_answer(post_event(http, gateway, ORDER.sender, chunks(body)), {413})  # type: ignore[arg-type]
    big_batch = b"[" + b" " * batch + b"]"
    answer = check_answer(post_event(http, gateway, ORDER.sender, big_batch, JSON, "/v1/events/batch"), {413})
    assert str(batch) in answer["detail"]
    check_answer(
        post_event(http, gateway, ORDER.sender, chunks(big_batch), JSON, "/v1/events/batch"),  # type: ignore[arg-type]
        {413},
    )
    many = json.dumps([cloudevent(ORDER.type, good_order()) for _ in range(501)]).encode()
    assert len(many) < batch
    answer = check_answer(post_event(http, gateway, ORDER.sender, many, BATCH, "/v1/events/batch"), {413})
    assert "500" in answer["detail"]
    # the limit holds before authentication: no key, still 413 (nothing read beyond the limit)
    anonymous = http.post("/v1/events", content=body, headers={"Content-Type": STRUCTURED})
    check_answer(anonymous, {413})
    assert_still_accepting(http, gateway, kafka)


# -- the rate limit: 429 with Retry-After --------------------------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after(
    start_gateway: Any, gateway: GatewayHandle, kafka: KafkaReader
) -> None:
    # one token every 5 s: slow enough that the requests' own time never refills the bucket meanwhile
    limited = start_gateway(gateway_rate_per_s=0.2, gateway_rate_burst=5)
    limited.keys.update(gateway.keys)
    with httpx.Client(base_url=limited.url, timeout=REQUEST_TIMEOUT_S) as client:

        def send(events: list[dict[str, Any]], sender: str = ORDER.sender) -> httpx.Response:
            if len(events) == 1:
                return post_event(client, limited, sender, json.dumps(events[0]).encode())
            return post_event(client, limited, sender, json.dumps(events).encode(), BATCH, "/v1/events/batch")

        # a batch counts its events: 4 of the 5 tokens, then 1 event, then nothing left
        check_answer(send([cloudevent(ORDER.type, good_order()) for _ in range(4)]), {201})
        check_answer(send([cloudevent(ORDER.type, good_order())]), {201})
        refused_event = cloudevent(ORDER.type, good_order())
        refused = send([refused_event])
        answer = check_answer(refused, {429})
        assert answer["type"] == "urn:corridor:problem:rate-limited"
        assert "0.2 events/s" in answer["detail"] and "burst" in answer["detail"]
        assert int(refused.headers["retry-after"]) >= 1
        # a batch of 3 waits for 3 tokens; it is refused as a whole, before it is even validated
        batch = send([cloudevent(ORDER.type, good_order()) for _ in range(2)] + [{"junk": True}])
        assert check_answer(batch, {429}) and int(batch.headers["retry-after"]) > int(
            refused.headers["retry-after"]
        )
        # junk costs a token too, and another partner has a bucket of its own
        check_answer(send([{"specversion": "1.0"}]), {429})
        check_answer(
            send([cloudevent(ORDER.type, good_order("hostile-spare-buyer"))], "hostile-spare-buyer"), {201}
        )
        # after Retry-After, the refused event goes through (it had not been produced: not a replay)
        time.sleep(int(refused.headers["retry-after"]) + 0.2)
        accepted = send([refused_event])
        answer = check_answer(accepted, {201})
        assert "idempotent-replayed" not in accepted.headers
        _, event = kafka.record(answer["topic"], answer["partition"], answer["offset"])
        assert str(event.event_id) == refused_event["id"]


def test_the_limiter_refills_and_never_locks_out_a_batch() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 10, clock=lambda: now[0])
    limiter.take("a", 10)
    with pytest.raises(Problem) as refused:
        limiter.take("a", 1)
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "1"}
    limiter.take("b", 10)  # buckets are per partner
    now[0] = 1.0  # two tokens back
    limiter.take("a", 2)
    with pytest.raises(Problem):
        limiter.take("a", 1)
    # a request larger than the bucket is admitted when the bucket is full, not refused forever
    now[0] = 100.0
    assert limiter.wait_s("a", 50) == 0
    limiter.take("a", 50)
    assert limiter.wait_s("a", 1) == pytest.approx(0.5)
    assert retry_after(0.01) == 1 and retry_after(2.2) == 3
    # 0 switches it off
    off = RateLimiter(0, 1)
    for _ in range(1000):
        off.take("a", 500)
    with pytest.raises(ValueError):
        RateLimiter(-1, 1)


def test_the_rate_limit_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from corridor.gateway.app import create_app
    from corridor.gateway.settings import GatewaySettings

    monkeypatch.setenv("CORRIDOR_GATEWAY_RATE_PER_S", "12.5")
    monkeypatch.setenv("CORRIDOR_GATEWAY_RATE_BURST", "40")
    settings = GatewaySettings()
    assert (settings.gateway_rate_per_s, settings.gateway_rate_burst) == (12.5, 40)
    limiter = create_app(settings).state.rate_limiter
    assert (limiter.rate_per_s, limiter.burst) == (12.5, 40)


def test_every_event_type_is_known_to_the_suite() -> None:
    assert {e.type for e in EXAMPLES_BY_NAME.values()} == set(EVENT_TYPES)
