"""What a produce error means, once for every producer of Corridor (docs/adr/0017-broker-refusals.md).

Every failure a producer sees is classified along two independent lines:

* **whose it is** (``Scope``): the *record*'s (the broker refused this record or its batch for what it
  is: its size, its timestamp, its form), the *cluster*'s (away, busy, no leader, too few in-sync
  replicas: the same record is accepted later), or the *producer*'s (its idempotence or transaction
  state is unusable: sequence gap, unknown producer id, fenced epoch, a fatal transaction error, a
  dead sender task);
* **whether the producer that got it must be replaced** (``replace``). aiokafka's idempotent producer
  retries retriable errors forever and never expires a batch; a batch it *fails* was given its sequence
  numbers already, and aiokafka (unlike the Java client) never rewinds or bumps the epoch, so the next
  batch of that partition carries a gap and the broker answers ``OutOfOrderSequenceNumber`` for good.
  Hence: every failure that reaches an acknowledgement future of an idempotent producer poisons it,
  whatever the scope, and the producer is replaced. A failure raised by ``send()`` itself (the client's
  own size check, a dead sender, metadata that never came) happened before any sequence was assigned:
  it poisons nothing unless it says the producer is gone.

A transactional producer's failed transaction is always started over with a new epoch (a replacement
with the same ``transactional.id``): aborting through a producer in doubt is not to be trusted.

Invariants: ``classify`` is pure (no I/O) and total (an unknown error is the cluster's 503 and, from
an acknowledgement, replaces the producer); the HTTP status is for a request that waited for the
record: 4xx (413) only for what the same record would meet again whoever sent it — its size; 503
(retry with the same id) for everything else, including refusals of what Corridor itself set (the
record timestamp is the producer's clock).
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

from aiokafka import errors as kafka_errors


class ProducerReplacedError(kafka_errors.KafkaError):  # type: ignore[misc]
    """A record was not sent because the producer a caller started with was replaced meanwhile (the
    records of one request must not be split across two producers: they could overtake each other)."""

    retriable = True


class ProducerAbandonedError(kafka_errors.KafkaError):  # type: ignore[misc]
    """A record's acknowledgement did not come within its owner's delivery bound, so the producer that
    held it was abandoned (``TradeProducer.abandon``): it sends and retries nothing more. The record may
    or may not have been stored (a request already on the wire is still appended by the broker)."""

    retriable = True


class Scope(enum.StrEnum):
    RECORD = "record"  # this record is refused as it is: the same bytes would be refused again
    CLUSTER = "cluster"  # the cluster is away, busy or misconfigured for us: the same record fits later
    PRODUCER = "producer"  # the producer's idempotence/transaction state is unusable


class Stage(enum.StrEnum):
    SEND = "send"  # raised by ``send()``: before the record got a sequence number
    ACK = "ack"  # the acknowledgement future failed: the batch had its sequence numbers
    TRANSACTION = "transaction"  # begin/commit/abort/send_offsets of a transactional producer


@dataclass(frozen=True, slots=True)
class ProduceFailure:
    """The verdict on one produce error."""

    scope: Scope
    replace: bool  # the producer that got it must be replaced (or its epoch bumped) before reuse
    status: int  # the HTTP answer for the request that waited for this record
    reason: str  # what happened, for the answer's detail and the log
    error: str  # the error's class name (``ProduceFailure`` of the metrics/logs)

    @property
    def record_refused(self) -> bool:
        return self.scope is Scope.RECORD


#: Broker refusals of a record for what it is, with the status of the request that sent it.
#: ``MessageSizeTooLargeError`` (10), ``RecordListTooLargeError`` (18): the record (batch) is larger than
#: the topic's ``max.message.bytes``; ``InvalidTimestampError`` (32): outside the topic's
#: ``message.timestamp.before/after.max.ms``; ``CorruptRecordException`` (2, aiokafka's
#: ``UnknownError`` for codes it does not know such as 87 INVALID_RECORD) and
#: ``UnsupportedForMessageFormatError`` (43): a record the topic cannot store (a compacted topic without
#: a key).
_RECORD: dict[type[BaseException], tuple[int, str]] = {
    kafka_errors.MessageSizeTooLargeError: (413, "larger than the topic's max.message.bytes"),
    kafka_errors.RecordListTooLargeError: (413, "the record batch is larger than max.message.bytes"),
    kafka_errors.RecordTooLargeError: (413, "larger than the producer's max_request_size"),
    # the record timestamp is the producer's clock (publication time): a refusal says that clock or the
    # topic's window is wrong, not the request, hence 503
    kafka_errors.InvalidTimestampError: (
        503,
        "its timestamp (the producer's clock) is outside the topic's "
        "message.timestamp.before.max.ms/after.max.ms window",
    ),
    kafka_errors.UnsupportedForMessageFormatError: (503, "the topic's message format cannot store it"),
}

#: Errors that say the producer's own state is unusable: the idempotence sequence or epoch, or the
#: transaction. Raised by aiokafka for an ack (``OutOfOrderSequenceNumber`` 45, ``UnknownProducerId``
#: 59, ``InvalidProducerEpoch`` 47 which aiokafka turns into ``ProducerFenced``), by a transactional
#: producer's coordinator calls (``InvalidTxnState`` 48, ``InvalidProducerIdMapping`` 49,
#: ``TransactionCoordinatorFenced`` 52, ``ConcurrentTransactions`` is retried by aiokafka itself), and by
#: aiokafka when its sender task died (``KafkaError("Unexpected error during batch delivery")``,
#: ``ProducerClosed``, ``IllegalStateError``, ``IllegalOperation``).
_PRODUCER: tuple[type[BaseException], ...] = (
    kafka_errors.OutOfOrderSequenceNumber,
    kafka_errors.UnknownProducerId,
    kafka_errors.InvalidProducerEpoch,
    kafka_errors.ProducerFenced,
    kafka_errors.InvalidTxnState,
    kafka_errors.InvalidProducerIdMapping,
    kafka_errors.TransactionCoordinatorFenced,
    kafka_errors.ProducerClosed,
    kafka_errors.IllegalStateError,
    kafka_errors.IllegalOperation,
)

#: Errors of the cluster that a later attempt gets past (an operator restores an ACL, a topic comes
#: back, a broker returns): the request is answered 503.
_CLUSTER: tuple[type[BaseException], ...] = (
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.TransactionalIdAuthorizationFailed,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.KafkaConnectionError,
    TimeoutError,
    ConnectionError,
)


def classify(exc: BaseException, stage: Stage = Stage.ACK, *, idempotent: bool = True) -> ProduceFailure:
    """The verdict on ``exc``, raised at ``stage`` by an (``idempotent``) producer."""
    name = type(exc).__name__
    if isinstance(exc, ProducerReplacedError):
        return ProduceFailure(Scope.CLUSTER, False, 503, f"the record was not sent: {exc}", name)
    if isinstance(exc, ProducerAbandonedError):  # its producer is being replaced already
        return ProduceFailure(Scope.CLUSTER, False, 503, f"the record may not be stored: {exc}", name)
    text = f"{name}: {exc}" if str(exc) else name
    # from an ack, every failure of an idempotent producer leaves a sequence gap (module docstring); a
    # transaction that failed is aborted by a new epoch (a replacement) whatever the reason
    gap = (stage is Stage.ACK and idempotent) or stage is Stage.TRANSACTION
    for kind, (status, why) in _RECORD.items():
        if isinstance(exc, kind):
            # aiokafka's own size check in send() (max_request_size) runs before any sequence number
            return ProduceFailure(Scope.RECORD, gap, status, f"the broker refused the record: {why} ({text})",
                                  name)  # fmt: skip
    if isinstance(exc, kafka_errors.CorruptRecordException | kafka_errors.UnknownError):
        return ProduceFailure(
            Scope.RECORD, gap, 503, f"the broker refused the record as invalid ({text})", name
        )
    if isinstance(exc, _PRODUCER):
        return ProduceFailure(
            Scope.PRODUCER, True, 503, f"the producer's state became unusable ({text}); it is replaced", name
        )
    if isinstance(exc, _CLUSTER) or _retriable(exc) or isinstance(exc, asyncio.CancelledError):
        return ProduceFailure(Scope.CLUSTER, gap, 503, f"Kafka did not acknowledge the record ({text})", name)
    if stage is Stage.TRANSACTION and isinstance(exc, kafka_errors.KafkaError) and not _retriable(exc):
        # a transaction that failed for a reason aiokafka cannot retry cannot be trusted: start over
        return ProduceFailure(Scope.PRODUCER, True, 503, f"the transaction failed ({text})", name)
    if isinstance(exc, kafka_errors.KafkaError):
        # anything aiokafka cannot retry, including its "Unexpected error during batch delivery" when the
        # sender task died: the producer cannot be trusted any more
        return ProduceFailure(
            Scope.PRODUCER, True, 503, f"the producer failed ({text}); it is replaced", name
        )
    return ProduceFailure(Scope.CLUSTER, gap, 503, f"the record was not produced ({text})", name)


def _retriable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retriable", False))


def is_produce_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from Kafka (and ``classify`` has something to say about it)."""
    return isinstance(exc, kafka_errors.KafkaError | kafka_errors.IllegalOperation)
