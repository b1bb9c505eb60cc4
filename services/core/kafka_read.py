"""Reading partitions as a ``read_committed`` consumer without a group: what ``corridor lag`` and the
monitor need to tell records from transaction markers (a marker takes an offset but is no record, so
it is no lag). Commits nothing; shared by the tools and the dashboard."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition

from corridor.core.kafka import client_security

#: Most records one read fetches per partition.
COUNT_LIMIT = 10_000


@asynccontextmanager
async def reader(bootstrap_servers: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer without a group (assigns partitions itself, commits nothing), read_committed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        **client_security(),
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="corridor-ops",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def readable_offsets(
    consumer: AIOKafkaConsumer, spans: dict[TopicPartition, tuple[int, int]], timeout_s: float = 10.0
) -> tuple[dict[TopicPartition, list[int]], set[TopicPartition]]:
    """For each partition, the offsets in [start, end) of the records a read_committed consumer gets
    (transaction markers and aborted records have offsets but are not among them), all partitions in
    one read; and the partitions not read to their end within ``timeout_s``."""
    found: dict[TopicPartition, list[int]] = {tp: [] for tp in spans}
    todo = {tp for tp, (start, end) in spans.items() if end > start}
    if not todo:
        return found, set()
    consumer.assign(sorted(todo))
    for tp in todo:
        consumer.seek(tp, spans[tp][0])
    # the whole read is bounded, not only the polls: a partition whose position must be looked up again
    # (its topic deleted meanwhile, its leader gone) would otherwise hold the caller for a request timeout
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while todo:
                batches = await consumer.getmany(*todo, timeout_ms=200, max_records=COUNT_LIMIT)
                for tp, records in batches.items():
                    found[tp] += [r.offset for r in records if r.offset < spans[tp][1]]
                for tp in list(todo):
                    if await consumer.position(tp) >= spans[tp][1]:
                        todo.discard(tp)
    return found, todo


async def count_readable(
    consumer: AIOKafkaConsumer, spans: dict[TopicPartition, tuple[int, int]], timeout_s: float = 10.0
) -> dict[TopicPartition, int]:
    """For each partition, how many records a read_committed consumer gets in [start, end). A partition
    not read to its end within ``timeout_s`` counts what was read plus the offsets left (an upper
    bound)."""
    found, unfinished = await readable_offsets(consumer, spans, timeout_s)
    counts = {tp: len(offsets) for tp, offsets in found.items()}
    for tp in unfinished:
        read_to = (found[tp][-1] + 1) if found[tp] else spans[tp][0]
        counts[tp] += max(0, spans[tp][1] - read_to)
    return counts
