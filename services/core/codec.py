"""Confluent wire format codec: byte 0x00, 4-byte big-endian schema id, Avro binary body.

Encoding is synchronous and allocation-light (the schema id is resolved once per event type and
cached); decoding resolves unknown writer schema ids through the registry once and caches the parsed
schema. Records are decoded with the writer's schema and, when we know the event type, resolved
against our own (reader) schema, so old and new schema versions interoperate.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
from dataclasses import dataclass
from typing import Any, cast

from fastavro import schemaless_reader, schemaless_writer
from fastavro.schema import parse_schema

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.registry_client import RegistryClient
from corridor.core.schemas import EventSchema, SchemaCatalog, catalog

MAGIC_BYTE = 0
MAX_SCHEMA_ID = 2**31 - 1
_HEADER = struct.Struct(">bI")


class WireFormatError(ValueError):
    """Bytes that are not a Confluent-framed Avro record (wrong magic byte, truncated, undecodable)."""


def frame(schema_id: int, body: bytes) -> bytes:
    return _HEADER.pack(MAGIC_BYTE, schema_id) + body


def unframe(data: bytes) -> tuple[int, memoryview]:
    if len(data) < _HEADER.size:
        raise WireFormatError(f"record of {len(data)} bytes is shorter than the 5-byte wire-format header")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise WireFormatError(f"magic byte is {magic}, expected 0 (Confluent wire format)")
    if schema_id > MAX_SCHEMA_ID:  # the 4 bytes are a signed int in Confluent's format: this is negative
        raise WireFormatError(f"schema id {schema_id} is out of range (1 to {MAX_SCHEMA_ID})")
    return schema_id, memoryview(data)[_HEADER.size :]


@dataclass(frozen=True)
class _Writer:
    schema_id: int
    parsed: dict[str, Any]
    header: bytes


@dataclass(frozen=True)
class _Reader:
    full_name: str
    writer: dict[str, Any]
    reader: dict[str, Any] | None


#: The fields every trade event's schema starts with, in this order: ``with_created_at`` splices
#: ``created_at`` into a body by skipping them (checked per schema; a schema that differs is re-encoded).
_STAMP_LAYOUT: tuple[tuple[str, str], ...] = (
    ("event_id", "string"),
    ("trade_id", "string"),
    ("occurred_at", "long"),
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _stampable(schema: Any) -> bool:
    """Whether a record schema starts with ``_STAMP_LAYOUT`` followed by ``created_at``, a union of null
    (first) and timestamp-millis."""
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list) or len(fields) <= len(_STAMP_LAYOUT):
        return False
    for field, (name, avro_type) in zip(fields, _STAMP_LAYOUT, strict=False):
        declared = field.get("type")
        declared = declared.get("type") if isinstance(declared, dict) else declared
        if field.get("name") != name or declared != avro_type:
            return False
    created = fields[len(_STAMP_LAYOUT)]
    branches = created.get("type")
    return (
        created.get("name") == "created_at"
        and isinstance(branches, list)
        and len(branches) == 2
        and branches[0] == "null"
        and isinstance(branches[1], dict)
        and branches[1].get("type") == "long"
        and branches[1].get("logicalType") == "timestamp-millis"
    )


def _skip_varint(body: bytes, pos: int) -> tuple[int, int]:
    """(zig-zag decoded value, position after it) of the Avro int/long at ``pos``."""
    shift = value = 0
    while True:
        if pos >= len(body):
            raise WireFormatError("Avro body ends inside a varint")
        byte = body[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7


def _long_bytes(value: int) -> bytes:
    """Avro's encoding of a long: zig-zag, then 7 bits a byte, least significant first."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def timestamp_millis(at: dt.datetime) -> int:
    """Milliseconds since the epoch as Avro ``timestamp-millis`` (and fastavro) stores an aware time."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _canonical(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


class Codec:
    """Encodes events to and decodes them from the Confluent wire format, via a schema registry."""

    def __init__(
        self, registry: RegistryClient, schemas: SchemaCatalog | None = None, *, auto_register: bool = True
    ):
        self.registry = registry
        self.schemas = schemas or catalog()
        self.auto_register = auto_register
        self._writers: dict[str, _Writer] = {}
        self._readers: dict[int, _Reader] = {}
        self._stampable: dict[str, bool] = {}

    async def writer_id(self, event_schema: EventSchema) -> int:
        """Schema id of an event type, registering its schema if allowed (cached after the first call)."""
        writer = self._writers.get(event_schema.full_name)
        if writer is None:
            if self.auto_register:
                schema_id = await self.registry.register(event_schema.subject, event_schema.schema_str)
            else:
                schema_id = await self.registry.lookup(event_schema.subject, event_schema.schema_str)
            writer = _Writer(schema_id, event_schema.parsed, _HEADER.pack(MAGIC_BYTE, schema_id))
            self._writers[event_schema.full_name] = writer
        return writer.schema_id

    async def prepare(self, *type_names: str) -> None:
        """Resolve schema ids up front so that ``encode`` never waits on the registry."""
        for name in type_names or tuple(self.schemas.events):
            await self.writer_id(self.schemas.event(name))

    def encode(self, event: TradeEvent, body: bytes | None = None) -> bytes:
        """Wire-format bytes of an event whose type was prepared (``prepare`` / ``writer_id``); ``body``
        is its Avro encoding when the caller already has it (``encode_body``)."""
        writer = self._writers.get(event.avro_name)
        if writer is None:
            raise LookupError(f"schema of {event.avro_name} is not resolved yet: await codec.prepare() first")
        if body is not None:
            return writer.header + body
        return self.encode_record(writer, event.to_avro())

    def encode_body(self, event: TradeEvent) -> bytes:
        """The Avro binary encoding of an event with our schema, without the wire-format header (needs no
        schema id, hence no registry)."""
        buf = io.BytesIO()
        schemaless_writer(buf, self.schemas.event(event.avro_name).parsed, event.to_avro())
        return buf.getvalue()

    def with_created_at(self, event: TradeEvent, body: bytes) -> bytes:
        """The Avro encoding of ``event`` given ``body``, the encoding of the same event with
        ``created_at`` null (all else equal): the gateway digests the body as sent and then stamps the
        receive time (``timing.stamped``); splicing the one field in saves encoding the event twice.

        Avro writes a record's fields back to back, so the stamped body is the unstamped one with the
        union branch of ``created_at`` (null, one byte) replaced by branch 1 and the long. Schemas that
        do not start with the fields of ``_STAMP_LAYOUT`` and ``created_at`` are encoded in full."""
        name = event.avro_name
        stampable = self._stampable.get(name)
        if stampable is None:
            stampable = self._stampable[name] = _stampable(self.schemas.event(name).schema)
        if not stampable or event.created_at is None:
            return self.encode_body(event)
        pos = 0
        for _name, avro_type in _STAMP_LAYOUT:
            value, pos = _skip_varint(body, pos)
            if avro_type == "string":
                pos += value
        if pos >= len(body) or body[pos] != 0:  # not the null branch: not the body of an unstamped event
            raise ValueError(f"{name} body has created_at set already (or is not this event's body)")
        return body[:pos] + b"\x02" + _long_bytes(timestamp_millis(event.created_at)) + body[pos + 1 :]

    @staticmethod
    def encode_record(writer: _Writer, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(writer.header)
        schemaless_writer(buf, writer.parsed, record)
        return buf.getvalue()

    async def encode_async(self, event: TradeEvent, body: bytes | None = None) -> bytes:
        if event.avro_name not in self._writers:
            await self.writer_id(self.schemas.event(event.avro_name))
        return self.encode(event, body)

    async def _reader(self, schema_id: int) -> _Reader:
        reader = self._readers.get(schema_id)
        if reader is None:
            schema_str = await self.registry.schema_by_id(schema_id)
            raw = json.loads(schema_str)
            writer = cast(dict[str, Any], parse_schema(raw))
            full_name = raw.get("name", "") if isinstance(raw, dict) else ""
            if isinstance(raw, dict) and "." not in full_name and raw.get("namespace"):
                full_name = f"{raw['namespace']}.{full_name}"
            ours = self.schemas.events.get(full_name)
            # Schema resolution costs a third of the decode time; skip it when the writer wrote with
            # exactly our schema (the common case), and resolve only across versions.
            same = ours is not None and _canonical(raw) == _canonical(ours.schema)
            reader = _Reader(full_name, writer, ours.parsed if ours and not same else None)
            self._readers[schema_id] = reader
        return reader

    async def decode_record(self, data: bytes) -> tuple[int, str, dict[str, Any]]:
        """Decode to (schema id, record full name, Avro record as a dict)."""
        schema_id, body = unframe(data)
        reader = await self._reader(schema_id)
        try:
            record = schemaless_reader(io.BytesIO(body), reader.writer, reader.reader)
        except Exception as exc:  # fastavro raises several types on truncated or corrupt input
            raise WireFormatError(f"cannot decode Avro body with schema id {schema_id}: {exc}") from exc
        if not isinstance(record, dict):
            raise WireFormatError(f"schema id {schema_id} does not describe a record")
        return schema_id, reader.full_name, record

    async def decode_event(self, data: bytes) -> tuple[int, TradeEvent]:
        """Decode to (writer schema id, typed event model)."""
        schema_id, full_name, record = await self.decode_record(data)
        model = EVENT_TYPES.get(full_name)
        if model is None:
            raise WireFormatError(f"{full_name!r} is not a Corridor event type")
        return schema_id, model.model_validate(record)

    async def decode(self, data: bytes) -> TradeEvent:
        """Decode to the typed event model."""
        return (await self.decode_event(data))[1]
