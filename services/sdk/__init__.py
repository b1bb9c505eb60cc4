"""The Corridor partner SDK: read your trades' events from your partner topic as typed events.

Installed on its own as the distribution ``corridor-sdk`` (aiokafka, fastavro, pydantic, httpx and
cryptography; none of the server's dependencies): see ``sdk/README.md`` and
docs/adr/0022-partner-sdk-distribution.md. The public surface is what this module exports:

* :class:`PartnerConsumer` logs in to the broker's partner listener with your SCRAM-SHA-512 credentials
  (``corridor partners add`` prints them once), reads ``partner.<your id>.v1`` with a consumer group of
  yours (``<your id>.<anything>``), decodes every record into the models of :mod:`events` and commits a
  record only after your code is done with it; :class:`PartnerRecord` is one record with its metadata
  (headers :data:`BACKFILL_HEADER`, :data:`SIGNATURE_HEADER`), :data:`Handler` the callback type of
  ``run`` and :class:`UndecodableRecord` a record that is no Corridor event; a refused login (wrong
  password, disabled partner) raises :class:`PartnerLoginError` saying so::

    async with PartnerConsumer(bootstrap=..., username=..., password=..., partner_id="acme",
                               registry_url=..., group="acme.erp") as consumer:
        async for event in consumer:
            await book(event)  # the record is committed when the loop asks for the next one

* typed events: :mod:`events` (``events.OrderPlaced`` …, every model generated from the Avro schemas),
  :class:`TradeEvent` their base, :data:`EVENT_TYPES` by CloudEvents type;
* decoding for other Kafka clients: :class:`EventDecoder` (Confluent wire format + CloudEvents headers)
  into a :class:`DecodedEvent`, :class:`CloudEvent`, :class:`WireFormatError`, :func:`is_transient`;
* certificates: :func:`verify_certificate` with :func:`authority_key` (Ed25519 over the canonical JSON) of an
  :class:`AuthorityKey`, :class:`Verdict`, :class:`VerdictStatus`, :func:`canonical_bytes`;
* receipts of the events you published (accepted, pending, rejected): :func:`fetch_receipt` gives a
  :class:`Receipt` or raises :class:`ReceiptError`; :attr:`PartnerRecord.ledger_position` (header
  :data:`LEDGER_POSITION_HEADER`) is where the ledger accepted an event you read (every event in your
  topic was accepted by the ledger);
* broker login: :func:`kafka_config` (:data:`SCRAM_MECHANISM`, ``read_committed``), :func:`tls_context`
  for ``SASL_SSL``;
* :data:`__version__`, the version of the distribution ``corridor-sdk`` (``sdk/CHANGELOG.md``).

Everything else under ``corridor`` is internal to Corridor and may change without notice.
"""

__version__ = "0.2.0"

from corridor.core.codec import WireFormatError
from corridor.core.domain import events
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.envelope import CloudEvent
from corridor.sdk.certificates import (
    AuthorityKey,
    Verdict,
    VerdictStatus,
    authority_key,
    canonical_bytes,
    verify_certificate,
)
from corridor.sdk.consumer import (
    BACKFILL_HEADER,
    LEDGER_POSITION_HEADER,
    SIGNATURE_HEADER,
    Handler,
    PartnerConsumer,
    PartnerLoginError,
    PartnerRecord,
    UndecodableRecord,
)
from corridor.sdk.decoding import DecodedEvent, EventDecoder, is_transient
from corridor.sdk.receipts import Receipt, ReceiptError, fetch_receipt
from corridor.sdk.security import SCRAM_MECHANISM, kafka_config, tls_context

__all__ = [
    "BACKFILL_HEADER",
    "EVENT_TYPES",
    "LEDGER_POSITION_HEADER",
    "SCRAM_MECHANISM",
    "SIGNATURE_HEADER",
    "AuthorityKey",
    "CloudEvent",
    "DecodedEvent",
    "EventDecoder",
    "Handler",
    "PartnerConsumer",
    "PartnerLoginError",
    "PartnerRecord",
    "Receipt",
    "ReceiptError",
    "TradeEvent",
    "UndecodableRecord",
    "Verdict",
    "VerdictStatus",
    "WireFormatError",
    "__version__",
    "authority_key",
    "canonical_bytes",
    "events",
    "fetch_receipt",
    "is_transient",
    "kafka_config",
    "tls_context",
    "verify_certificate",
]
