"""What a delivery sends: the CloudEvents document, its headers, and the backoff schedule."""

from __future__ import annotations

import json
import random
import uuid

import pytest

from corridor.core.envelope import CloudEvent
from corridor.demo.story import chromite_story
from corridor.webhooks import delivery, signing


@pytest.mark.parametrize("seed", range(20))
def test_backoff_doubles_up_to_the_cap_with_half_of_it_random(seed: int) -> None:
    rng = random.Random(seed)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0), (6, 30.0), (20, 30.0)]:
        delay = delivery.backoff_delay(attempt, base_s=1.0, max_s=30.0, rng=rng)
        assert ceiling / 2 <= delay <= ceiling, (attempt, delay)


def test_backoff_spreads_deliveries_that_failed_together() -> None:
    rng = random.Random(7)
    delays = {round(delivery.backoff_delay(4, base_s=1.0, max_s=300.0, rng=rng), 3) for _ in range(50)}
    assert len(delays) > 40  # not all at the same moment
    assert delivery.backoff_delay(3, base_s=0.05, max_s=0.1, rng=rng) <= 0.1  # tests use tiny ones


def test_backoff_is_reproducible_with_a_seeded_generator() -> None:
    first = [delivery.backoff_delay(n, base_s=1, max_s=60, rng=random.Random(3)) for n in range(1, 8)]
    again = [delivery.backoff_delay(n, base_s=1, max_s=60, rng=random.Random(3)) for n in range(1, 8)]
    assert first == again


def test_document_is_a_structured_cloudevent_with_the_event_as_json() -> None:
    event = chromite_story().events[0]
    envelope = CloudEvent.for_event(event, traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    doc = delivery.document(event, envelope)
    assert doc["specversion"] == "1.0" and doc["id"] == str(event.event_id)
    assert doc["type"] == "corridor.trade.orders.OrderPlaced"
    assert doc["source"] == "/corridor/partners/tianjin-rongda-smelting"
    assert doc["subject"] == "order/TJRD-PO-2026-0117" and doc["time"] == envelope.time
    assert doc["datacontenttype"] == "application/json"
    assert doc["partitionkey"] == str(event.trade_id)
    assert doc["traceparent"] == envelope.traceparent
    assert doc["data"] == json.loads(event.model_dump_json())
    assert doc["data"]["lines"][0]["unit_price"]["amount"] == "285.50"  # decimals stay strings
    no_trace = delivery.document(event, CloudEvent(**{**envelope.__dict__, "traceparent": ""}))
    assert "traceparent" not in no_trace and "signatureverdict" not in no_trace
    assert delivery.document(event, envelope, signature_verdict="valid")["signatureverdict"] == "valid"


def test_body_is_compact_utf8_and_headers_sign_it() -> None:
    event = chromite_story().events[0]
    payload = delivery.body(delivery.document(event, CloudEvent.for_event(event)))
    assert b", " not in payload.split(b'"data"')[0] and "天津".encode() in payload
    delivery_id = str(uuid.uuid4())
    headers = delivery.headers("s" * 20, payload, delivery_id=delivery_id, attempt=3)
    assert headers["Content-Type"] == "application/cloudevents+json; charset=utf-8"
    assert headers["Corridor-Delivery"] == delivery_id and headers["Corridor-Attempt"] == "3"
    assert signing.verify(headers["Corridor-Signature"], payload, "s" * 20)
