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


def test_with_created_at_splices_exactly_what_a_full_encoding_writes(codec: Codec) -> None:
    """Every event type of both stories, at times before and after the epoch, in varints of every
    length: the spliced body is byte for byte the full encoding of the stamped event."""
    import datetime as dt

    from corridor.core.domain import timing
    from corridor.demo.story import explosives_story

    times = [
        dt.datetime(2026, 12, 5, 11, 0, 0, 123000, tzinfo=dt.UTC),
        dt.datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=dt.UTC),
        dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2999, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
    ]
    seen = set()
    for story in (chromite_story(), explosives_story()):
        for template in story.events:
            event = template.model_copy(update={"created_at": None})
            body = codec.encode_body(event)
            for at in times:
                stamped = timing.stamped(event, at)
                if stamped is event:  # signed types are never stamped
                    continue
                seen.add(event.avro_name)
                assert codec.with_created_at(stamped, body) == codec.encode_body(stamped)
    assert len(seen) >= 10


def test_with_created_at_refuses_a_body_that_has_created_at_already(codec: Codec) -> None:
    import datetime as dt

    event = chromite_story().events[0]
    at = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    stamped = event.model_copy(update={"created_at": at})
    with pytest.raises(ValueError, match="created_at set already"):
        codec.with_created_at(stamped, codec.encode_body(stamped))


def test_every_trade_event_schema_can_be_stamped_by_splicing() -> None:
    """The layout ``with_created_at`` relies on holds for every event type of the catalog (else the
    gateway silently falls back to a second full encoding)."""
    from corridor.core.codec import _stampable
    from corridor.core.schemas import catalog

    events = catalog().events
    assert events and all(_stampable(e.schema) for e in events.values())
