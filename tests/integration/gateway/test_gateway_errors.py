"""Bad requests get problem details with the right status, every bad field named — never a 5xx."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.unit.gateway.gateway_samples import cloudevent

pytestmark = pytest.mark.integration

CE_JSON = {"Content-Type": "application/cloudevents+json"}
ORDER_PLACED = "corridor.trade.orders.OrderPlaced"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= set(body)
    return body


@pytest.fixture
def buyer(trade):
    return trade.auth(trade.cast.buyer)


def test_malformed_json_is_400(http, buyer) -> None:
    for content in (b'{"specversion": "1.0", ', b"", b"\xff\xfe{}", b'{"a": NaN}'):
        body = _problem(http.post("/v1/events", content=content, headers={**CE_JSON, **buyer}), 400)
        assert body["type"] == "urn:corridor:problem:malformed-request"
    body = _problem(
        http.post("/v1/events/batch", content=b"[{]", headers={"Content-Type": "application/json", **buyer}),
        400,
    )
    body = _problem(
        http.post("/v1/events/batch", content=b"{}", headers={"Content-Type": "application/json", **buyer}),
        400,
    )
    assert "array" in body["detail"]


def test_wrong_content_type_is_415(http, trade, buyer) -> None:
    doc = json.dumps(cloudevent(ORDER_PLACED, trade.cast.first("OrderPlaced")))
    for content_type in ("text/plain", "application/xml", "application/cloudevents+json; charset=latin-1"):
        body = _problem(
            http.post("/v1/events", content=doc, headers={"Content-Type": content_type, **buyer}), 415
        )
        assert "application/cloudevents+json" in body["detail"]
    _problem(http.post("/v1/events", content=doc, headers=buyer), 415)  # no Content-Type at all
    _problem(
        http.post("/v1/events/batch", content=f"[{doc}]", headers={"Content-Type": "text/csv", **buyer}), 415
    )


def test_invalid_event_lists_every_bad_field(http, trade, buyer, kafka) -> None:
    data = trade.cast.first("OrderPlaced")
    data["transport_mode"] = "ROAD"  # FOB is sea-only
    data["incoterm_place"]["unlocode"] = "XX123"  # not a UN/LOCODE
    data["lines"][0]["unit_price"]["amount"] = "-285.50"  # negative money
    response = http.post(
        "/v1/events", content=json.dumps(cloudevent(ORDER_PLACED, data)), headers={**CE_JSON, **buyer}
    )
    body = _problem(response, 422)
    assert body["type"] == "urn:corridor:problem:invalid-event"
    fields = {e["field"]: e["reason"] for e in body["errors"]}
    assert "data.incoterm_place.unlocode" in fields
    assert "data.lines[0].unit_price.amount" in fields
    assert "sea-only" in fields["data.incoterm"] and "ROAD" in fields["data.incoterm"]
    # and it was not produced: the same id is still free
    data = trade.cast.first("OrderPlaced")
    ok = http.post(
        "/v1/events", content=json.dumps(cloudevent(ORDER_PLACED, data)), headers={**CE_JSON, **buyer}
    )
    assert ok.status_code == 201 and "idempotent-replayed" not in ok.headers


def test_a_malformed_registration_is_422_naming_it(http, trade, buyer) -> None:
    """STRN and the Chinese customs code are checked at the gateway for their format (ADR 0046)."""
    data = trade.cast.first("OrderPlaced")
    data["supplier"]["registrations"] = [{"scheme": "STRN", "value": "4271931-6"}]  # an NTN
    data["buyer"]["registrations"] = [{"scheme": "CN_CUSTOMS_CODE", "value": "1201961234"}]  # fine
    response = http.post(
        "/v1/events", content=json.dumps(cloudevent(ORDER_PLACED, data)), headers={**CE_JSON, **buyer}
    )
    fields = {e["field"]: e["reason"] for e in _problem(response, 422)["errors"]}
    assert list(fields) == ["data.supplier.registrations[0].value"], fields
    assert "STRN is 13 digits" in fields["data.supplier.registrations[0].value"]


def test_cloudevents_attribute_errors_are_422(http, trade, buyer) -> None:
    data = trade.cast.first("OrderPlaced")
    doc = cloudevent(ORDER_PLACED, data)
    cases = [
        ({**doc, "specversion": "0.3"}, "specversion"),
        ({k: v for k, v in doc.items() if k != "source"}, "source"),
        ({**doc, "type": "corridor.trade.orders.Nope"}, "type"),
        ({**doc, "id": str(uuid.uuid4())}, "id"),  # differs from data.event_id
        ({**doc, "data": [1, 2]}, "data"),
        ({**doc, "datacontenttype": "application/xml"}, "datacontenttype"),
        ({**doc, "id": "not-a-uuid", "data": {k: v for k, v in data.items() if k != "event_id"}}, "id"),
    ]
    for bad, field in cases:
        response = http.post("/v1/events", content=json.dumps(bad), headers={**CE_JSON, **buyer})
        body = _problem(response, 422)
        assert field in [e["field"] for e in body["errors"]], (field, body)


def test_invalid_batch_lists_item_indexes_and_produces_nothing(http, trade, buyer) -> None:
    first = cloudevent(ORDER_PLACED, trade.cast.first("OrderPlaced"))
    broken = trade.cast.first("OrderAmended")
    broken["lines"][0]["hs_code"] = "2610.00"
    second = cloudevent("corridor.trade.orders.OrderAmended", broken)
    third = {**first, "specversion": "2.0"}
    response = http.post(
        "/v1/events/batch",
        content=json.dumps([first, second, third]),
        headers={"Content-Type": "application/cloudevents-batch+json", **buyer},
    )
    body = _problem(response, 422)
    assert {(e["index"], e["field"]) for e in body["errors"]} >= {
        (1, "data.lines[0].hs_code"),
        (2, "specversion"),
    }
    assert 0 not in {e["index"] for e in body["errors"]}
    assert "nothing was produced" in body["detail"]
    # item 0 was not produced
    alone = http.post("/v1/events", content=json.dumps(first), headers={**CE_JSON, **buyer})
    assert alone.status_code == 201 and "idempotent-replayed" not in alone.headers


def test_duplicate_ids_and_empty_batches_are_422(http, trade, buyer) -> None:
    doc = cloudevent(ORDER_PLACED, trade.cast.first("OrderPlaced"))
    headers = {"Content-Type": "application/json", **buyer}
    body = _problem(http.post("/v1/events/batch", content=json.dumps([doc, doc]), headers=headers), 422)
    assert body["errors"][0]["index"] == 1 and "twice" in body["errors"][0]["reason"]
    _problem(http.post("/v1/events/batch", content=b"[]", headers=headers), 422)


def test_too_large_is_413(http, gateway, trade, buyer) -> None:
    limit = gateway.settings.gateway_max_event_bytes
    data = trade.cast.first("OrderPlaced")
    data["lines"][0]["description_en"] = "x" * (limit + 10)
    doc = json.dumps(cloudevent(ORDER_PLACED, data)).encode()
    body = _problem(http.post("/v1/events", content=doc, headers={**CE_JSON, **buyer}), 413)
    assert str(limit) in body["detail"]

    # without Content-Length (chunked): refused while reading
    def chunks():
        for i in range(0, len(doc), 65536):
            yield doc[i : i + 65536]

    _problem(http.post("/v1/events", content=chunks(), headers={**CE_JSON, **buyer}), 413)

    # a batch may be bigger than one event, but not bigger than its own limit
    big = json.dumps([cloudevent(ORDER_PLACED, data)]).encode()
    assert len(big) < gateway.settings.gateway_max_batch_bytes
    response = http.post(
        "/v1/events/batch", content=big, headers={"Content-Type": "application/json", **buyer}
    )
    assert response.status_code == 422, response.text  # within the size; the description is just too long
    too_big = b"[" + b" " * gateway.settings.gateway_max_batch_bytes + b"]"
    _problem(
        http.post("/v1/events/batch", content=too_big, headers={"Content-Type": "application/json", **buyer}),
        413,
    )
    # and at most 500 events
    many = json.dumps([cloudevent(ORDER_PLACED, trade.cast.first("OrderPlaced"))] * 501)
    body = _problem(
        http.post("/v1/events/batch", content=many, headers={"Content-Type": "application/json", **buyer}),
        413,
    )
    assert "500" in body["detail"]


def test_unknown_routes_and_methods_are_problems_too(http) -> None:
    assert _problem(http.get("/v1/nothing"), 404)["title"] == "Not Found"
    _problem(http.get("/v1/events"), 405)


@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b'"just a string"',
        b"123456789012345678901234567890",
        b'{"specversion": "1.0", "id": 5, "source": [], "type": {}, "data": "x"}',
        b'{"specversion": "1.0", "id": "a", "source": "b", "type": "corridor.trade.orders.OrderPlaced",'
        b' "data": {}}',
        b'{"specversion": "1.0", "id": "a", "source": "b", "type": "corridor.trade.orders.OrderPlaced",'
        b' "data": {"lines": [{"quantity": {"value": 1e400}}], "occurred_at": "yesterday", "trade_id": []}}',
        b"[" * 5000 + b"]" * 5000,
        json.dumps({"data": {"a": "\ud800"}}).encode(),
    ],
)
def test_junk_never_causes_a_5xx(http, buyer, content: bytes) -> None:
    response = http.post("/v1/events", content=content, headers={**CE_JSON, **buyer})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
