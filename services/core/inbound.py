"""Decoding one consumed record, and telling whose fault a failure is: the one rule the ledger, the
relay, the webhook dispatcher and the partner SDK share.

A record value in the Confluent wire format (magic byte, schema id, Avro body) is decoded through the
schema registry into its typed event (:func:`decode`). When that fails, :func:`classify` says which
of two kinds the failure is:

* **permanent** — the record's fault, asking again fails again: a tombstone, bytes that are not our
  wire format, corrupt or truncated Avro, a record that is not a Corridor event type, an event that
  breaks the model's rules, a schema id the registry does not know (HTTP 404). The caller dead-letters
  or skips the record, and it never blocks those behind it.
* **transient** — the registry's fault, the record is fine: the registry unreachable (``OSError``, an
  httpx error) or answering with any other HTTP status (5xx, an expired login …). The caller asks again
  later and skips nothing.

Each permanent failure carries an ``error_class`` (the name the dead-letter headers and the senders'
receipts show, docs/adr/0006-ledger.md) and a ``reason``. This module ships in the partner SDK too
(``sdk/pyproject.toml``), so it imports nothing the SDK does not; docs/adr/0035-ledger-planner.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from corridor.core.codec import Codec, WireFormatError
from corridor.core.domain.base import TradeEvent
from corridor.core.registry_client import RegistryError

__all__ = [
    "DecodeFailure",
    "Decoded",
    "RegistryUnavailable",
    "Undecodable",
    "classify",
    "decode",
    "is_transient",
]


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Why a record could not be decoded: ``transient`` (ask again later) or the record's fault."""

    error_class: str
    reason: str
    transient: bool


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded record value: the writer schema id and the typed event."""

    schema_id: int
    event: TradeEvent


class Undecodable(ValueError):
    """A record that can never be decoded (permanent): dead-letter it or skip it."""

    def __init__(self, failure: DecodeFailure) -> None:
        super().__init__(f"{failure.error_class}: {failure.reason}")
        self.failure = failure


class RegistryUnavailable(Exception):
    """The schema registry is unreachable or failing (transient): nothing is wrong with the record."""

    def __init__(self, failure: DecodeFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def is_transient(exc: BaseException) -> bool:
    """Whether a decoding failure is the registry's (ask again) rather than the record's."""
    if isinstance(exc, RegistryUnavailable):
        return True
    if isinstance(exc, RegistryError):
        return exc.status != 404
    # httpx: every error it raises (transport, timeouts, status, invalid URL …) is the registry's side
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] == "httpx"


def classify(exc: BaseException) -> DecodeFailure:
    """The kind of a failure raised while decoding a record value, with its error class and reason."""
    if isinstance(exc, Undecodable | RegistryUnavailable):
        return exc.failure
    if is_transient(exc):
        reason = str(exc) if isinstance(exc, RegistryError) else f"schema registry unreachable: {exc}"
        return DecodeFailure(type(exc).__name__, reason, transient=True)
    if isinstance(exc, WireFormatError):
        return DecodeFailure("WireFormatError", str(exc), transient=False)
    if isinstance(exc, ValidationError):
        return DecodeFailure("InvalidEvent", str(exc), transient=False)
    if isinstance(exc, RegistryError):  # 404: a schema id the registry never issued
        return DecodeFailure("UnknownSchemaId", str(exc), transient=False)
    # fastavro and pydantic raise other types on corrupt input
    return DecodeFailure(type(exc).__name__, f"cannot decode the record: {exc}", transient=False)


async def decode(codec: Codec, value: bytes | None) -> Decoded:
    """Decode a record value; raises :class:`Undecodable` (permanent) or :class:`RegistryUnavailable`.

    Anything else decoding raises is classified by :func:`classify`; ``BaseException``\\ s that are not
    ``Exception``\\ s (cancellation) pass through untouched."""
    if value is None:
        raise Undecodable(
            DecodeFailure("WireFormatError", "record has no value (tombstone)", transient=False)
        )
    try:
        schema_id, event = await codec.decode_event(value)
    except Exception as exc:
        failure = classify(exc)
        if failure.transient:
            raise RegistryUnavailable(failure) from exc
        raise Undecodable(failure) from exc
    return Decoded(schema_id, event)
