"""CloudEvents 1.0 in Kafka binary mode: the record value is the event data (Avro), attributes are headers.

Headers: ``ce_id``, ``ce_source``, ``ce_type``, ``ce_specversion``, ``ce_time``, ``ce_subject``,
``content-type``, plus W3C ``traceparent``. The Kafka record key is the trade id (the partition key).

Besides the envelope, ``TradeProducer`` adds ``corridor_published_ms`` (its wall clock at send, epoch
milliseconds) and the gateway ``corridor_received_ms`` (when the HTTP request arrived): operational
timestamps for latency, never business time (that is ``ce_time``).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from corridor.core.domain.base import TradeEvent, subject_of

SPEC_VERSION = "1.0"
#: The value is Avro in the Confluent wire format (magic byte + schema id + Avro binary).
CONTENT_TYPE = "application/avro"
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

Headers = list[tuple[str, bytes]]

#: Producer wall clock at send (epoch ms), set by ``TradeProducer``: the start of end-to-end latency.
PUBLISHED_MS_HEADER = "corridor_published_ms"
#: Gateway wall clock when the HTTP request carrying the event arrived (epoch ms).
RECEIVED_MS_HEADER = "corridor_received_ms"

#: Headers every Corridor record carries (CloudEvents binary mode); ``traceparent`` comes on top.
REQUIRED_HEADERS: tuple[str, ...] = (
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_specversion",
    "ce_time",
    "ce_subject",
    "content-type",
)


#: CloudEvents context attributes (not extensions), as ``ce_<name>`` headers are named.
CONTEXT_ATTRIBUTES = frozenset(
    ("id", "source", "type", "specversion", "time", "subject", "datacontenttype", "dataschema")
)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def trace_id(traceparent: str | None) -> str | None:
    match = _TRACEPARENT.fullmatch(traceparent or "")
    return match.group(1) if match else None


def source_for(party_id: str) -> str:
    return f"/corridor/partners/{party_id}"


@dataclass(frozen=True)
class CloudEvent:
    """The CloudEvents attributes of one Kafka record."""

    id: str
    source: str
    type: str
    time: str
    subject: str
    traceparent: str
    specversion: str = SPEC_VERSION
    content_type: str = CONTENT_TYPE

    @classmethod
    def for_event(
        cls, event: TradeEvent, *, source: str | None = None, traceparent: str | None = None
    ) -> CloudEvent:
        return cls(
            id=str(event.event_id),
            source=source or source_for(event.sender),
            type=event.avro_name,
            time=event.occurred_at.astimezone(dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            subject=subject_of(event),
            traceparent=traceparent or new_traceparent(),
        )

    def to_headers(self) -> Headers:
        return [
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_specversion", self.specversion.encode()),
            ("ce_time", self.time.encode()),
            ("ce_subject", self.subject.encode()),
            ("content-type", self.content_type.encode()),
            ("traceparent", self.traceparent.encode()),
        ]

    @staticmethod
    def extensions_of(headers: Headers | tuple[tuple[str, bytes], ...]) -> dict[str, str]:
        """The CloudEvents extension attributes a record carries (``ce_<name>`` headers other than the
        context attributes): what the gateway took from the partner (docs/adr/0019)."""
        found = {}
        for key, value in headers:
            name = key[3:] if key.startswith("ce_") else ""
            if name and name not in CONTEXT_ATTRIBUTES and value is not None:
                found[name] = value.decode("utf-8", "replace")
        return found

    @classmethod
    def from_headers(cls, headers: Headers | tuple[tuple[str, bytes], ...]) -> CloudEvent:
        values = {k: v.decode("utf-8", "replace") for k, v in headers}
        missing = [h for h in ("ce_id", "ce_source", "ce_type", "ce_specversion") if h not in values]
        if missing:
            raise ValueError(f"record lacks CloudEvents headers {missing}")
        return cls(
            id=values["ce_id"],
            source=values["ce_source"],
            type=values["ce_type"],
            time=values.get("ce_time", ""),
            subject=values.get("ce_subject", ""),
            traceparent=values.get("traceparent", ""),
            specversion=values["ce_specversion"],
            content_type=values.get("content-type", CONTENT_TYPE),
        )

    @property
    def trace_id(self) -> str | None:
        return trace_id(self.traceparent)
