"""In-memory fakes of the relay's ports (``ports``), for unit tests of its routing (ADR 0036).

:class:`InMemoryKafka` is the log they share: committed records per (topic, partition) and the
consumer group's committed offsets. A :class:`FakeSlotProducer` keeps what a transaction sends aside
and adds it to the log at ``commit_transaction`` (records and offsets together), drops it at
``abort_transaction``, and is fenced when a newer producer of its transactional id starts, as Kafka
does; :class:`InMemorySlotStore` reads the committed offsets and the state-topic records back with the
relay's own codec (``state.decode_route``). No runtime module imports this one (pyproject.toml).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import ProducerFenced
from aiokafka.structs import ConsumerRecord, TopicPartition

from corridor.core.routing import TradeRoute, partner_topic
from corridor.relay.ports import PartnerTopics, SlotProducer, SlotStore
from corridor.relay.state import SOURCE_TOPICS, Ref, fold_state_record

__all__ = [
    "FakeSlotProducer",
    "InMemoryKafka",
    "InMemoryPartnerTopics",
    "InMemorySlotStore",
    "LoggedRecord",
]


@dataclass(frozen=True)
class LoggedRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int | None

    def header(self, name: str) -> str | None:
        return next((v.decode() for k, v in self.headers if k == name), None)


@dataclass(frozen=True)
class _Metadata:
    topic: str
    partition: int
    offset: int


@dataclass
class InMemoryKafka:
    """Committed records by (topic, partition), and committed offsets by (group, topic partition)."""

    partitions: int = 3
    log: dict[tuple[str, int], list[LoggedRecord]] = field(default_factory=dict)
    offsets: dict[tuple[str, TopicPartition], int] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)  # transactional id -> its newest producer's
    transactions: int = 0
    aborted: int = 0

    def records(self, topic: str) -> list[LoggedRecord]:
        """Every committed record of ``topic``, partition by partition."""
        return [r for (t, _p), records in sorted(self.log.items()) if t == topic for r in records]

    def producer(self, transactional_id: str) -> FakeSlotProducer:
        return FakeSlotProducer(self, transactional_id)


@dataclass
class FakeSlotProducer:
    """``ports.SlotProducer`` over an :class:`InMemoryKafka`. ``fail_next_commit``: the next commit
    raises it (and the transaction is aborted, as a failed commit is)."""

    kafka: InMemoryKafka
    transactional_id: str
    epoch: int = 0
    fail_next_commit: BaseException | None = None
    _records: list[LoggedRecord] | None = None
    _offsets: dict[tuple[str, TopicPartition], int] = field(default_factory=dict)

    async def start(self) -> None:
        self.epoch = self.kafka.epochs.get(self.transactional_id, 0) + 1
        self.kafka.epochs[self.transactional_id] = self.epoch

    async def stop(self) -> None:
        self._records = None

    def _fenced(self) -> None:
        if self.kafka.epochs.get(self.transactional_id) != self.epoch:
            raise ProducerFenced()

    async def begin_transaction(self) -> None:
        self._fenced()
        if self._records is not None:
            raise RuntimeError("a transaction is already open")
        self._records, self._offsets = [], {}

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        self._fenced()
        if self._records is None:
            raise RuntimeError("send outside a transaction")
        if partition is None:
            partition = zlib.crc32(key or b"") % self.kafka.partitions
        # offsets are given at commit; the ack carries where the record will be
        pending = [r for r in self._records if (r.topic, r.partition) == (topic, partition)]
        offset = len(self.kafka.log.get((topic, partition), ())) + len(pending)
        self._records.append(
            LoggedRecord(topic, partition, offset, key, value, tuple(headers or ()), timestamp_ms)
        )
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(_Metadata(topic, partition, offset))
        return future

    async def send_offsets_to_transaction(self, offsets: Mapping[TopicPartition, int], group_id: str) -> None:
        self._fenced()
        self._offsets.update({(group_id, tp): o for tp, o in offsets.items()})

    async def commit_transaction(self) -> None:
        self._fenced()
        if self.fail_next_commit is not None:
            failure, self.fail_next_commit = self.fail_next_commit, None
            await self.abort_transaction()
            raise failure
        for record in self._records or ():
            self.kafka.log.setdefault((record.topic, record.partition), []).append(record)
        self.kafka.offsets.update(self._offsets)
        self.kafka.transactions += 1
        self._records, self._offsets = None, {}

    async def abort_transaction(self) -> None:
        if self._records is not None:
            self.kafka.aborted += 1
        self._records, self._offsets = None, {}


@dataclass
class InMemoryPartnerTopics:
    """``ports.PartnerTopics``: the partner topics "created", in order."""

    created: list[str] = field(default_factory=list)

    async def ensure(self, partner_id: str) -> str:
        topic = partner_topic(partner_id)
        if topic not in self.created:
            self.created.append(topic)
        return topic


@dataclass
class InMemorySlotStore:
    """``ports.SlotStore`` reading an :class:`InMemoryKafka` (committed records only)."""

    kafka: InMemoryKafka
    group_id: str
    state_topic: str

    async def committed_positions(self, partition: int) -> dict[TopicPartition, int]:
        tps = [TopicPartition(topic, partition) for topic in SOURCE_TOPICS]
        return {tp: self.kafka.offsets.get((self.group_id, tp), 0) for tp in tps}

    async def restore(self, partition: int) -> tuple[dict[str, TradeRoute[Ref]], dict[str, frozenset[str]]]:
        routes: dict[str, TradeRoute[Ref]] = {}
        ids: dict[str, frozenset[str]] = {}
        for record in self.kafka.log.get((self.state_topic, partition), ()):
            fold_state_record(routes, ids, record.key, record.value)
        return routes, ids

    async def source_record(self, tp: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
        for r in self.kafka.log.get((tp.topic, tp.partition), ()):
            if r.offset == offset:
                key, value = r.key or b"", r.value or b""
                return ConsumerRecord(
                    r.topic, r.partition, r.offset, r.timestamp_ms or 0, 0, key, value, None,
                    len(key), len(value), list(r.headers),
                )  # fmt: skip
        raise LookupError(f"{tp.topic}:{tp.partition}:{offset} is not in the log")


# mypy checks here that each fake satisfies its port
_producer: type[SlotProducer] = FakeSlotProducer
_topics: type[PartnerTopics] = InMemoryPartnerTopics
_store: type[SlotStore] = InMemorySlotStore
