"""The live feed of the dashboard: every record appended to the trade topics and the dead-letter topic,
as metadata (``corridor tail``, a command, is ``corridor.ops.tail``).

One consumer without a group, assigned to every partition of the watched topics. At startup it starts
a few records before the end of each trade partition (so the stream is not empty) and further back on
the dead-letter topic (to count reasons). For each record it keeps the CloudEvents attributes and
where the record is — never the payload, which the page asks for on click — in a ring buffer, hands
it to the SSE subscribers, and tells the latency tracker when the event was published.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from corridor.core.kafka import client_security
from corridor.core.logging import get_logger
from corridor.monitor.latency import SOURCE_HEADER, SOURCE_OBSERVED, LatencyTracker, published_ms
from corridor.monitor.stats import ReasonCounter

log = get_logger("corridor.monitor.live")

#: Headers the ledger puts on a dead letter (services/ledger/deadletter.py; the names are the contract).
DLQ_HEADERS = {
    "dlq_original_topic": "original_topic",
    "dlq_original_partition": "original_partition",
    "dlq_original_offset": "original_offset",
    "dlq_error_class": "error_class",
    "dlq_reason": "reason",
    "dlq_attempts": "attempts",
    "dlq_first_seen": "first_seen",
    "dlq_consumer_group": "consumer_group",
}
_CE_HEADERS = {
    "ce_id": "event_id",
    "ce_type": "full_type",
    "ce_source": "source",
    "ce_subject": "subject",
    "ce_time": "time",
}
SUBSCRIBER_QUEUE = 1000

Item = dict[str, Any]


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8", "replace") if value is not None else None


def schema_id_of(value: bytes | None) -> int | None:
    """The schema id of a Confluent-framed value (magic byte 0 + 4 bytes), without decoding it."""
    if value is None or len(value) < 5 or value[0] != 0:
        return None
    return int.from_bytes(value[1:5], "big")


def describe(record: ConsumerRecord[bytes, bytes], *, seq: int, observed_ms: int, live: bool) -> Item:
    """A record's metadata as the page shows it (no payload)."""
    headers = {k: _text(v) for k, v in record.headers or ()}
    item: Item = {
        "seq": seq,
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": _text(record.key),
        "timestamp_ms": record.timestamp,
        "observed_ms": observed_ms,
        "live": live,
        "size": len(record.value) if record.value is not None else 0,
        "schema_id": schema_id_of(record.value),
    }
    for header, name in _CE_HEADERS.items():
        item[name] = headers.get(header)
    full_type = item["full_type"] or ""
    item["type"] = full_type.rsplit(".", 1)[-1] if full_type else None
    for header, name in DLQ_HEADERS.items():
        if header in headers:
            item[name] = headers[header]
    return item


class LiveFeed:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        trade_topics: Iterable[str],
        dlq_topic: str,
        latency: LatencyTracker,
        recent: int = 200,
        backlog_per_partition: int = 5,
        dlq_scan_per_partition: int = 20_000,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.trade_topics = tuple(trade_topics)
        self.dlq_topic = dlq_topic
        self.latency = latency
        self.backlog = backlog_per_partition
        self.dlq_scan = dlq_scan_per_partition
        self.clock_ms = clock_ms
        self.recent: deque[Item] = deque(maxlen=recent)
        self.recent_dlq: deque[Item] = deque(maxlen=50)
        self.reasons = ReasonCounter()
        self.dlq_by_topic: Counter[str] = Counter()
        self.seen = 0
        self._seq = 0
        self._live_from: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._assigned: set[TopicPartition] = set()
        self._assign_lock = asyncio.Lock()
        self._subscribers: set[asyncio.Queue[Item]] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def watched(self) -> tuple[str, ...]:
        return (*self.trade_topics, self.dlq_topic)

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            **client_security(),
            client_id="corridor-monitor-tail",
            enable_auto_commit=False,
            auto_offset_reset="latest",
            isolation_level="read_committed",
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=1_100_000,
        )
        await consumer.start()
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name="monitor-tail")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None

    # -- assignment -------------------------------------------------------------------------------------

    async def sync(
        self,
        partitions: dict[str, list[int]],
        begin: dict[tuple[str, int], int],
        end: dict[tuple[str, int], int],
    ) -> None:
        """Follow every partition of the watched topics that exists now (topics appear: the DLQ is
        created by the ledger). New partitions start a little before their end offset."""
        consumer = self._consumer
        if consumer is None:
            return
        wanted = {TopicPartition(t, p) for t in self.watched for p in partitions.get(t, ())}
        async with self._assign_lock:
            new = wanted - self._assigned
            if not new and wanted == self._assigned:
                return
            positions = {}
            for tp in self._assigned & wanted:
                with contextlib.suppress(Exception):
                    positions[tp] = await consumer.position(tp)
            consumer.assign(sorted(wanted))
            for tp in wanted:
                key = (tp.topic, tp.partition)
                if tp in positions:
                    consumer.seek(tp, positions[tp])
                    continue
                first, last = begin.get(key, 0), end.get(key, 0)
                back = self.dlq_scan if tp.topic == self.dlq_topic else self.backlog
                consumer.seek(tp, max(first, last - back))
                self._live_from[tp] = last
            self._assigned = wanted

    # -- consuming ------------------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while True:
            if not self._assigned:
                await asyncio.sleep(0.2)
                continue
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away: the consumer reconnects by itself
                log.warning("tail_fetch_failed", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)
                continue
            now = self.clock_ms()
            items = []
            for tp, records in batches.items():
                live_from = self._live_from.get(tp, 0)
                for record in records:
                    items.append(self.ingest(record, observed_ms=now, live=record.offset >= live_from))
            items.sort(key=lambda i: (i["observed_ms"], i["timestamp_ms"]))
            for item in items:
                self._publish(item)

    def ingest(self, record: ConsumerRecord[bytes, bytes], *, observed_ms: int, live: bool) -> Item:
        """Account for one record (kept separate from the loop so tests can feed records)."""
        self._seq += 1
        self.seen += 1
        item = describe(record, seq=self._seq, observed_ms=observed_ms, live=live)
        if record.topic == self.dlq_topic:
            item["kind"] = "dlq"
            self.reasons.add(item.get("error_class"), item.get("reason"))
            self.dlq_by_topic[item.get("original_topic") or "unknown"] += 1
            self.recent_dlq.append(item)
        else:
            item["kind"] = "event"
            self.recent.append(item)
            event_id = item.get("event_id")
            if event_id:
                header_ms = published_ms(record.headers)
                if header_ms is not None:
                    self.latency.published(event_id, header_ms, SOURCE_HEADER)
                elif live:
                    self.latency.published(event_id, observed_ms, SOURCE_OBSERVED)
        return item

    # -- subscribers (SSE) --------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[Item]:
        queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Item]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _publish(self, item: Item) -> None:
        for queue in self._subscribers:
            with contextlib.suppress(asyncio.QueueFull):  # a reader that fell behind misses some
                queue.put_nowait(item)
