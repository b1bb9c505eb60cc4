"""Codec (Confluent wire format) and CloudEvents envelope, with an in-memory registry fake."""

from __future__ import annotations

import io
import json
import struct

import pytest
from fastavro import schemaless_reader

from corridor.core.codec import Codec, WireFormatError, frame, unframe
from corridor.core.envelope import CloudEvent, trace_id
from corridor.demo.story import chromite_story


class InMemoryRegistry:
    """Fake of RegistryClient: ids are global and stable, as in the real registry."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.ids: dict[str, int] = {}
        self.calls = 0

    async def register(self, subject: str, schema_str: str) -> int:
        self.calls += 1
        if schema_str not in self.ids:
            self.ids[schema_str] = len(self.ids) + 100
            self.by_id[self.ids[schema_str]] = schema_str
        return self.ids[schema_str]

    lookup = register

    async def schema_by_id(self, schema_id: int) -> str:
        self.calls += 1
        return self.by_id[schema_id]


@pytest.fixture
def codec() -> Codec:
    return Codec(InMemoryRegistry())  # type: ignore[arg-type]


async def test_wire_format_is_magic_byte_schema_id_avro(codec: Codec) -> None:
    event = chromite_story().events[0]
    data = await codec.encode_async(event)
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    schema = json.loads(codec.registry.by_id[schema_id])  # type: ignore[attr-defined]
    assert schema["name"] == "corridor.trade.orders.OrderPlaced"
    from fastavro import parse_schema

    record = schemaless_reader(io.BytesIO(data[5:]), parse_schema(schema), None)
    assert record["order_id"] == event.order_id  # type: ignore[attr-defined]


async def test_every_story_event_round_trips_and_ids_are_cached(codec: Codec) -> None:
    events = chromite_story().events
    for event in events:
        assert await codec.decode(await codec.encode_async(event)) == event
    types = len({e.avro_name for e in events})
    assert codec.registry.calls == 2 * types  # type: ignore[attr-defined]  # one register + one fetch per type


async def test_bad_bytes_are_reported_not_crashed_on(codec: Codec) -> None:
    event = chromite_story().events[0]
    data = await codec.encode_async(event)
    with pytest.raises(WireFormatError, match="magic byte"):
        await codec.decode(b"\x01" + data[1:])
    with pytest.raises(WireFormatError, match="shorter than"):
        await codec.decode(data[:3])
    with pytest.raises(WireFormatError, match="cannot decode"):
        await codec.decode(data[:40])


def test_frame_unframe() -> None:
    schema_id, body = unframe(frame(513, b"abc"))
    assert schema_id == 513 and bytes(body) == b"abc"


def test_encode_without_prepare_is_refused(codec: Codec) -> None:
    with pytest.raises(LookupError, match="prepare"):
        codec.encode(chromite_story().events[0])


def test_cloudevents_headers() -> None:
    event = chromite_story().events[0]
    ce = CloudEvent.for_event(event)
    headers = dict(ce.to_headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == str(event.event_id).encode()
    assert headers["ce_type"] == b"corridor.trade.orders.OrderPlaced"
    assert headers["ce_source"] == b"/corridor/partners/tianjin-rongda-smelting"
    assert headers["ce_subject"] == b"order/TJRD-PO-2026-0117"
    assert headers["ce_time"] == b"2026-02-10T01:30:00.000Z"
    assert headers["content-type"] == b"application/avro"
    assert trace_id(headers["traceparent"].decode()) is not None
    assert CloudEvent.from_headers(ce.to_headers()) == ce


def test_missing_cloudevents_headers_are_named() -> None:
    with pytest.raises(ValueError, match="ce_source"):
        CloudEvent.from_headers([("ce_id", b"x"), ("ce_type", b"t"), ("ce_specversion", b"1.0")])
