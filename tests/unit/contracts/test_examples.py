"""contracts/examples/: every valid example is an event the backbone accepts, framed as it would be on
the wire; every invalid example is refused with exactly the field errors it states."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker

from corridor.core.codec import Codec
from corridor.core.contracts import EXAMPLES_DIR, Example, deref, load_asyncapi, load_examples
from corridor.core.domain.roles import PUBLISHER_ROLES
from corridor.core.domain.validation import FieldError, InvalidEvent, parse_event
from corridor.core.envelope import CloudEvent, source_for
from corridor.core.schemas import catalog

VALID = load_examples("valid")
INVALID = load_examples("invalid")
DOC = load_asyncapi()
HEADERS_SCHEMA = DOC["components"]["messageTraits"]["cloudEventsBinary"]["headers"]
KEY_SCHEMA = DOC["components"]["messageBindings"]["tradeEvent"]["kafka"]["key"]

#: The cases the contract promises partners, by file name (more may exist).
REQUIRED_INVALID_CASES = {
    "sea-only-incoterm-on-road-shipment",
    "uscc-wrong-check-character",
    "ntn-format",
    "unlocode-bad-format",
    "hs-code-with-dots",
    "unit-not-rec20",
    "currency-not-iso4217",
    "currency-not-accepted",
    "negative-amount",
    "too-many-decimal-places",
    "naive-timestamp",
    "unknown-incoterm",
    "missing-required-field",
    "unknown-extra-field",
    "explosives-without-licences",
    "rejection-without-reason",
    "preference-denied-without-reason",
}
_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


@pytest.fixture(autouse=True)
def _default_reference_data(monkeypatch: pytest.MonkeyPatch) -> None:
    # the expected errors are those of a deployment without extra currencies or private codes
    monkeypatch.delenv("CORRIDOR_TRADE_CURRENCIES", raising=False)
    monkeypatch.delenv("CORRIDOR_PRIVATE_LOCODES", raising=False)


class InMemoryRegistry:
    """Fake of RegistryClient: global, stable ids, as in the real registry."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.ids: dict[str, int] = {}
        self.subjects: dict[str, set[int]] = {}

    async def register(self, subject: str, schema_str: str) -> int:
        schema_id = self.ids.setdefault(schema_str, len(self.ids) + 1)
        self.by_id[schema_id] = schema_str
        self.subjects.setdefault(subject, set()).add(schema_id)
        return schema_id

    async def lookup(self, subject: str, schema_str: str) -> int:
        return self.ids[schema_str]

    async def schema_by_id(self, schema_id: int) -> str:
        return self.by_id[schema_id]


def _floats(value: Any, path: str = "data") -> list[str]:
    if isinstance(value, float):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _floats(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _floats(v, f"{path}[{i}]")]
    return []


# -- coverage ------------------------------------------------------------------------------------------


def test_a_valid_example_for_every_event_type() -> None:
    assert sorted(e.name for e in VALID) == sorted(s.name for s in catalog().events.values())
    assert sorted(e.type for e in VALID) == sorted(catalog().events)
    for example in VALID:
        assert example.type.rsplit(".", 1)[-1] == example.name


def test_invalid_cases_cover_what_the_contract_promises() -> None:
    names = {e.name for e in INVALID}
    assert REQUIRED_INVALID_CASES <= names, REQUIRED_INVALID_CASES - names
    assert len(INVALID) >= 12
    for example in INVALID:
        assert example.description, example.name
        assert example.expected_errors, example.name
        assert example.type in catalog().events, example.name


def test_files_are_utf8_json_with_known_keys() -> None:
    for path in sorted(EXAMPLES_DIR.glob("*/*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        allowed = {"type", "key", "headers", "data"}
        if path.parent.name == "invalid":
            allowed |= {"description", "expected_errors"}
        assert set(raw) <= allowed and {"type", "key", "headers", "data"} <= set(raw), path


# -- valid examples ------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.name)
def test_valid_example_is_accepted(example: Example) -> None:
    event = parse_event(example.type, example.data)
    assert event.avro_name == example.type
    assert example.key == str(event.trade_id) == example.data["trade_id"]
    assert _floats(example.data) == [], "decimals are written as strings"
    assert _OFFSET.fullmatch(example.data["occurred_at"]), "timestamps carry their UTC offset"


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.name)
def test_valid_example_headers_follow_the_envelope(example: Example) -> None:
    event = parse_event(example.type, example.data)
    expected = CloudEvent.for_event(event, traceparent=example.headers["traceparent"])
    assert example.headers == dict((k, v.decode()) for k, v in expected.to_headers())
    assert example.headers["ce_type"] == example.type
    assert example.headers["ce_id"] == str(event.event_id)
    assert example.headers["ce_specversion"] == "1.0"
    assert example.headers["ce_source"] == source_for(event.sender)
    parsed = CloudEvent.from_headers([(k, v.encode()) for k, v in example.headers.items()])
    assert parsed == expected


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.name)
def test_valid_example_matches_the_contract_schemas(example: Example) -> None:
    Draft7Validator(HEADERS_SCHEMA, format_checker=FormatChecker()).validate(example.headers)
    Draft7Validator(KEY_SCHEMA, format_checker=FormatChecker()).validate(example.key)
    message = deref(DOC, {"$ref": f"#/components/messages/{example.name}"})
    assert message["x-corridor-ce-type"] == example.type
    assert message["x-corridor-example"] == f"examples/valid/{example.name}.json"


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.name)
async def test_valid_example_round_trips_through_the_codec(example: Example) -> None:
    registry = InMemoryRegistry()
    codec = Codec(registry)  # type: ignore[arg-type]
    event = parse_event(example.type, example.data)
    data = await codec.encode_async(event)
    assert data[0] == 0
    assert registry.subjects == {catalog().event(example.type).subject: {int.from_bytes(data[1:5], "big")}}
    # a consumer that has never seen the schema id decodes the same event
    decoded = await Codec(registry).decode(data)  # type: ignore[arg-type]
    assert decoded == event
    assert type(decoded) is type(event)


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.name)
def test_valid_example_is_published_by_an_allowed_role(example: Example) -> None:
    parties = [v for v in example.data.values() if isinstance(v, dict) and "party_id" in v]
    sender = [p for p in parties if p["party_id"] == example.data["sender"]]
    for party in sender:  # when the sender appears in the event, its role there must allow it to publish
        assert party["role"] in PUBLISHER_ROLES[example.type], example.name


# -- invalid examples ----------------------------------------------------------------------------------


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e.name)
def test_invalid_example_gives_exactly_its_expected_errors(example: Example) -> None:
    with pytest.raises(InvalidEvent) as exc:
        parse_event(example.type, example.data)
    expected = [FieldError(e["field"], e["reason"]) for e in example.expected_errors]
    assert exc.value.errors == expected
    assert exc.value.event_type == example.type
