"""CloudEvents 1.0 over HTTP, as partners send them: structured, binary and batched mode (pure).

* structured: ``Content-Type: application/cloudevents+json``, the body is the event document
  ``{"specversion", "id", "source", "type", "time"?, "subject"?, "datacontenttype"?, "data"}``;
  ``application/json`` without ``ce-*`` headers is read the same way.
* binary: the attributes are ``ce-*`` headers and the body (``application/json``) is the data.
* batch: ``application/cloudevents-batch+json`` or ``application/json``, a JSON array of structured
  events.

Rules of the gateway on top of the spec (docs/adr/0005-gateway.md): ``id`` is the event id, so
``data.event_id`` may be left out (it is filled from ``id``) and must equal ``id`` when present; a
missing ``data.occurred_at`` is filled from ``time``; ``data.created_at`` and an actual milestone's
``data.occurred_at`` may not be ahead of the gateway's clock (ADR 0026). ``source`` and ``subject`` are
required or accepted as the spec says, but what reaches Kafka is derived from the authenticated partner
and the event (``/corridor/partners/<id>``, ``order/<id>`` …). An optional ``traceparent`` attribute
(CloudEvents distributed-tracing extension) gives an item its own trace.

Extension attributes (docs/adr/0019-contracts-partners-generate-from.md) are never dropped: each is carried
to Kafka as a ``ce_<name>`` record header, as the CloudEvents Kafka binding maps them, within limits — a
name of 1-20 lower-case letters and digits that is not a core attribute, a string, integer or boolean
value of at most 256 UTF-8 bytes, at most 8 per event. Anything else is refused with 422 naming the
attribute. ``dataschema`` is refused too: the data's schema is the registry's, named by the record.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from corridor.core.domain import timing
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.domain.validation import FieldError, InvalidEvent
from corridor.gateway import problems
from corridor.gateway.validate import validate_event

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
JSON = "application/json"
SPEC_VERSION = "1.0"
MAX_ID_LENGTH = 255
_CE_HEADERS = ("id", "source", "type", "specversion", "time", "subject", "datacontenttype", "traceparent")
#: Attribute names that are not extensions (CloudEvents context attributes and the event's body).
_NOT_EXTENSIONS = frozenset((*_CE_HEADERS, "data", "data_base64", "dataschema"))
#: Extension names Corridor sets itself on webhook callbacks (partitioning extension, ADR 13's verdict).
RESERVED_EXTENSIONS = frozenset(("partitionkey", "signatureverdict", "tracestate"))
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
MAX_EXTENSIONS = 8
MAX_EXTENSION_BYTES = 256


@dataclass(frozen=True)
class IncomingEvent:
    """One CloudEvent as received (attributes checked, data not validated yet)."""

    id: str
    type: str
    source: str
    data: dict[str, Any]
    time: str | None = None
    traceparent: str | None = None
    #: extension attributes as (name, value in its canonical string form), carried as ``ce_<name>``
    extensions: tuple[tuple[str, str], ...] = ()

    def extension_headers(self) -> list[tuple[str, bytes]]:
        return [(f"ce_{name}", value.encode("utf-8")) for name, value in self.extensions]


def _extensions(attrs: Mapping[str, Any], errors: list[FieldError]) -> tuple[tuple[str, str], ...]:
    """The extension attributes of an event, checked against the gateway's limits."""
    found: list[tuple[str, str]] = []
    if "dataschema" in attrs:
        errors.append(
            FieldError("dataschema", "not accepted: the data's schema is the registry's, given by the type")
        )
    for name in sorted(attrs):
        if name in _NOT_EXTENSIONS:
            continue
        value = attrs[name]
        if name in RESERVED_EXTENSIONS:
            errors.append(FieldError(name, "reserved: Corridor sets this attribute itself"))
            continue
        if not _EXTENSION_NAME.fullmatch(name):
            errors.append(
                # an empty name still gets a field to point at (a client must see where it is)
                FieldError(name or '""', "an extension attribute name is 1-20 lower-case letters or digits")
            )
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int) and -(2**31) <= value < 2**31:
            text = str(value)
        elif isinstance(value, str):
            text = value
        else:
            errors.append(
                FieldError(name, "an extension attribute is a string, a 32-bit integer or a boolean")
            )
            continue
        if len(text.encode("utf-8")) > MAX_EXTENSION_BYTES or _CONTROL_CHARS.search(text):
            errors.append(
                FieldError(name, f"at most {MAX_EXTENSION_BYTES} UTF-8 bytes, no control characters")
            )
            continue
        found.append((name, text))
    if len(found) > MAX_EXTENSIONS:
        errors.append(FieldError(found[MAX_EXTENSIONS][0], f"at most {MAX_EXTENSIONS} extension attributes"))
    return tuple(found)


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``("application/json", {"charset": "utf-8"})`` from a Content-Type header value."""
    if not content_type:
        return "", {}
    mime, *params = content_type.split(";")
    parsed = {}
    for param in params:
        name, _, value = param.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"').lower()
    return mime.strip().lower(), parsed


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """The JSON document of a body, decimals kept exact; malformed JSON is a 400 problem."""
    if not body.strip():
        raise problems.malformed("the request body is empty")
    try:
        doc = json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise problems.malformed(f"the body is not UTF-8: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise problems.malformed(f"the body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(doc):
        # "\ud800" is valid JSON syntax but no Unicode character: it cannot be encoded (Avro strings are
        # UTF-8), so refuse it here rather than fail while producing.
        raise problems.malformed("the body has a \\uD800-\\uDFFF escape that is not part of a surrogate pair")
    return doc


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(doc: Any) -> bool:
    try:
        json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False
    return False


def _check_charset(content_type: str | None, params: Mapping[str, str], accepted: tuple[str, ...]) -> None:
    charset = params.get("charset")
    if charset and charset not in ("utf-8", "utf8"):
        raise problems.unsupported_media_type(content_type, [f"{a} (UTF-8)" for a in accepted])


def _attribute(doc: Mapping[str, Any], name: str, errors: list[FieldError], *, required: bool) -> str | None:
    value = doc.get(name)
    if value is None:
        if required:
            errors.append(FieldError(name, "required CloudEvents attribute is missing"))
        return None
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError(name, "must be a non-empty string"))
        return None
    return value


def from_attributes(attrs: Mapping[str, Any], data: Any) -> IncomingEvent | list[FieldError]:
    """Check the CloudEvents attributes and the data object; the event or the list of what is wrong."""
    errors: list[FieldError] = []
    specversion = _attribute(attrs, "specversion", errors, required=True)
    if specversion is not None and specversion != SPEC_VERSION:
        errors.append(FieldError("specversion", f"must be {SPEC_VERSION!r}, got {specversion!r}"))
    event_id = _attribute(attrs, "id", errors, required=True)
    if event_id is not None and len(event_id) > MAX_ID_LENGTH:
        errors.append(FieldError("id", f"at most {MAX_ID_LENGTH} characters"))
    source = _attribute(attrs, "source", errors, required=True)
    event_type = _attribute(attrs, "type", errors, required=True)
    if event_type is not None and event_type not in EVENT_TYPES:
        errors.append(FieldError("type", f"unknown event type {event_type!r}; one of {sorted(EVENT_TYPES)}"))
    time = _attribute(attrs, "time", errors, required=False)
    traceparent = _attribute(attrs, "traceparent", errors, required=False)
    _attribute(attrs, "subject", errors, required=False)
    datacontenttype = _attribute(attrs, "datacontenttype", errors, required=False)
    if datacontenttype is not None and media_type(datacontenttype)[0] != JSON:
        errors.append(FieldError("datacontenttype", f"must be {JSON!r}, got {datacontenttype!r}"))
    if "data_base64" in attrs:
        errors.append(
            FieldError("data_base64", "binary data is not accepted; send the event as JSON in data")
        )
    extensions = _extensions(attrs, errors)
    if data is None:
        errors.append(FieldError("data", "the event's fields are missing"))
    elif not isinstance(data, dict):
        errors.append(FieldError("data", f"must be a JSON object, got {type(data).__name__}"))
    if errors:
        return errors
    assert event_id is not None and event_type is not None and source is not None
    assert isinstance(data, dict)
    return IncomingEvent(event_id, event_type, source, data, time, traceparent, extensions)


#: Members of a contracts/examples/ file: a Kafka record (key, CloudEvents headers, the event), which
#: people post as they find it; the 422 then says what to send instead.
_KAFKA_RECORD_MEMBERS = frozenset({"key", "headers"})


def structured(doc: Any) -> IncomingEvent | list[FieldError]:
    if not isinstance(doc, dict):
        return [FieldError("(event)", f"a CloudEvent is a JSON object, got {type(doc).__name__}")]
    parsed = from_attributes(doc, doc.get("data"))
    if isinstance(parsed, list) and "specversion" not in doc and _KAFKA_RECORD_MEMBERS <= doc.keys():
        parsed.insert(
            0,
            FieldError(
                "(event)",
                "this is a Kafka record as contracts/examples/ shows it (key, headers, data), not a "
                'CloudEvent: send {"specversion": "1.0", "id": <event_id>, "source": "/your/system", '
                '"type": <its type>, "data": <its data>} (README, "Publishing through the gateway")',
            ),
        )
    return parsed


def binary(headers: Mapping[str, str], data: Any) -> IncomingEvent | list[FieldError]:
    """Binary mode: attributes from ``ce-*`` headers (percent-decoded, as the HTTP binding says); every
    other ``ce-<name>`` header is an extension attribute."""
    # HTTP header names are case-insensitive; attribute names are lower case
    attrs = {
        name.lower()[3:]: unquote(value) for name, value in headers.items() if name.lower().startswith("ce-")
    }
    if "traceparent" not in attrs and "traceparent" in headers:
        attrs["traceparent"] = headers["traceparent"]
    return from_attributes(attrs, data)


def parse_single(
    content_type: str | None, headers: Mapping[str, str], body: bytes
) -> IncomingEvent | list[FieldError]:
    """One event from a request to ``POST /v1/events`` (structured or binary mode)."""
    mime, params = media_type(content_type)
    is_binary = "ce-specversion" in headers
    if mime == STRUCTURED and not is_binary:
        _check_charset(content_type, params, (STRUCTURED,))
        return structured(parse_json(body))
    if mime == JSON:
        _check_charset(content_type, params, (JSON,))
        doc = parse_json(body)
        return binary(headers, doc) if is_binary else structured(doc)
    raise problems.unsupported_media_type(
        content_type, [STRUCTURED, f"{JSON} with ce-* headers (binary mode)"]
    )


def parse_batch(content_type: str | None, body: bytes) -> list[IncomingEvent | list[FieldError]]:
    """The events of a request to ``POST /v1/events/batch`` (a JSON array of structured events)."""
    mime, params = media_type(content_type)
    if mime not in (BATCH, JSON):
        raise problems.unsupported_media_type(content_type, [BATCH, JSON])
    _check_charset(content_type, params, (BATCH, JSON))
    doc = parse_json(body)
    if not isinstance(doc, list):
        raise problems.malformed(f"a batch is a JSON array of CloudEvents, got a JSON {type(doc).__name__}")
    return [structured(item) for item in doc]


def to_event(
    incoming: IncomingEvent, now: dt.datetime | None = None, skew: dt.timedelta = timing.CLOCK_SKEW
) -> TradeEvent:
    """Validate the data as the event type; raises ``InvalidEvent`` naming every bad field.

    Data fields are reported as ``data.<path>``; ``id`` fills a missing ``data.event_id`` and must equal
    it when both are given; ``time`` fills a missing ``data.occurred_at``. A valid event's times are then
    held to the clock ``now`` (default: the wall clock): no ``created_at`` and no actual (ACT) milestone
    later than ``now`` + ``skew`` (``corridor.core.domain.timing``).
    """
    data = dict(incoming.data)
    errors: list[FieldError] = []
    id_filled = data.get("event_id") is None
    if id_filled:
        data["event_id"] = incoming.id
    elif not _same_id(incoming.id, data["event_id"]):
        errors.append(
            FieldError("id", f"must equal data.event_id ({data['event_id']!r}), got {incoming.id!r}")
        )
    if data.get("occurred_at") is None and incoming.time is not None:
        data["occurred_at"] = incoming.time
    try:
        event = validate_event(incoming.type, data)
    except InvalidEvent as exc:
        errors.extend(_data_error(err, id_filled) for err in exc.errors)
        raise InvalidEvent(exc.event_type, errors) from None
    errors.extend(
        FieldError(f"data.{field}", reason)
        for field, reason in timing.time_violations(event, now or dt.datetime.now(dt.UTC), skew)
    )
    if errors:
        raise InvalidEvent(event.avro_name, errors)
    return event


def _same_id(ce_id: str, event_id: Any) -> bool:
    try:
        return uuid.UUID(ce_id) == uuid.UUID(str(event_id))
    except ValueError:
        return ce_id == str(event_id)


def _data_error(err: FieldError, id_filled: bool) -> FieldError:
    if err.field == "event_id" and id_filled:
        return FieldError("id", f"the id is the event id and must be a UUID: {err.reason}")
    return FieldError("data" if err.field == "(event)" else f"data.{err.field}", err.reason)
