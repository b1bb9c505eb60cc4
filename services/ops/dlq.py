"""``corridor dlq``: inspect the dead-letter topic and replay dead letters once their cause is fixed.

The ledger dead-letters a record to ``trade.dlq.v1`` with its original key, value and headers plus
``dlq_*`` headers (docs/adr/0006-ledger.md). ``replay`` re-produces the original key, value and headers
(``dlq_*``/``retry_*`` removed, ``corridor_published_ms`` renewed, ``corridor_replayed_from`` added) to
the original topic and partition named in the dead-letter headers.

Exactly once: each replay runs in a Kafka transaction of the replayer's one transactional id
(``corridor-dlq-replayer``, so it is also an idempotent producer) that writes the record AND a marker
keyed ``<dlq partition>:<dlq offset>`` to the compacted topic ``trade.dlq.replays.v1``. A dead letter with
a marker is never replayed again; the two writes commit together or not at all. Starting the producer
fences any older replayer still running (its open transaction is aborted and it can commit no more);
only then are the markers read, so two replays started one after the other never re-produce a record.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata

from corridor.core.envelope import PUBLISHED_MS_HEADER
from corridor.core.kafka import producer_config
from corridor.core.metrics import now_ms
from corridor.core.topics import TopicSpec, physical
from corridor.ledger import deadletter as dl
from corridor.ledger.topics import DLQ_TOPIC, ensure_topics
from corridor.ops.kafka_io import Record, fetch_record, reader, scan, topic_partitions
from corridor.ops.progress import Progress

MARKER_TOPIC = physical("trade.dlq.replays.v1")
MARKER_SPEC = TopicSpec(
    MARKER_TOPIC,
    1,
    {"cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": "3600000"},
)
REPLAYER_TRANSACTIONAL_ID = "corridor-dlq-replayer"
REPLAYED_FROM_HEADER = "corridor_replayed_from"
#: Replays per Kafka transaction.
CHUNK = 200


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int

    @classmethod
    def of(cls, record: Record) -> DeadLetter:
        return cls(
            record.partition,
            record.offset,
            record.key,
            record.value,
            tuple(record.headers or ()),
            record.timestamp,
        )

    @property
    def position(self) -> str:
        """``<partition>:<offset>`` in the dead-letter topic (what ``dlq show`` takes)."""
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        return dl.header(self.headers, name)

    @property
    def original_topic(self) -> str | None:
        return self.header(dl.DLQ_ORIGINAL_TOPIC)

    @property
    def original_partition(self) -> int | None:
        value = self.header(dl.DLQ_ORIGINAL_PARTITION)
        return int(value) if value and value.isdigit() else None

    @property
    def original_offset(self) -> int | None:
        value = self.header(dl.DLQ_ORIGINAL_OFFSET)
        return int(value) if value and value.isdigit() else None

    @property
    def error_class(self) -> str:
        return self.header(dl.DLQ_ERROR_CLASS) or "?"

    @property
    def reason(self) -> str:
        return self.header(dl.DLQ_REASON) or ""

    @property
    def event_id(self) -> str | None:
        return self.header("ce_id")

    @property
    def event_type(self) -> str | None:
        return self.header("ce_type")

    @property
    def trade_id(self) -> str | None:
        return self.key.decode("utf-8", "replace") if self.key is not None else None

    def to_json(self, replayed: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "position": self.position,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.trade_id,
            "event_id": self.event_id,
            "type": self.event_type,
            "original_topic": self.original_topic,
            "original_partition": self.original_partition,
            "original_offset": self.original_offset,
            "error_class": self.error_class,
            "reason": self.reason,
            "attempts": self.header(dl.DLQ_ATTEMPTS),
            "first_seen": self.header(dl.DLQ_FIRST_SEEN),
            "consumer_group": self.header(dl.DLQ_CONSUMER_GROUP),
            "dead_lettered_at": dt.datetime.fromtimestamp(self.timestamp_ms / 1000, dt.UTC).isoformat(),
            "headers": {k: v.decode("utf-8", "replace") for k, v in self.headers},
            "replayed": replayed,
        }

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The headers the record was published with, a new publish time, and where it comes from."""
        original = [(k, v) for k, v in dl.original_headers(self.headers) if k != PUBLISHED_MS_HEADER]
        return [
            *original,
            (PUBLISHED_MS_HEADER, str(now_ms()).encode()),
            (REPLAYED_FROM_HEADER, f"{DLQ_TOPIC}:{self.position}".encode()),
        ]


