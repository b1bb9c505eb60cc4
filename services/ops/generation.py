"""Copying topics to a new generation with more partitions (``corridor generation copy``, ADR 0040).

Kafka cannot add partitions to a keyed topic without moving keys: a trade whose records are in
partition 2 of 6 would find its next ones in partition 14 of 24, read by another ledger, possibly
before the earlier ones. So a deployment moves to more partitions by copying every trade-keyed topic
to a **new generation** — ``<topic>.g<N>`` (:func:`generation_name`; generation 1 is today's name) —
created with the new count, while nothing writes to the sources.

Invariants of :func:`copy_generation`:

* **Each record once.** A destination must be new or empty (a copy that failed halfway is deleted and
  started again, never resumed into a half-filled topic); the sources' ends are fixed when the copy
  starts, and the copy fails when a source grew meanwhile (a producer was still running).
* **Keyed as before, per-trade order kept.** Each record is produced with its own key, value, headers
  and timestamp by an idempotent producer with Kafka's default partitioner (murmur2 on the key, as the
  gateway's producer), so partition ``murmur2(trade id) % N`` of every destination holds the trade,
  its records in source-offset order (one trade is in one source partition, read in offset order, and
  an idempotent producer keeps send order per partition).
* **Only committed records.** Sources are read ``read_committed``: aborted transactions are not copied.

Offsets are new in the destination: whatever refers to a source offset (the ledger's stored positions,
the relay's state topic) is rebuilt from the copy, never carried over (docs/operations.md, "More
partitions").
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from corridor.core.kafka import client_security, producer_config
from corridor.core.kafka_read import reader
from corridor.core.topics import TRADE_TOPICS, TopicSpec, check_co_partitioned, trade_topic_specs

__all__ = [
    "CopyReport",
    "GenerationError",
    "copy_generation",
    "generation_name",
]

_GENERATION = re.compile(r"^(?P<base>.+)\.g(?P<n>[0-9]{1,4})$")
_TOPIC_ALREADY_EXISTS = 36
_BATCH = 2000
#: Empty one-second polls in a row before a copy gives up on a partition not read to its end.
_IDLE_POLLS = 30


class GenerationError(RuntimeError):
    """The copy cannot start or did not complete; the message names the topic and the reason."""


def generation_name(topic: str, generation: int) -> str:
    """``trade.orders.v1`` in generation ``n``: itself for 1, ``trade.orders.v1.g<n>`` after (the
    generation of a generation's name is replaced, not stacked)."""
    if not 1 <= generation <= 9999:
        raise ValueError(f"generation {generation}: must be from 1 to 9999")
    found = _GENERATION.match(topic)
    base = found["base"] if found else topic
    return base if generation == 1 else f"{base}.g{generation}"


@dataclass
class CopyReport:
    """What one copy did: per destination, records read and written, and partitions."""

    partitions: int
    pairs: list[tuple[str, str]]
    copied: dict[str, int] = field(default_factory=dict)  # destination → records written
    unkeyed: dict[str, int] = field(default_factory=dict)  # destination → records without a key
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "partitions": self.partitions,
            "topics": [
                {"from": s, "to": d, "records": self.copied.get(d, 0), "unkeyed": self.unkeyed.get(d, 0)}
                for s, d in self.pairs
            ],
            "seconds": round(self.seconds, 3),
        }


def default_pairs(generation: int) -> list[tuple[str, str]]:
    """The trade topics to their generation ``generation``: what the ledger of the new generation
    rebuilds from (its retry, dead-letter and accepted topics are made anew)."""
    return [(t, generation_name(t, generation)) for t in TRADE_TOPICS]


async def copy_generation(
    bootstrap_servers: str,
    pairs: Sequence[tuple[str, str]],
    partitions: int,
    *,
    configs: Mapping[str, Mapping[str, str]] | None = None,
    say: Callable[[str], None] = lambda _message: None,
) -> CopyReport:
    """Copy each source topic of ``pairs`` into its destination with ``partitions`` partitions.

    ``configs``: a destination's topic configs by source name (default: a trade topic's, which keeps
    records forever). Raises :class:`GenerationError` when a source is missing, the sources are not
    co-partitioned, a destination has records or another count, or a source grew during the copy."""
    if partitions < 1:
        raise GenerationError(f"partitions {partitions}: must be at least 1")
    if not pairs:
        raise GenerationError("nothing to copy")
    sources = [s for s, _ in pairs]
    destinations = [d for _, d in pairs]
    if len(set(destinations)) != len(destinations) or set(sources) & set(destinations):
        raise GenerationError(f"each destination must be new and distinct from the sources: {list(pairs)}")
    started = time.monotonic()
    report = CopyReport(partitions=partitions, pairs=list(pairs))
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ops-generation"
    )
    await admin.start()
    try:
        counts = await _partition_counts(admin, sources)
        missing = [s for s in sources if not counts.get(s)]
        if missing:
            raise GenerationError(f"source topic(s) missing: {', '.join(missing)}")
        check_co_partitioned({s: counts[s] for s in sources})
        await _prepare_destinations(bootstrap_servers, admin, pairs, partitions, configs or {})
    finally:
        await admin.close()
    async with reader(bootstrap_servers) as consumer:
        tps = [TopicPartition(s, p) for s in sources for p in range(counts[s])]
        ends = await consumer.end_offsets(tps)  # read_committed: the last stable offsets
        producer = AIOKafkaProducer(**producer_config(bootstrap_servers, client_id="corridor-ops-generation"))
        await producer.start()
        try:
            for source, destination in pairs:
                mine = [tp for tp in tps if tp.topic == source]
                written, unkeyed = await _copy_topic(consumer, producer, mine, ends, destination)
                report.copied[destination] = written
                report.unkeyed[destination] = unkeyed
                say(f"copied {written:,} record(s) {source} → {destination} ({partitions} partitions)")
            await producer.flush()
        finally:
            await producer.stop()
        grown = {tp: n for tp, n in (await consumer.end_offsets(tps)).items() if n != ends[tp]}
        if grown:
            listed = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(grown))
            raise GenerationError(
                f"source partition(s) grew during the copy (a producer is still running): {listed}; "
                "stop every producer, delete the destinations and copy again"
            )
    await _check_destination_counts(bootstrap_servers, report)
    report.seconds = time.monotonic() - started
    return report


