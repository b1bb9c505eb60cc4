"""Consumer-group lag from the broker's point of view: committed offsets against the end of each
partition. Unlike ``corridor_consumer_lag`` (which a running consumer reports from its position), this
works while the group's members are stopped — which is when lag grows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from corridor.core.kafka import client_security
from corridor.ops.kafka_io import reader


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed here
    end: int
    lag: int

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed": self.committed,
            "end": self.end,
            "lag": self.lag,
        }


async def group_lag(
    bootstrap_servers: str, group: str, topics: tuple[str, ...] | None = None
) -> list[PartitionLag]:
    """Lag of ``group`` on every partition it committed on (restricted to ``topics`` when given; then
    partitions of those topics without a commit count from their beginning)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ops"
    )
    await admin.start()
    try:
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
        ends = await consumer.end_offsets(list(tps))
        begins = await consumer.beginning_offsets(list(tps))
    out = []
    for tp in sorted(tps):
        done = committed.get(tp)
        out.append(
            PartitionLag(
                tp.topic,
                tp.partition,
                done,
                ends[tp],
                max(0, ends[tp] - (done if done is not None else begins[tp])),
            )
        )
    return out