def parse_position(text: str) -> tuple[int, int]:
    """``"3:42"`` → (3, 42); ValueError otherwise."""
    partition, sep, offset = text.strip().partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise ValueError(f"{text!r} is not <partition>:<offset> of {DLQ_TOPIC}, e.g. 3:42")
    return int(partition), int(offset)


_FILTER_KEYS = {
    "class": "error_class",
    "error_class": "error_class",
    "topic": "topic",
    "type": "type",
    "trade": "trade",
    "key": "trade",
    "event": "event",
    "event_id": "event",
    "id": "event",
    "reason": "reason",
    "group": "group",
    "position": "position",
}


@dataclass(frozen=True)
class DlqFilter:
    """``--filter name=value`` (repeatable; all must hold): ``error_class``, ``topic`` (original topic),
    ``type`` (short or full name), ``trade``, ``event`` (id), ``reason`` (substring), ``group`` (the
    consumer group that dead-lettered it), ``position`` (partition:offset)."""

    criteria: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, texts: Iterable[str]) -> DlqFilter:
        criteria = []
        for text in texts:
            name, sep, value = text.partition("=")
            key = _FILTER_KEYS.get(name.strip().lower())
            if not sep or key is None or not value.strip():
                names = ", ".join(sorted(set(_FILTER_KEYS.values())))
                raise ValueError(f"bad filter {text!r}: use name=value with name one of {names}")
            if key == "position":
                parse_position(value)
            criteria.append((key, value.strip()))
        return cls(tuple(criteria))

    def matches(self, letter: DeadLetter) -> bool:
        for key, value in self.criteria:
            if key == "error_class" and letter.error_class != value:
                return False
            if key == "topic" and letter.original_topic != value:
                return False
            if key == "type":
                full = letter.event_type or ""
                if value not in (full, full.rsplit(".", 1)[-1]):
                    return False
            if key == "trade" and letter.trade_id != value:
                return False
            if key == "event" and letter.event_id != value:
                return False
            if key == "reason" and value.lower() not in letter.reason.lower():
                return False
            if key == "group" and letter.header(dl.DLQ_CONSUMER_GROUP) != value:
                return False
            if key == "position" and letter.position != ":".join(map(str, parse_position(value))):
                return False
        return True

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.criteria) or "(none)"


async def read_dead_letters(bootstrap_servers: str, *, progress: Progress | None = None) -> list[DeadLetter]:
    """Every record of the dead-letter topic (up to its end now); none when the topic does not exist."""
    counts = await topic_partitions(bootstrap_servers, [DLQ_TOPIC])
    if DLQ_TOPIC not in counts:
        return []
    tps = [TopicPartition(DLQ_TOPIC, p) for p in range(counts[DLQ_TOPIC])]
    async with reader(bootstrap_servers) as consumer:
        return [DeadLetter.of(r) async for r in scan(consumer, tps, progress=progress)]


async def read_replayed(bootstrap_servers: str) -> dict[str, dict[str, Any]]:
    """The replay markers: dead-letter position → what the replay produced (latest marker wins)."""
    counts = await topic_partitions(bootstrap_servers, [MARKER_TOPIC])
    if MARKER_TOPIC not in counts:
        return {}
    tps = [TopicPartition(MARKER_TOPIC, p) for p in range(counts[MARKER_TOPIC])]
    markers: dict[str, dict[str, Any]] = {}
    async with reader(bootstrap_servers) as consumer:
        async for record in scan(consumer, tps):
            if record.key is None:
                continue
            position = record.key.decode("utf-8", "replace")
            if record.value is None:
                markers.pop(position, None)
                continue
            try:
                markers[position] = json.loads(record.value)
            except ValueError:
                markers[position] = {"raw": record.value.decode("utf-8", "replace")}
    return markers


async def show(bootstrap_servers: str, position: str) -> tuple[DeadLetter, dict[str, Any] | None] | None:
    """One dead letter and its replay marker (None when there is no such record)."""
    partition, offset = parse_position(position)
    record = await fetch_record(bootstrap_servers, DLQ_TOPIC, partition, offset)
    if record is None:
        return None
    letter = DeadLetter.of(record)
    return letter, (await read_replayed(bootstrap_servers)).get(letter.position)


@dataclass
class Summary:
    """What ``dlq list`` reports."""

    total: int
    pending: int  # not replayed
    depth: dict[str, dict[str, int]]  # original topic → {"total", "pending"}
    reasons: list[dict[str, Any]]  # most frequent first: {"error_class", "reason", "count"}
    records: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": DLQ_TOPIC,
            "total": self.total,
            "pending": self.pending,
            "depth": self.depth,
            "top_reasons": self.reasons,
            "records": self.records,
        }


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def reason_key(reason: str) -> str:
    """A reason without the parts that differ per record (ids, retry counts), for grouping."""
    head = _UUID.sub("<id>", reason.split(" (gave up", 1)[0])
    return head if len(head) <= 160 else head[:157] + "…"


