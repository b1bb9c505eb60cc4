"""Consumer-group lag from the broker's point of view: committed offsets against the end of each
partition. Unlike ``corridor_consumer_lag`` (which a running consumer reports from its position), this
works while the group's members are stopped — which is when lag grows.

Lag is the number of records the group can still read, as a ``read_committed`` consumer reads them
(every Corridor consumer is one). The end is the partition's last stable offset, and offsets are not
records: a Kafka transaction's commit (or abort) marker takes an offset of its own, and an aborted
transaction's records are never delivered. So a partition the relay writes in transactions ends one
offset past its last record after every commit, and "end − committed" would show a lag of 1 for ever.
Where end − committed is small (``COUNT_LIMIT``) the records in between are read and counted; above
it the offset difference is reported (markers are then a rounding error) and the row says so
(``counted: false``).

An unknown group is an error naming the groups that exist (the nearest first), never "0 behind".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from corridor.core.kafka import client_security
from corridor.core.kafka_read import COUNT_LIMIT, count_readable, reader

#: Largest offset span read record by record to count what is readable (markers excluded).


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed here
    end: int  # the last stable offset (what a read_committed consumer reads up to)
    lag: int  # records still readable between committed and end
    counted: bool = True  # False: the lag is the offset difference (span over COUNT_LIMIT)

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed": self.committed,
            "end": self.end,
            "lag": self.lag,
            "counted": self.counted,
        }


class UnknownGroup(LookupError):
    """The broker has no consumer group of that name."""


async def consumer_groups(bootstrap_servers: str) -> list[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ops"
    )
    await admin.start()
    try:
        return sorted(str(g[0]) for g in await admin.list_consumer_groups())
    finally:
        await admin.close()


def unknown_group_message(group: str, known: list[str]) -> str:
    nearest = difflib.get_close_matches(group, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(nearest)}?" if nearest else ""
    listed = ", ".join(known[:20]) + (f" … ({len(known)} in all)" if len(known) > 20 else "")
    return f"no consumer group {group!r} on this cluster{hint} Groups: {listed or '(none)'}"


async def group_lag(
    bootstrap_servers: str, group: str, topics: tuple[str, ...] | None = None
) -> list[PartitionLag]:
    """Lag of ``group`` on every partition it committed on (restricted to ``topics`` when given; then
    partitions of those topics without a commit count from their beginning). ``UnknownGroup`` when the
    broker does not know the group."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ops"
    )
    await admin.start()
    try:
        known = sorted(str(g[0]) for g in await admin.list_consumer_groups())
        if group not in known:
            raise UnknownGroup(unknown_group_message(group, known))
        offsets = await admin.list_consumer_group_offsets(group)
        described = await admin.describe_topics(list(topics)) if topics else []
    finally:
        await admin.close()
    committed = {
        tp: meta.offset for tp, meta in offsets.items() if meta.offset is not None and meta.offset >= 0
    }
    tps = {tp for tp in committed if topics is None or tp.topic in topics}
    for topic in described:
        if not topic.get("error_code"):
            tps |= {TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]}
    if not tps:
        return []
    async with reader(bootstrap_servers) as consumer:
        ends = await consumer.end_offsets(list(tps))  # read_committed: the last stable offsets
        begins = await consumer.beginning_offsets(list(tps))
        starts = {tp: max(begins[tp], committed.get(tp, begins[tp])) for tp in tps}
        spans = {tp: (starts[tp], ends[tp]) for tp in tps if 0 < ends[tp] - starts[tp] <= COUNT_LIMIT}
        counted = await count_readable(consumer, spans)
    out = []
    for tp in sorted(tps):
        exact = tp in counted or ends[tp] <= starts[tp]
        out.append(
            PartitionLag(
                tp.topic,
                tp.partition,
                committed.get(tp),
                ends[tp],
                counted.get(tp, max(0, ends[tp] - starts[tp])),
                exact,
            )
        )
    return out
