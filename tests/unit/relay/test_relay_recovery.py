"""The relay's recovery of a slot whose transaction failed (ADR 17), with small fakes for the consumer
and the producers: a poisoned slot producer is replaced (same transactional id, a new epoch) and the
slot's partitions are read again from its last committed positions; a failure during the commit is left
to the worker supervisor. The real relay is tested in tests/integration/relay and tests/faults."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka import errors as ke

from corridor.core.topics import TRADE_TOPICS
from corridor.relay.relay import Relay, Slot
from corridor.relay.settings import RelaySettings


class FakeProducer:
    def __init__(self, transactional_id: str) -> None:
        self.transactional_id = transactional_id
        self.started = self.stopped = False

    async def start(self) -> None:  # InitProducerId: a new epoch for the transactional id
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


class FakeConsumer:
    def __init__(self, assignment: set[TopicPartition]) -> None:
        self._assignment = assignment
        self.seeks: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return self._assignment

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Relay:
    relay = Relay(RelaySettings(), codec=None)  # type: ignore[arg-type]
    made: list[FakeProducer] = []

    def slot_producer(p: int) -> Any:
        made.append(FakeProducer(f"{relay.settings.transactional_id_prefix}-{p}"))
        return made[-1]

    monkeypatch.setattr(relay, "_slot_producer", slot_producer)
    relay.made = made  # type: ignore[attr-defined]
    return relay


def slot_of(relay: Relay, p: int) -> Slot:
    positions = {TopicPartition(t, p): 10 + i for i, t in enumerate(TRADE_TOPICS)}
    relay._consumer = FakeConsumer(set(positions))  # type: ignore[assignment]
    return Slot(p, f"{relay.settings.transactional_id_prefix}-{p}", FakeProducer("old"), positions=positions)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [
        ke.OutOfOrderSequenceNumber(),
        ke.MessageSizeTooLargeError(),
        ke.ProducerFenced(),
        ke.KafkaConnectionError(),
    ],
)
async def test_a_failed_transaction_replaces_the_slot_producer(
    relay: Relay, error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("asyncio.sleep", _no_sleep)
    slot = slot_of(relay, 3)
    old = slot.producer
    assert await relay._recover_slot(slot, error)
    assert old.stopped and slot.producer is relay.made[0] and slot.producer.started  # type: ignore[attr-defined]
    assert slot.producer.transactional_id == slot.transactional_id  # type: ignore[attr-defined]
    assert relay._consumer.seeks == slot.positions  # type: ignore[union-attr]  # read again from there
    assert relay.stats.producer_replacements == 1


async def test_a_failure_during_the_commit_goes_to_the_supervisor(relay: Relay) -> None:
    slot = slot_of(relay, 1)
    slot.committing = True  # whether it committed is unknown: only reading the state back is safe
    assert not await relay._recover_slot(slot, ke.OutOfOrderSequenceNumber())
    assert not await relay._recover_slot(slot_of(relay, 2), ValueError("a bug"))
    assert relay.made == []  # type: ignore[attr-defined]


async def _no_sleep(_seconds: float) -> None:
    return None
