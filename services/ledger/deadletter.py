"""Headers of parked (retry) and dead-lettered records, and where a record first came from (pure).

A parked record is the original key, value and headers plus ``retry_*`` headers; a dead-lettered record
the original key, value and headers plus the ``dlq_*`` headers. Both carry the coordinates of the
record as it was first consumed from its trade topic, however many retry topics it went through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Headers = list[tuple[str, bytes]]

RETRY_ATTEMPT = "retry_attempt"  # 1 for the first retry
RETRY_NOT_BEFORE = "retry_not_before"  # epoch milliseconds
RETRY_GROUP = "retry_consumer_group"  # the ledger consumer group that parked it (and only it retries it)
RETRY_ORIGINAL_TOPIC = "retry_original_topic"
RETRY_ORIGINAL_PARTITION = "retry_original_partition"
RETRY_ORIGINAL_OFFSET = "retry_original_offset"
RETRY_FIRST_SEEN = "retry_first_seen"
RETRY_REASON = "retry_reason"

DLQ_ORIGINAL_TOPIC = "dlq_original_topic"
DLQ_ORIGINAL_PARTITION = "dlq_original_partition"
DLQ_ORIGINAL_OFFSET = "dlq_original_offset"
DLQ_ERROR_CLASS = "dlq_error_class"
DLQ_REASON = "dlq_reason"
DLQ_ATTEMPTS = "dlq_attempts"
DLQ_FIRST_SEEN = "dlq_first_seen"
DLQ_CONSUMER_GROUP = "dlq_consumer_group"
#: Set when a record was too large for the dead-letter topic: the original length of what was cut.
CUT_VALUE_HEADER = "dlq_value_truncated"
CUT_KEY_HEADER = "dlq_key_truncated"
DROPPED_HEADERS_HEADER = "dlq_headers_dropped"  # how many original headers were left out

#: Key + value + headers of a dead-letter record at most: below the topic's max.message.bytes (1048588)
#: and the producer's max request size (1 MiB), with room for the record batch framing.
MAX_DLQ_RECORD_BYTES = 1_040_000

_OURS = ("retry_", "dlq_")
_MAX_REASON = 2000


@dataclass(frozen=True)
class Origin:
    """Where and when a record was first consumed; how many times it was tried (this time included)."""

    topic: str
    partition: int
    offset: int
    first_seen: dt.datetime
    attempts: int
    retry_group: str | None = None
    not_before_ms: int | None = None


def _get(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("utf-8", "replace") if value is not None else None
    return None


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def origin_of(
    topic: str, partition: int, offset: int, headers: Sequence[tuple[str, bytes]], now: dt.datetime
) -> Origin:
    """The origin of a consumed record: itself, or for a retry record what its headers say."""
    attempt = _get(headers, RETRY_ATTEMPT)
    if attempt is None:
        return Origin(topic, partition, offset, now, 1)
    try:
        first_seen_text = _get(headers, RETRY_FIRST_SEEN)
        first_seen = dt.datetime.fromisoformat(first_seen_text) if first_seen_text else now
        not_before = _get(headers, RETRY_NOT_BEFORE)
        return Origin(
            topic=_get(headers, RETRY_ORIGINAL_TOPIC) or topic,
            partition=int(_get(headers, RETRY_ORIGINAL_PARTITION) or partition),
            offset=int(_get(headers, RETRY_ORIGINAL_OFFSET) or offset),
            first_seen=first_seen,
            attempts=int(attempt) + 1,
            retry_group=_get(headers, RETRY_GROUP),
            not_before_ms=int(not_before) if not_before else None,
        )
    except ValueError:  # mangled retry headers: treat the record as seen here for the first time
        return Origin(topic, partition, offset, now, 1, retry_group=_get(headers, RETRY_GROUP))


def original_headers(headers: Iterable[tuple[str, bytes]]) -> Headers:
    """The headers the record was published with (without ours)."""
    return [(k, v) for k, v in headers if not k.startswith(_OURS)]


def retry_headers(
    headers: Iterable[tuple[str, bytes]],
    origin: Origin,
    *,
    attempt: int,
    not_before: dt.datetime,
    group: str,
    reason: str,
) -> Headers:
    return [
        *original_headers(headers),
        (RETRY_ATTEMPT, str(attempt).encode()),
        (RETRY_NOT_BEFORE, str(int(not_before.timestamp() * 1000)).encode()),
        (RETRY_GROUP, group.encode()),
        (RETRY_ORIGINAL_TOPIC, origin.topic.encode()),
        (RETRY_ORIGINAL_PARTITION, str(origin.partition).encode()),
        (RETRY_ORIGINAL_OFFSET, str(origin.offset).encode()),
        (RETRY_FIRST_SEEN, iso(origin.first_seen).encode()),
        (RETRY_REASON, reason[:_MAX_REASON].encode()),
    ]


def dlq_headers(
    headers: Iterable[tuple[str, bytes]], origin: Origin, *, error_class: str, reason: str, group: str
) -> Headers:
    return [
        *original_headers(headers),
        (DLQ_ORIGINAL_TOPIC, origin.topic.encode()),
        (DLQ_ORIGINAL_PARTITION, str(origin.partition).encode()),
        (DLQ_ORIGINAL_OFFSET, str(origin.offset).encode()),
        (DLQ_ERROR_CLASS, error_class.encode()),
        (DLQ_REASON, reason[:_MAX_REASON].encode()),
        (DLQ_ATTEMPTS, str(origin.attempts).encode()),
        (DLQ_FIRST_SEEN, iso(origin.first_seen).encode()),
        (DLQ_CONSUMER_GROUP, group.encode()),
    ]


def header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    return _get(headers, name)


def _headers_size(headers: Iterable[tuple[str, bytes]]) -> int:
    # + 10: the two length varints of each header, at most 5 bytes each
    return sum(len(k.encode()) + len(v or b"") + 10 for k, v in headers)


def fit_record(
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    limit: int = MAX_DLQ_RECORD_BYTES,
) -> tuple[bytes | None, bytes | None, Headers]:
    """Key, value and headers cut to ``limit`` bytes in all (a dead-letter record must be producible, or
    the consumer could never get past it): original headers are dropped first when they alone take half,
    then the key beyond 1 KiB, then the value's tail; each cut is recorded in a ``dlq_*`` header."""
    out: Headers = list(headers)
    if len(key or b"") + len(value or b"") + _headers_size(out) <= limit:
        return key, value, out
    if _headers_size(out) > limit // 2:
        ours = [(k, v) for k, v in out if k.startswith(_OURS)]
        out = [*ours, (DROPPED_HEADERS_HEADER, str(len(out) - len(ours)).encode())]
    if key is not None and len(key) > 1024:
        out.append((CUT_KEY_HEADER, str(len(key)).encode()))
        key = key[:1024]
    if value is not None and len(key or b"") + len(value) + _headers_size(out) > limit:
        out.append((CUT_VALUE_HEADER, str(len(value)).encode()))
        value = value[: max(0, limit - len(key or b"") - _headers_size(out))]
    return key, value, out
