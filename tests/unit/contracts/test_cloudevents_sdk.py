"""The CloudEvents SDK (PyPI ``cloudevents``) reads what Corridor writes: every event type's Kafka record
(binary mode, ``ce_*`` headers) and its webhook callback (structured mode over HTTP), with the partner's
extension attributes carried through. Generic over the example events of ``contracts/examples``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat

from corridor.core.contracts import Example, load_examples
from corridor.core.domain.validation import parse_event
from corridor.core.envelope import CloudEvent
from corridor.webhooks import delivery, signing

VALID = load_examples("valid")


class AvroBody(JSONFormat):
    """Kafka record values are Avro (Confluent wire format): handed over as bytes, never as text."""

    def read_data(self, body: bytes, datacontenttype: str | None) -> Any:
        if datacontenttype == "application/avro":
            return body
        return super().read_data(body, datacontenttype)


def _record_headers(example: Example, **extensions: str) -> dict[str, bytes]:
    event = parse_event(example.type, example.data)
    headers = dict(CloudEvent.for_event(event, traceparent=example.headers["traceparent"]).to_headers())
    headers.update({f"ce_{name}": value.encode() for name, value in extensions.items()})
    headers["corridor_published_ms"] = b"1700000000000"  # a non-CloudEvents header is ignored
    return headers


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.name)
def test_sdk_reads_kafka_records(example: Example) -> None:
    value = b"\x00\x00\x00\x00\x07avro-body"
    message = ce_kafka.KafkaMessage(
        headers=_record_headers(example, erpref="PO 42"), key=example.key.encode(), value=value
    )
    event = ce_kafka.from_binary(message, AvroBody())
    assert event.get_id() == example.headers["ce_id"]
    assert event.get_type() == example.type
    assert event.get_source() == example.headers["ce_source"]
    assert event.get_subject() == example.headers["ce_subject"]
    assert event.get_datacontenttype() == "application/avro"
    assert event.get_extension("partitionkey") == example.key
    assert event.get_extension("erpref") == "PO 42"
    assert event.get_data() == value


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.name)
def test_sdk_reads_webhook_callbacks(example: Example) -> None:
    headers = tuple(_record_headers(example, erpref="PO 42").items())
    event = parse_event(example.type, example.data)
    doc = delivery.document(
        event, CloudEvent.from_headers(headers), extensions=CloudEvent.extensions_of(headers)
    )
    body = delivery.body(doc)
    sent = delivery.headers("s" * 32, body, delivery_id="d-1", attempt=1)
    received = ce_http.from_http_event(ce_http.HTTPMessage(headers=sent, body=body))
    assert received.get_id() == example.headers["ce_id"]
    assert received.get_type() == example.type
    assert received.get_extension("partitionkey") == example.key
    assert received.get_extension("erpref") == "PO 42"
    assert received.get_data() == json.loads(body)["data"] == event.model_dump(mode="json")
    assert signing.verify(sent[signing.HEADER], body, "s" * 32) > 0
