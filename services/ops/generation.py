"""Copying topics to a new generation with more partitions (``corridor generation copy`` and
``relay-state``, ADR 0040).

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

Offsets are new in the destination: whatever refers to a source offset is rebuilt or translated, never
copied (docs/operations.md, "More partitions"). :func:`translate_relay_state` translates the relay's
state: a reference ``(0, offset)`` within the trade's old accepted partition becomes, through the
event's ``ce_id``, the offset of the same event in the trade's new partition; it refuses a relay group
that has not relayed the old stream to its end and commits the group at the new stream's end, so the
relay relays nothing twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from corridor.core.kafka import client_security, new_topic, producer_config
from corridor.core.kafka_read import reader
from corridor.core.topics import (
    TRADE_TOPICS,
    TopicSpec,
    check_co_partitioned,
    generation_name,
    trade_topic_specs,
)

__all__ = [
    "CopyReport",
    "GenerationError",
    "StateReport",
    "commit_group_offsets",
    "copy_generation",
    "generation_name",
    "translate_relay_state",
]

_TOPIC_ALREADY_EXISTS = 36
_BATCH = 2000
#: Empty one-second polls in a row before a copy gives up on a partition not read to its end.
_IDLE_POLLS = 30


class GenerationError(RuntimeError):
    """The copy cannot start or did not complete; the message names the topic and the reason."""



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
        new.append(
            new_topic(TopicSpec(destination, partitions, dict(configs.get(source, template))), brokers)
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


# -- the relay's state -------------------------------------------------------------------------------------


@dataclass
class StateReport:
    """What a relay-state translation did."""

    trades: int = 0  # state records written to the new state topic
    refs: int = 0  # event references translated
    deleted: int = 0  # trades whose last state record was a tombstone (not carried over)
    group_offsets: dict[int, int] = field(default_factory=dict)  # new accepted partition → committed

    def to_json(self) -> dict[str, Any]:
        return {
            "trades": self.trades,
            "refs": self.refs,
            "deleted": self.deleted,
            "group_offsets": {str(p): o for p, o in sorted(self.group_offsets.items())},
        }


async def translate_relay_state(
    bootstrap_servers: str,
    *,
    accepted: tuple[str, str],
    state: tuple[str, str],
    group: str,
    say: Callable[[str], None] = lambda _message: None,
) -> StateReport:
    """Carry the relay's state from one generation of the accepted stream to the next (ADR 40).

    ``accepted``: (old, new) accepted topics, the new one a :func:`copy_generation` of the old;
    ``state``: (old, new) state topics, the new one created here with the new stream's count (or empty).
    A reference ``(0, offset)`` of a trade's old state is the event with that offset in the old stream's
    partition of the trade; it becomes the offset of the same ``ce_id`` in the new stream's partition of
    the trade. The relay group ``group`` must have relayed the whole old stream (committed offsets at
    its end, the relay stopped): its offsets on the new stream are then committed at the new stream's
    end, so the relay started on the new generation relays nothing twice."""
    from corridor.relay.state import decode_ids, decode_route, encode_route

    report = StateReport()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ops-generation"
    )
    await admin.start()
    try:
        counts = await _partition_counts(admin, [accepted[0], accepted[1], state[0]])
        for topic in (accepted[0], accepted[1], state[0]):
            if not counts.get(topic):
                raise GenerationError(f"topic missing: {topic}")
        old_n, new_n = counts[accepted[0]], counts[accepted[1]]
        committed = await admin.list_consumer_group_offsets(
            group, partitions=[TopicPartition(accepted[0], p) for p in range(old_n)]
        )
        await _prepare_destinations(
            bootstrap_servers, admin, [(state[0], state[1])], new_n, {state[0]: _state_configs()}
        )
    finally:
        await admin.close()
    async with reader(bootstrap_servers) as consumer:
        old_tps = [TopicPartition(accepted[0], p) for p in range(old_n)]
        old_ends = await consumer.end_offsets(old_tps)
        at = {tp: committed[tp].offset if tp in committed else -1 for tp in old_tps}
        behind = [
            f"{tp.topic}[{tp.partition}] at {at[tp]} of {old_ends[tp]}"
            for tp in old_tps
            if old_ends[tp] and at[tp] < old_ends[tp]
        ]
        if behind:
            raise GenerationError(
                f"relay group {group} has not relayed the old stream to its end: {', '.join(behind)} "
                "(let the relay drain, then stop it)"
            )
        old_ids: dict[tuple[int, int], str] = {}
        for record in await _every_record(consumer, accepted[0], old_n):
            old_ids[(record.partition, record.offset)] = _ce_id(record)
        new_refs: dict[str, tuple[int, int]] = {}
        for record in await _every_record(consumer, accepted[1], new_n):
            new_refs[_ce_id(record)] = (record.partition, record.offset)
        latest: dict[bytes, tuple[int, bytes | None]] = {}
        for record in await _every_record(consumer, state[0], counts[state[0]]):
            if record.key is not None:
                latest[record.key] = (record.partition, record.value)
        new_ends = await consumer.end_offsets([TopicPartition(accepted[1], p) for p in range(new_n)])
    producer = AIOKafkaProducer(**producer_config(bootstrap_servers, client_id="corridor-ops-generation"))
    await producer.start()
    try:
        for key, (old_partition, value) in sorted(latest.items()):
            if value is None:
                report.deleted += 1
                continue
            route = decode_route(value)
            target = int(_partition_of(key, new_n))
            events = []
            for index, offset in route.events:
                event_id = old_ids.get((old_partition, offset))
                if event_id is None:
                    raise GenerationError(
                        f"trade {key.decode()}: its state refers to offset {offset} of "
                        f"{accepted[0]}[{old_partition}], which holds no committed record"
                    )
                found = new_refs.get(event_id)
                if found is None or found[0] != target:
                    raise GenerationError(
                        f"trade {key.decode()}: event {event_id} is not in {accepted[1]}[{target}] "
                        "(copy the accepted stream with `corridor generation copy` first)"
                    )
                events.append((index, found[1]))
            translated = dataclasses.replace(route, events=tuple(events))
            await producer.send(
                state[1], key=key, value=encode_route(translated, decode_ids(value)), partition=target
            )
            report.trades += 1
            report.refs += len(events)
        await producer.flush()
    finally:
        await producer.stop()
    report.group_offsets = {tp.partition: n for tp, n in new_ends.items()}
    await commit_group_offsets(bootstrap_servers, group, new_ends)
    say(
        f"relay state: {report.trades:,} trade(s), {report.refs:,} reference(s) moved to {state[1]}; group "
        f"{group} committed at the end of {accepted[1]}"
    )
    return report


def _state_configs() -> dict[str, str]:
    from corridor.relay.state import STATE_TOPIC_CONFIGS

    return dict(STATE_TOPIC_CONFIGS)


def _ce_id(record: Any) -> str:
    for name, value in record.headers:
        if name == "ce_id":
            return bytes(value).decode()
    raise GenerationError(f"{record.topic}[{record.partition}]@{record.offset} has no ce_id header")


def _partition_of(key: bytes, partitions: int) -> int:
    from corridor.ops.kafka_io import partition_for_key

    return partition_for_key(key, partitions)


async def _every_record(consumer: Any, topic: str, partitions: int) -> list[Any]:
    """Every committed record of ``topic`` up to its current end, partition by partition."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    ends = await consumer.end_offsets(tps)
    todo = [tp for tp in tps if ends[tp] > 0]
    if not todo:
        return []
    consumer.assign(todo)
    await consumer.seek_to_beginning(*todo)
    found: list[Any] = []
    idle = 0
    while True:
        behind = [tp for tp in todo if await consumer.position(tp) < ends[tp]]
        if not behind:
            return found
        batch = await consumer.getmany(*behind, timeout_ms=1000, max_records=_BATCH)
        idle = 0 if batch else idle + 1
        if idle >= _IDLE_POLLS:
            raise GenerationError(f"{topic} not read to its end: no records for {_IDLE_POLLS} s")
        for tp, records in batch.items():
            found.extend(r for r in records if r.offset < ends[tp])


async def commit_group_offsets(
    bootstrap_servers: str, group: str, offsets: Mapping[TopicPartition, int]
) -> None:
    """Commit ``offsets`` for ``group`` (which must have no running member)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import OffsetAndMetadata

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, **client_security(), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(n, "") for tp, n in offsets.items()})
    finally:
        await consumer.stop()