async def _partition_counts(admin: AIOKafkaAdminClient, topics: Sequence[str]) -> dict[str, int]:
    described = await admin.describe_topics(list(topics))
    return {
        t["topic"]: len(t["partitions"]) for t in described if not t.get("error_code") and t.get("partitions")
    }


async def _prepare_destinations(
    bootstrap_servers: str,
    admin: AIOKafkaAdminClient,
    pairs: Sequence[tuple[str, str]],
    partitions: int,
    configs: Mapping[str, Mapping[str, str]],
) -> None:
    """Create the missing destinations; an existing one must have ``partitions`` and no records."""
    existing = set(await admin.list_topics())
    brokers = max(1, len((await admin.describe_cluster())["brokers"]))
    template = trade_topic_specs(partitions)[0].configs
    new = []
    for source, destination in pairs:
        if destination in existing:
            continue
        spec = TopicSpec(destination, partitions, dict(configs.get(source, template)))
        new.append(
            NewTopic(
                destination,
                partitions,
                spec.replication_factor(brokers),
                topic_configs=spec.configs_for(brokers),
            )
        )
    if new:
        response = await admin.create_topics(new)
        for topic, code, *rest in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                raise GenerationError(f"cannot create {topic}: error {code} {rest[0] if rest else ''}")
    destinations = [d for _, d in pairs]
    deadline = time.monotonic() + 30
    while True:  # a topic just created reaches every broker's metadata a moment later
        counts = await _partition_counts(admin, destinations)
        if all(counts.get(d) for d in destinations):
            break
        if time.monotonic() > deadline:
            raise GenerationError(f"destination topics not visible after 30 s: {counts}")
        await asyncio.sleep(0.2)
    wrong = {d: n for d, n in counts.items() if n != partitions}
    if wrong:
        raise GenerationError(f"destination(s) exist with another partition count than {partitions}: {wrong}")
    async with reader(bootstrap_servers) as consumer:
        tps = [TopicPartition(d, p) for d in destinations for p in range(partitions)]
        firsts = await consumer.beginning_offsets(tps)
        lasts = await consumer.end_offsets(tps)
    filled = sorted({tp.topic for tp in tps if lasts[tp] > firsts[tp]})
    if filled:
        raise GenerationError(
            f"destination(s) already hold records: {', '.join(filled)} (a copy is never resumed: delete "
            "them and copy again)"
        )


async def _copy_topic(
    consumer: Any,
    producer: AIOKafkaProducer,
    tps: list[TopicPartition],
    ends: Mapping[TopicPartition, int],
    destination: str,
) -> tuple[int, int]:
    """Every committed record of ``tps`` below ``ends``, in offset order per partition, to
    ``destination`` keyed as before; returns (records written, of which without a key)."""
    todo = [tp for tp in tps if ends[tp] > 0]
    if not todo:
        return 0, 0
    consumer.assign(todo)
    await consumer.seek_to_beginning(*todo)
    remaining = set(todo)
    written = unkeyed = idle = 0
    while remaining:
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
        if not remaining:
            break
        batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=_BATCH)
        idle = 0 if batch else idle + 1
        if idle >= _IDLE_POLLS:
            stuck = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(remaining))
            raise GenerationError(
                f"no records from {stuck} for {_IDLE_POLLS} s before their end: broker down?"
            )
        sends = []
        for tp, records in batch.items():
            for record in records:
                if record.offset >= ends[tp]:
                    continue
                unkeyed += record.key is None
                sends.append(
                    await producer.send(
                        destination,
                        key=record.key,
                        value=record.value,
                        headers=list(record.headers),
                        timestamp_ms=record.timestamp,
                    )
                )
        for delivered in sends:
            await delivered
        written += len(sends)
    return written, unkeyed


async def _check_destination_counts(bootstrap_servers: str, report: CopyReport) -> None:
    """The destinations hold exactly what was written (nothing else wrote to them meanwhile)."""
    async with reader(bootstrap_servers) as consumer:
        for _, destination in report.pairs:
            tps = [TopicPartition(destination, p) for p in range(report.partitions)]
            firsts = await consumer.beginning_offsets(tps)
            lasts = await consumer.end_offsets(tps)
            held = sum(lasts[tp] - firsts[tp] for tp in tps)
            if held != report.copied[destination]:
                raise GenerationError(
                    f"{destination} holds {held} record(s), the copy wrote {report.copied[destination]}: "
                    "something else writes to it"
                )
