"""Publishing through the gateway: single and batch, structured and binary mode, read back from Kafka."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from corridor.core.envelope import trace_id
from corridor.core.topics import CERTIFICATES, ORDERS, SHIPMENTS
from tests.unit.gateway.gateway_samples import cloudevent

pytestmark = pytest.mark.integration

CE_JSON = {"Content-Type": "application/cloudevents+json"}
BATCH_JSON = {"Content-Type": "application/cloudevents-batch+json"}


def test_single_event_is_acknowledged_and_really_in_kafka_with_cloudevents_headers(
    http, trade, kafka
) -> None:
    data = trade.cast.first("OrderPlaced")
    parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    started = time.perf_counter()
    response = http.post(
        "/v1/events",
        content=json.dumps(cloudevent("corridor.trade.orders.OrderPlaced", data)),
        headers={**CE_JSON, **trade.auth(trade.cast.buyer), "traceparent": parent},
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"event_id", "topic", "partition", "offset", "status", "receipt_url"}
    assert body["status"] == "received" and body["receipt_url"] == f"/v1/events/{data['event_id']}"
    assert body["event_id"] == data["event_id"] and body["topic"] == ORDERS
    print(f"single event: 201 in {elapsed_ms:.1f} ms")

    record = kafka.record(body["topic"], body["partition"], body["offset"])
    assert record.key == trade.cast.trade_id
    assert str(record.event.event_id) == data["event_id"]
    assert record.event.buyer.party_id == trade.cast.buyer
    ce = record.cloudevent
    assert ce.id == data["event_id"]
    assert ce.source == f"/corridor/partners/{trade.cast.buyer}"  # the authenticated partner, not the body's
    assert ce.type == "corridor.trade.orders.OrderPlaced"
    assert ce.specversion == "1.0"
    assert ce.subject == f"order/{data['order_id']}"
    assert ce.time.startswith("2026-02-10T01:30:00")
    assert record.headers["content-type"] == "application/avro"
    # the caller's trace goes on: same trace id, the gateway's own span
    assert trace_id(ce.traceparent) == trace_id(parent) and ce.traceparent != parent


def test_binary_mode_and_the_event_id_taken_from_the_cloudevents_id(http, trade, kafka) -> None:
    data = trade.cast.first("OrderPlaced")
    event_id = data.pop("event_id")
    response = http.post(
        "/v1/events",
        content=json.dumps(data),
        headers={
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-source": "/erp",
            "ce-type": "corridor.trade.orders.OrderPlaced",
            "X-API-Key": trade.keys[trade.cast.buyer],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["event_id"] == event_id
    record = kafka.record(body["topic"], body["partition"], body["offset"])
    assert str(record.event.event_id) == event_id
    assert record.cloudevent.traceparent  # one was created


def test_a_whole_trade_by_its_parties_in_story_order(http, trade) -> None:
    """Each party posts its own events; the trade-party rule lets each in (buyer opens, carrier, SGS,
    TDAP and GACC join by being named in their own role)."""
    topics = set()
    for event_type, data in trade.cast.events:
        response = http.post(
            "/v1/events",
            content=json.dumps(cloudevent(event_type, data)),
            headers={**CE_JSON, **trade.auth(data["sender"])},
        )
        assert response.status_code == 201, (event_type, response.text)
        topics.add(response.json()["topic"])
    assert topics == {ORDERS, SHIPMENTS, CERTIFICATES}


def test_batch_is_acknowledged_in_order_and_read_back(http, trade, kafka) -> None:
    buyer_events = [
        cloudevent(t, d) for t, d in trade.cast.events if d["sender"] == trade.cast.buyer
    ]  # OrderPlaced, OrderAmended: the batch opens the trade and continues it
    assert len(buyer_events) >= 2
    started = time.perf_counter()
    response = http.post(
        "/v1/events/batch",
        content=json.dumps(buyer_events),
        headers={**BATCH_JSON, **trade.auth(trade.cast.buyer)},
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    print(f"batch of {len(buyer_events)}: 201 in {elapsed_ms:.1f} ms")
    assert [r["index"] for r in results] == list(range(len(buyer_events)))
    assert all(r["status"] == 201 and r["topic"] == ORDERS for r in results)
    assert [r["event_id"] for r in results] == [e["id"] for e in buyer_events]
    # one trade, one partition, increasing offsets
    assert len({r["partition"] for r in results}) == 1
    offsets = [r["offset"] for r in results]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    for r, sent in zip(results, buyer_events, strict=True):
        record = kafka.record(r["topic"], r["partition"], r["offset"])
        assert record.cloudevent.id == sent["id"] and record.cloudevent.type == sent["type"]


def test_batch_of_many_events_plain_json_array(http, admin, trade) -> None:
    """100 OrderPlaced of 100 new trades in one request (application/json)."""
    base = trade.cast.first("OrderPlaced")
    events = []
    for _ in range(100):
        data = {**base, "event_id": str(uuid.uuid4()), "trade_id": str(uuid.uuid4())}
        events.append(cloudevent("corridor.trade.orders.OrderPlaced", data))
    started = time.perf_counter()
    response = http.post(
        "/v1/events/batch",
        content=json.dumps(events),
        headers={"Content-Type": "application/json", **trade.auth(trade.cast.buyer)},
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 201, response.text
    print(f"batch of 100: 201 in {elapsed_ms:.1f} ms")
    assert len(response.json()["results"]) == 100
    # each new trade now has its opening order recorded (its buyer and supplier)
    rows = admin.fetch(
        "SELECT count(*) AS n FROM {gw}.trade_facts WHERE trade_id = ANY($1::uuid[])",
        [e["data"]["trade_id"] for e in events],
    )
    assert rows[0]["n"] == 100


def test_health_readiness_and_openapi(http) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"postgres": "ok", "kafka": "ok"}
    spec = http.get("/openapi.json").json()
    assert {"/v1/events", "/v1/events/batch", "/healthz", "/readyz"} <= set(spec["paths"])
    post = spec["paths"]["/v1/events"]["post"]
    assert "application/cloudevents+json" in post["requestBody"]["content"]
    assert {"201", "401", "403", "409", "413", "415", "422", "503"} <= set(post["responses"])
    assert "bearer" in spec["components"]["securitySchemes"]
