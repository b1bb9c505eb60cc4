"""What the monitor asks Kafka: topics and their offsets, consumer groups and their commits, one record.

Read-only: an admin client (metadata, groups, committed offsets) and three consumers without a group
(log start / end offsets; fetching the record a person clicked; read_committed, for last stable offsets
and telling transaction markers from records). Nothing here joins a group or
commits, so watching never changes what it watches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import (
    DescribeGroupsRequest_v0,
    DescribeGroupsRequest_v1,
    DescribeGroupsRequest_v2,
)
from aiokafka.protocol.api import Request
from aiokafka.structs import ConsumerRecord

from corridor.core.kafka import client_security
from corridor.core.kafka_read import readable_offsets

T = TypeVar("T")

#: Topic metadata is re-read this often (new topics, added partitions).
METADATA_TTL_S = 10.0
#: Seconds one topic's offsets may take (a deleted topic is retried by aiokafka until its timeout).
OFFSETS_TIMEOUT_S = 3.0
#: Committed offsets of this many groups are fetched at once.
GROUP_CONCURRENCY = 16


_UP_TO_V2 = DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2


class _DescribeGroups(Request[_UP_TO_V2]):  # type: ignore[misc]
    """DescribeGroups capped at v2: aiokafka 0.14 decodes a v3 answer with the v2 layout (it lacks
    ``authorized_operations``), which breaks on a second group and drops the connection."""

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: Any) -> Any:
        return request_struct_class(self._groups)


@dataclass
class GroupInfo:
    group_id: str
    protocol_type: str
    state: str = "Unknown"
    members: int = 0
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    error: str | None = None
    #: Offsets between the committed offset and the end that hold no record a read_committed consumer
    #: gets (transaction markers, aborted records): not lag (``Monitor._count_markers``).
    not_records: dict[tuple[str, int], int] = field(default_factory=dict)


def _tp_key(tp: TopicPartition) -> tuple[str, int]:
    return (tp.topic, tp.partition)


class KafkaSource:
    def __init__(self, bootstrap_servers: str, *, client_id: str = "corridor-monitor") -> None:
        self.bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._fetcher: AIOKafkaConsumer | None = None
        self._fetch_lock = asyncio.Lock()
        self._committed: AIOKafkaConsumer | None = None  # read_committed: last stable offsets, markers
        self._committed_lock = asyncio.Lock()
        self._partitions: dict[str, list[int]] = {}
        self._partitions_at = 0.0
        self._coordinators: dict[str, int] = {}

    async def start(self) -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, **client_security(), client_id=self._client_id
        )
        offsets = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            **client_security(),
            client_id=f"{self._client_id}-offsets",
            enable_auto_commit=False,
            request_timeout_ms=10_000,
        )
        fetcher = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            **client_security(),
            client_id=f"{self._client_id}-fetch",
            enable_auto_commit=False,
            auto_offset_reset="none",
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=1_100_000,
        )
        committed = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            **client_security(),
            client_id=f"{self._client_id}-committed",
            enable_auto_commit=False,
            isolation_level="read_committed",
            request_timeout_ms=10_000,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        try:
            await admin.start()
            await offsets.start()
            await fetcher.start()
            await committed.start()
        except BaseException:
            await _close_quietly(admin, offsets, fetcher, committed)
            raise
        self._admin, self._offsets, self._fetcher = admin, offsets, fetcher
        self._committed = committed

    async def stop(self) -> None:
        admin, offsets, fetcher, committed = self._admin, self._offsets, self._fetcher, self._committed
        self._admin = self._offsets = self._fetcher = self._committed = None
        await _close_quietly(admin, offsets, fetcher, committed)

    @property
    def started(self) -> bool:
        return self._admin is not None

    def _require(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer, AIOKafkaConsumer]:
        if self._admin is None or self._offsets is None or self._fetcher is None:
            raise RuntimeError("the Kafka source is not started")
        return self._admin, self._offsets, self._fetcher

    # -- topics -------------------------------------------------------------------------------------

    async def partitions(self, *, refresh: bool = False) -> dict[str, list[int]]:
        """Partitions of every topic but Kafka's internal ones (``__…``), re-read every 10 s."""
        admin, _, _ = self._require()
        if refresh or not self._partitions or time.monotonic() - self._partitions_at > METADATA_TTL_S:
            names = [t for t in await admin.list_topics() if not t.startswith("__")]
            described = await admin.describe_topics(names) if names else []
            found: dict[str, list[int]] = {}
            for topic in described:
                if topic.get("error_code"):
                    continue  # being created or deleted: next time
                found[topic["topic"]] = sorted(p["partition"] for p in topic["partitions"])
            self._partitions = dict(sorted(found.items()))
            self._partitions_at = time.monotonic()
        return self._partitions

    async def offsets(
        self, partitions: dict[str, list[int]]
    ) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        """(log start offsets, end offsets) of the given partitions.

        Topic by topic, each within ``OFFSETS_TIMEOUT_S``: a topic deleted since the metadata was read
        (aiokafka retries it until its request timeout) loses only its own numbers, and the next call
        re-reads the metadata."""
        _, consumer, _ = self._require()

        async def of_topic(tps: list[TopicPartition]) -> tuple[dict[Any, int], dict[Any, int]]:
            begin, end = await asyncio.gather(consumer.beginning_offsets(tps), consumer.end_offsets(tps))
            return begin, end

        answers = await _topic_by_topic(
            of_topic, [TopicPartition(t, p) for t, ps in partitions.items() for p in ps]
        )
        if any(isinstance(answer, BaseException) for answer in answers):
            self._partitions_at = 0.0  # re-read the topics next time
        begin_all: dict[tuple[str, int], int] = {}
        end_all: dict[tuple[str, int], int] = {}
        for answer in answers:
            if not isinstance(answer, BaseException):
                begin, end = answer
                begin_all.update({_tp_key(tp): o for tp, o in begin.items()})
                end_all.update({_tp_key(tp): o for tp, o in end.items()})
        if partitions and not end_all:
            raise RuntimeError("no topic answered with its offsets")
        return begin_all, end_all

    async def stable_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Last stable offsets (how far a read_committed consumer reads) of ``tps``, topic by topic as
        ``offsets``; a topic that did not answer in time is left out."""
        consumer = self._require_committed()

        async def of_topic(parts: list[TopicPartition]) -> dict[TopicPartition, int]:
            stable: dict[TopicPartition, int] = await consumer.end_offsets(parts)
            return stable

        found: dict[TopicPartition, int] = {}
        for answer in await _topic_by_topic(of_topic, tps):
            if not isinstance(answer, BaseException):
                found.update(answer)
        return found

    async def readable(
        self, spans: dict[TopicPartition, tuple[int, int]], timeout_s: float
    ) -> tuple[dict[TopicPartition, list[int]], set[TopicPartition]]:
        """``corridor.core.kafka_read.readable_offsets`` on this source's read_committed consumer (kept
        between samples: its metadata is warm), which is left with nothing assigned afterwards."""
        consumer = self._require_committed()
        async with self._committed_lock:
            try:
                return await readable_offsets(consumer, spans, timeout_s)
            finally:
                consumer.unsubscribe()

    def _require_committed(self) -> AIOKafkaConsumer:
        if self._committed is None:
            raise RuntimeError("the Kafka source is not started")
        return self._committed

    # -- consumer groups -------------------------------------------------------------------------------

    async def groups(self) -> list[GroupInfo]:
        """Every consumer group with its state, member count and committed offsets."""
        admin, _, _ = self._require()
        listed = await admin.list_consumer_groups()
        groups = {g[0]: GroupInfo(g[0], g[1] if len(g) > 1 else "") for g in listed}
        for gone in set(self._coordinators) - groups.keys():
            del self._coordinators[gone]
        semaphore = asyncio.Semaphore(GROUP_CONCURRENCY)

        async def coordinator(group_id: str) -> None:
            if group_id not in self._coordinators:
                async with semaphore:
                    self._coordinators[group_id] = await admin.find_coordinator(group_id)

        await asyncio.gather(*(coordinator(g) for g in groups), return_exceptions=True)
        by_node: dict[int, list[str]] = {}
        for group_id in groups:
            node = self._coordinators.get(group_id)
            if node is not None:
                by_node.setdefault(node, []).append(group_id)
        described = await asyncio.gather(
            *(admin._send_request(_DescribeGroups(ids), node) for node, ids in by_node.items()),
            return_exceptions=True,
        )
        for response in described:
            if isinstance(response, BaseException):
                continue
            for entry in response.to_object().get("groups", ()):
                info = groups.get(entry["group"])
                if info is not None and not entry["error_code"]:
                    info.state = entry["state"] or "Unknown"
                    info.members = len(entry.get("members") or ())

        async def committed(info: GroupInfo) -> None:
            async with semaphore:
                try:
                    offsets = await admin.list_consumer_group_offsets(
                        info.group_id, group_coordinator_id=self._coordinators.get(info.group_id)
                    )
                except Exception as exc:  # a group being deleted, a coordinator moving
                    self._coordinators.pop(info.group_id, None)
                    info.error = f"{type(exc).__name__}: {exc}"
                    return
                info.committed = {_tp_key(tp): meta.offset for tp, meta in offsets.items()}

        await asyncio.gather(*(committed(info) for info in groups.values()))
        return sorted(groups.values(), key=lambda g: g.group_id)

    # -- one record ----------------------------------------------------------------------------------

    async def fetch(
        self, topic: str, partition: int, offset: int, timeout_s: float = 5.0
    ) -> ConsumerRecord[Any, Any]:
        """The record at ``topic``/``partition``@``offset`` (LookupError if it is not in the log)."""
        _, _, fetcher = self._require()
        tp = TopicPartition(topic, partition)
        known = (await self.partitions()).get(topic)
        if known is None or partition not in known:
            known = (await self.partitions(refresh=True)).get(topic)
            if known is None or partition not in known:
                raise LookupError(f"no partition {topic}/{partition}")
        async with self._fetch_lock:
            begin = (await fetcher.beginning_offsets([tp]))[tp]
            end = (await fetcher.end_offsets([tp]))[tp]
            if not begin <= offset < end:
                raise LookupError(
                    f"offset {offset} of {topic}/{partition} is outside the log [{begin}, {end})"
                )
            fetcher.assign([tp])
            fetcher.seek(tp, offset)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                batch = await fetcher.getmany(tp, timeout_ms=500, max_records=10)
                for record in batch.get(tp, ()):
                    if record.offset == offset:
                        return record
                    if record.offset > offset:  # the record is gone (a transaction marker, compaction)
                        raise LookupError(f"no record at {topic}/{partition}@{offset}")
            raise LookupError(f"{topic}/{partition}@{offset} could not be read within {timeout_s:.0f}s")


async def _topic_by_topic(
    request: Callable[[list[TopicPartition]], Awaitable[T]], tps: list[TopicPartition]
) -> list[T | BaseException]:
    """``request`` for each topic's partitions, all at once, each within ``OFFSETS_TIMEOUT_S``: a topic
    deleted since the metadata was read (aiokafka retries it until its request timeout) fails alone."""
    by_topic: dict[str, list[TopicPartition]] = {}
    for tp in tps:
        by_topic.setdefault(tp.topic, []).append(tp)
    answers = await asyncio.gather(
        *(asyncio.wait_for(request(parts), OFFSETS_TIMEOUT_S) for parts in by_topic.values()),
        return_exceptions=True,
    )
    for answer in answers:
        if isinstance(answer, asyncio.CancelledError):
            raise answer
    return answers


async def _close_quietly(*clients: Any) -> None:
    for client in clients:
        if client is None:
            continue
        try:
            if isinstance(client, AIOKafkaAdminClient):
                await client.close()
            else:
                await client.stop()
        except asyncio.CancelledError:
            # aiokafka re-raises the cancellation of a helper task that never ran (a consumer stopped
            # right after it started); only a cancellation of this task itself must go on
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        except Exception:  # stopping what failed to start
            pass
