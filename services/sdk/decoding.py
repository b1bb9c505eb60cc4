"""Decoding one record of a partner topic: the Confluent wire format (magic byte, schema id, Avro body)
through the schema registry into the typed event model, and the CloudEvents headers (binary mode).

For a partner that reads its topic with another Kafka client than :class:`~corridor.sdk.PartnerConsumer`
(confluent-kafka, a Kafka Connect sink …): ``await decoder.decode(value, headers)``.

Failures are of two kinds, and :func:`is_transient` tells them apart: the record's fault (not a
Corridor event, a schema id the registry does not know, corrupt Avro, missing CloudEvents headers) is
:class:`~corridor.core.codec.WireFormatError`, ``ValueError`` or a 404 :class:`RegistryError`, and asking
again fails again; the registry being unreachable or failing (``OSError``, httpx errors, other HTTP
statuses) is transient: ask again later, the record is fine. The rule is the one the Corridor services
use on their own inbound records (``corridor.core.inbound``, shipped in this distribution).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from corridor.core.codec import Codec
from corridor.core.domain.base import TradeEvent
from corridor.core.envelope import CloudEvent
from corridor.core.inbound import is_transient
from corridor.core.registry_client import RegistryClient

__all__ = ["DecodedEvent", "EventDecoder", "is_transient"]


@dataclass(frozen=True)
class DecodedEvent:
    """A record's typed event, its CloudEvents attributes and all its headers (as text)."""

    event: TradeEvent
    cloudevent: CloudEvent
    headers: dict[str, str]


class EventDecoder:
    """Decodes records through the schema registry at ``registry_url``, logging in with
    ``registry_user_info`` (writer schemas are fetched once per schema id and cached; the events are
    resolved against the schemas this SDK was built with, so a record written with an older or newer
    compatible schema decodes to the same model)."""

    def __init__(
        self, registry_url: str, *, timeout: float = 10.0, registry_user_info: str | None = None
    ) -> None:
        # the registry login `partners add` printed (``partner-<id>:<password>``, read role); None: the
        # CORRIDOR_SCHEMA_REGISTRY_USER_INFO[_FILE] setting (anonymous requests get 401)
        self.registry = RegistryClient(registry_url, timeout=timeout, user_info=registry_user_info)
        self.codec = Codec(self.registry, auto_register=False)

    async def decode(
        self, value: bytes | None, headers: Iterable[tuple[str, bytes | None]] = ()
    ) -> DecodedEvent:
        """The typed event of a record value and its headers (see the module doc for the failures)."""
        if value is None:
            raise ValueError("a record without value (a tombstone) is not a Corridor event")
        event = await self.codec.decode(value)
        present = [(k, v) for k, v in headers if v is not None]
        cloudevent = CloudEvent.from_headers(present)
        return DecodedEvent(event, cloudevent, {k: v.decode("utf-8", "replace") for k, v in present})

    async def close(self) -> None:
        await self.registry.close()

    async def __aenter__(self) -> EventDecoder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
