"""The ports of the relay's routing (``relay.Relay``): what relaying a slot needs from Kafka, as
``typing.Protocol`` classes (ADR 0036).

* :class:`SlotProducer` — a slot's transactional producer (aiokafka's ``AIOKafkaProducer`` with a
  ``transactional.id``; in memory: ``fakes.FakeSlotProducer``);
* :class:`PartnerTopics` — a partner's topic, created the first time it is needed
  (``relay.AdminPartnerTopics``; in memory: ``fakes.InMemoryPartnerTopics``);
* :class:`SlotStore` — what a slot starts from: the consumer group's committed offsets of its source
  partitions and the trade routes last committed to its state-topic partition; and an earlier source
  record for a back-fill (``relay.KafkaSlotStore``;
  in memory: ``fakes.InMemorySlotStore``).

Invariants every implementation keeps: what a producer sends between ``begin_transaction`` and
``commit_transaction`` (records and consumed offsets) becomes visible to ``SlotStore`` all together or
not at all (``abort_transaction``); a producer started with a slot's ``transactional.id`` fences the
earlier one. This module imports no adapter (the import contract in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol

from aiokafka.structs import ConsumerRecord, TopicPartition

from corridor.core.routing import TradeRoute
from corridor.relay.state import Ref


class SlotProducer(Protocol):
    """A transactional producer (acks=all, idempotent) of one slot."""

    async def start(self) -> None:
        """InitProducerId: fences the earlier producer of the same transactional id."""
        ...

    async def stop(self) -> None: ...

    async def begin_transaction(self) -> None: ...

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        """Queue a record; the awaitable resolves when the broker has it (still uncommitted)."""
        ...

    async def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group_id: str
    ) -> None: ...

    async def commit_transaction(self) -> None: ...

    async def abort_transaction(self) -> None: ...


class PartnerTopics(Protocol):
    async def ensure(self, partner_id: str) -> str:
        """``partner.<partner id>.v1``, created if it does not exist yet."""
        ...


class SlotStore(Protocol):
    async def committed_positions(self, partition: int) -> dict[TopicPartition, int]:
        """The next offset to relay of each source topic's ``partition``: the consumer group's committed
        offset, else the partition's first offset."""
        ...

    async def restore(self, partition: int) -> tuple[dict[str, TradeRoute[Ref]], dict[str, frozenset[str]]]:
        """The committed state of the slot's trades (read_committed, up to the end of its state-topic
        partition): the route of each trade and the ``ce_id`` of its relayed events."""
        ...

    async def source_record(self, tp: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
        """The committed record at ``offset`` of a source partition (an earlier event of a trade, for a
        back-fill the relay no longer holds in memory); raises when it is gone."""
        ...
