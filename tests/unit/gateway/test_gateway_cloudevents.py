"""CloudEvents over HTTP (structured, binary, batch) and the gateway's event validation."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from corridor.core.domain.events import OrderPlaced
from corridor.core.domain.validation import FieldError, InvalidEvent
from corridor.gateway import cloudevents
from corridor.gateway.cloudevents import IncomingEvent, parse_batch, parse_single, to_event
from corridor.gateway.problems import Problem
from corridor.gateway.validate import rule_violations, validate_event
from tests.unit.gateway.gateway_samples import cast, cloudevent

ORDER_PLACED = "corridor.trade.orders.OrderPlaced"
C = cast("u")


def order_doc(**attrs):
    return cloudevent(ORDER_PLACED, C.first("OrderPlaced"), **attrs)


def test_media_type_parsing() -> None:
    assert cloudevents.media_type("Application/CloudEvents+JSON; charset=UTF-8") == (
        "application/cloudevents+json",
        {"charset": "utf-8"},
    )
    assert cloudevents.media_type(None) == ("", {})


def test_structured_mode() -> None:
    doc = order_doc()
    item = parse_single("application/cloudevents+json", {}, json.dumps(doc).encode())
    assert isinstance(item, IncomingEvent)
    assert item.id == doc["id"] and item.type == ORDER_PLACED and item.source == "/partner-system/erp"
    # decimals stay exact
    assert isinstance(item.data["lines"][0]["tolerance_percent"], str)
    raw = json.dumps({**doc, "data": {**doc["data"], "x": 0.1}}).encode()
    assert parse_single("application/json", {}, raw).data["x"] == Decimal("0.1")


def test_binary_mode_reads_ce_headers_percent_decoded() -> None:
    data = C.first("OrderPlaced")
    headers = {
        "ce-specversion": "1.0",
        "ce-id": data["event_id"],
        "ce-source": "/erp%20one",
        "ce-type": ORDER_PLACED,
        "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    }
    item = parse_single("application/json; charset=utf-8", headers, json.dumps(data).encode())
    assert isinstance(item, IncomingEvent)
    assert item.source == "/erp one" and item.data == data and item.traceparent == headers["traceparent"]


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("text/plain", 415), (None, 415), ("application/cloudevents+json; charset=latin-1", 415)],
)
def test_unsupported_media_types(content_type, status) -> None:
    with pytest.raises(Problem) as caught:
        parse_single(content_type, {}, b"{}")
    assert caught.value.status == status


@pytest.mark.parametrize("body", [b"", b"{", b"\xff", b'{"a": NaN}', b'{"a": Infinity}'])
def test_malformed_json_is_400(body: bytes) -> None:
    with pytest.raises(Problem) as caught:
        parse_single("application/cloudevents+json", {}, body)
    assert caught.value.status == 400


def test_attribute_errors_are_listed_together() -> None:
    doc = {"specversion": "0.3", "id": "", "type": "Nope", "data": "x", "data_base64": "AA=="}
    errors = parse_single("application/cloudevents+json", {}, json.dumps(doc).encode())
    assert isinstance(errors, list)
    assert {e.field for e in errors} == {"specversion", "id", "source", "type", "data", "data_base64"}


def test_batch() -> None:
    docs = [order_doc(), {"nothing": 1}]
    items = parse_batch("application/cloudevents-batch+json", json.dumps(docs).encode())
    assert isinstance(items[0], IncomingEvent) and isinstance(items[1], list)
    with pytest.raises(Problem) as caught:
        parse_batch("application/json", b'{"not": "a list"}')
    assert caught.value.status == 400
    with pytest.raises(Problem) as caught:
        parse_batch("application/cloudevents+json", b"[]")
    assert caught.value.status == 415


def test_event_id_filled_from_id_or_checked_against_it() -> None:
    doc = order_doc()
    data = {k: v for k, v in doc["data"].items() if k != "event_id"}
    event = to_event(IncomingEvent(doc["id"], ORDER_PLACED, "/s", data))
    assert str(event.event_id) == doc["id"]
    # the same UUID in another spelling is the same id
    assert (
        to_event(IncomingEvent(doc["id"].upper(), ORDER_PLACED, "/s", doc["data"])).event_id == event.event_id
    )
    with pytest.raises(InvalidEvent) as caught:
        to_event(IncomingEvent(str(uuid.uuid4()), ORDER_PLACED, "/s", doc["data"]))
    assert [e.field for e in caught.value.errors] == ["id"]
    with pytest.raises(InvalidEvent) as caught:
        to_event(IncomingEvent("order-1", ORDER_PLACED, "/s", data))
    assert caught.value.errors[0].field == "id" and "UUID" in caught.value.errors[0].reason


def test_occurred_at_filled_from_time() -> None:
    doc = order_doc()
    data = {k: v for k, v in doc["data"].items() if k != "occurred_at"}
    event = to_event(IncomingEvent(doc["id"], ORDER_PLACED, "/s", data, time="2026-02-10T01:30:00Z"))
    assert event.occurred_at.isoformat().startswith("2026-02-10T01:30:00")


def test_field_errors_are_under_data() -> None:
    data = C.first("OrderPlaced")
    data["lines"][0]["hs_code"] = "2610.00"
    del data["supplier"]
    with pytest.raises(InvalidEvent) as caught:
        to_event(IncomingEvent(data["event_id"], ORDER_PLACED, "/s", data))
    assert {e.field for e in caught.value.errors} == {"data.lines[0].hs_code", "data.supplier"}


def test_every_field_and_rule_error_in_one_answer() -> None:
    data = C.first("OrderPlaced")
    data["transport_mode"] = "ROAD"
    data["incoterm_place"]["unlocode"] = "XX123"
    data["lines"][0]["unit_price"]["amount"] = "-1"
    with pytest.raises(InvalidEvent) as caught:
        validate_event(ORDER_PLACED, data)
    fields = {e.field: e.reason for e in caught.value.errors}
    assert set(fields) == {"incoterm", "incoterm_place.unlocode", "lines[0].unit_price.amount"}
    assert "sea-only" in fields["incoterm"]


def test_rule_violations_that_depend_on_a_stand_in_are_not_reported() -> None:
    data = C.first("OrderPlaced")
    # a bad delivery_latest: the window rule would judge the stand-in (a date before the window opens)
    assert data["delivery_earliest"] > "2026-01-02"
    data["delivery_latest"] = "not a date"
    assert rule_violations(OrderPlaced, data) == []
    data["transport_mode"] = "ROAD"  # while a rule about other fields still speaks
    assert [v.field for v in rule_violations(OrderPlaced, data)] == ["incoterm"]
    # an unfixable shape (a whole party missing) gives the field errors only
    data = C.first("OrderPlaced")
    data["transport_mode"] = "ROAD"
    del data["buyer"]
    with pytest.raises(InvalidEvent) as caught:
        validate_event(ORDER_PLACED, data)
    assert [e.field for e in caught.value.errors] == ["buyer"]


def test_valid_events_and_rule_only_errors_are_unchanged() -> None:
    data = C.first("OrderPlaced")
    assert validate_event(ORDER_PLACED, data).order_id == data["order_id"]
    data["transport_mode"] = "ROAD"
    with pytest.raises(InvalidEvent) as caught:
        validate_event(ORDER_PLACED, data)
    assert caught.value.errors == [
        FieldError(
            "incoterm",
            "FOB is a sea-only Incoterm (FAS, FOB, CFR, CIF) and cannot be used for a ROAD shipment; "
            "use FCA, CPT, CIP, DAP, DPU or DDP",
        )
    ]


def _contract_examples(kind: str):
    from corridor.core.settings import PROJECT_ROOT

    return sorted((PROJECT_ROOT / "contracts" / "examples" / kind).glob("*.json"))


@pytest.mark.parametrize("path", _contract_examples("invalid"), ids=lambda p: p.stem)
def test_contract_invalid_examples_keep_their_errors(path) -> None:
    """On every invalid example of the contract the gateway reports at least the errors the contract
    names (the rules found around bad fields come on top), and never fails otherwise."""
    example = json.loads(path.read_text(encoding="utf-8"))
    with pytest.raises(InvalidEvent) as caught:
        validate_event(example["type"], example["data"])
    found = {(e.field, e.reason) for e in caught.value.errors}
    assert {(e["field"], e["reason"]) for e in example["expected_errors"]} <= found


@pytest.mark.parametrize("path", _contract_examples("valid"), ids=lambda p: p.stem)
def test_contract_valid_examples_pass(path) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    assert validate_event(example["type"], example["data"]).avro_name == example["type"]