def summarize(
    letters: Sequence[DeadLetter], replayed: dict[str, dict[str, Any]], *, top: int = 10
) -> Summary:
    depth: dict[str, dict[str, int]] = {}
    reasons: Counter[tuple[str, str]] = Counter()
    pending = 0
    for letter in letters:
        topic = letter.original_topic or "?"
        row = depth.setdefault(topic, {"total": 0, "pending": 0})
        row["total"] += 1
        if letter.position not in replayed:
            row["pending"] += 1
            pending += 1
        reasons[(letter.error_class, reason_key(letter.reason))] += 1
    return Summary(
        total=len(letters),
        pending=pending,
        depth=dict(sorted(depth.items())),
        reasons=[{"error_class": c, "reason": r, "count": n} for (c, r), n in reasons.most_common(top)],
        records=[letter.to_json(replayed.get(letter.position)) for letter in letters],
    )


@dataclass
class Replayed:
    letter: DeadLetter
    topic: str
    partition: int
    offset: int


@dataclass
class ReplayReport:
    matched: list[DeadLetter]  # matching the filter and not replayed before
    already: list[DeadLetter]  # matching the filter, replayed before (skipped)
    replayed: list[Replayed] = field(default_factory=list)
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)  # cannot be replayed: why


async def replay(
    bootstrap_servers: str,
    filt: DlqFilter,
    *,
    dry_run: bool = False,
    progress: Callable[[str], Progress] | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> ReplayReport:
    """Replay the dead letters matching ``filt`` that were not replayed yet (see the module doc)."""
    producer: AIOKafkaProducer | None = None
    if not dry_run:
        await ensure_topics(bootstrap_servers, (MARKER_SPEC,))
        producer = AIOKafkaProducer(
            **producer_config(
                bootstrap_servers,
                transactional_id=REPLAYER_TRANSACTIONAL_ID,
                client_id="corridor-dlq-replayer",
            )
        )
        await producer.start()  # initialises the transactional id: fences an older replayer
    try:
        replayed_before = await read_replayed(bootstrap_servers)
        letters = await read_dead_letters(
            bootstrap_servers, progress=progress("reading the dead letters") if progress else None
        )
        matching = [letter for letter in letters if filt.matches(letter)]
        report = ReplayReport(
            matched=[m for m in matching if m.position not in replayed_before],
            already=[m for m in matching if m.position in replayed_before],
        )
        todo = []
        targets = await topic_partitions(
            bootstrap_servers, sorted({m.original_topic for m in report.matched if m.original_topic})
        )
        for letter in report.matched:
            topic, partition = letter.original_topic, letter.original_partition
            if topic is None or partition is None:
                report.skipped.append((letter, "no dlq_original_topic / dlq_original_partition header"))
            elif topic not in targets:
                report.skipped.append((letter, f"topic {topic} does not exist"))
            elif partition >= targets[topic]:
                report.skipped.append((letter, f"{topic} has no partition {partition}"))
            else:
                todo.append(letter)
        if dry_run or not todo:
            return report
        assert producer is not None
        shown = progress("replaying") if progress else None
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            futures: list[tuple[DeadLetter, Any]] = []
            async with producer.transaction():
                for letter in chunk:
                    assert letter.original_topic is not None and letter.original_partition is not None
                    future = await producer.send(
                        letter.original_topic,
                        value=letter.value,
                        key=letter.key,
                        headers=letter.replay_headers(),
                        partition=letter.original_partition,
                    )
                    marker = {
                        "replayed_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                        "topic": letter.original_topic,
                        "partition": letter.original_partition,
                        "event_id": letter.event_id,
                    }
                    await producer.send(
                        MARKER_TOPIC,
                        key=letter.position.encode(),
                        value=json.dumps(marker).encode(),
                        partition=0,
                    )
                    futures.append((letter, future))
            for letter, future in futures:
                meta: RecordMetadata = await future
                report.replayed.append(Replayed(letter, meta.topic, meta.partition, meta.offset))
            if shown is not None:
                shown.update(len(report.replayed), len(todo))
        if shown is not None:
            shown.finish(f"{len(report.replayed)} replayed")
        return report
    finally:
        if producer is not None:
            await producer.stop()
