"""The produce-error classification (core/produce_errors) and TradeProducer's recovery, with a small fake
aiokafka producer that behaves like the idempotent one: a failed batch leaves a sequence gap, and every
later record of that partition is refused with OutOfOrderSequenceNumber until the producer is replaced.

The real thing (a broker refusing records) is tested in tests/faults/test_faults.py and
tests/hostile/test_hostile_refusals.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
from aiokafka import errors as ke
from aiokafka.structs import RecordMetadata

from corridor.core.kafka import TradeProducer
from corridor.core.produce_errors import ProducerAbandonedError, ProducerReplacedError, Scope, Stage, classify


@pytest.mark.parametrize(
    ("error", "stage", "scope", "replace", "status"),
    [
        # what the issue saw: a refused timestamp, then the sequence gap it left
        (ke.InvalidTimestampError(), Stage.ACK, Scope.RECORD, True, 503),
        (ke.OutOfOrderSequenceNumber(), Stage.ACK, Scope.PRODUCER, True, 503),
        (ke.UnknownProducerId(), Stage.ACK, Scope.PRODUCER, True, 503),
        (ke.ProducerFenced(), Stage.ACK, Scope.PRODUCER, True, 503),
        (ke.InvalidTxnState(), Stage.TRANSACTION, Scope.PRODUCER, True, 503),
        # size: the broker's refusal poisons, the client's own check (send) does not
        (ke.MessageSizeTooLargeError(), Stage.ACK, Scope.RECORD, True, 413),
        (ke.MessageSizeTooLargeError(), Stage.SEND, Scope.RECORD, False, 413),
        (ke.RecordListTooLargeError(), Stage.ACK, Scope.RECORD, True, 413),
        (ke.CorruptRecordException(), Stage.ACK, Scope.RECORD, True, 503),
        (ke.UnknownError(), Stage.ACK, Scope.RECORD, True, 503),  # codes aiokafka does not know (87)
        # the cluster's: 503; from a send nothing was sequenced, from an ack the batch was
        (ke.KafkaConnectionError(), Stage.SEND, Scope.CLUSTER, False, 503),
        (ke.KafkaTimeoutError(), Stage.SEND, Scope.CLUSTER, False, 503),
        (ke.TopicAuthorizationFailedError(), Stage.ACK, Scope.CLUSTER, True, 503),
        (ke.TopicAuthorizationFailedError(), Stage.SEND, Scope.CLUSTER, False, 503),
        (ke.NotEnoughReplicasError(), Stage.SEND, Scope.CLUSTER, False, 503),
        (ke.UnknownTopicOrPartitionError(), Stage.SEND, Scope.CLUSTER, False, 503),
        # a dead sender task, anything aiokafka cannot retry
        (ke.KafkaError("Unexpected error during batch delivery"), Stage.SEND, Scope.PRODUCER, True, 503),
        (ke.ProducerClosed(), Stage.SEND, Scope.PRODUCER, True, 503),
        (ke.IllegalOperation("not in transaction"), Stage.TRANSACTION, Scope.PRODUCER, True, 503),
        # a transaction that failed for a non-retriable reason starts over
        (ke.TopicAuthorizationFailedError(), Stage.TRANSACTION, Scope.CLUSTER, True, 503),
        (ke.KafkaConnectionError(), Stage.TRANSACTION, Scope.CLUSTER, True, 503),
        (ProducerReplacedError("x"), Stage.SEND, Scope.CLUSTER, False, 503),
        (ValueError("x"), Stage.SEND, Scope.CLUSTER, False, 503),
    ],
)
def test_classification(error: BaseException, stage: Stage, scope: Scope, replace: bool, status: int) -> None:
    failure = classify(error, stage)
    assert (failure.scope, failure.replace, failure.status) == (scope, replace, status)
    assert type(error).__name__ in failure.reason and failure.error == type(error).__name__


def test_a_non_idempotent_ack_failure_poisons_nothing() -> None:
    assert not classify(ke.InvalidTimestampError(), Stage.ACK, idempotent=False).replace
    assert classify(ke.OutOfOrderSequenceNumber(), Stage.ACK, idempotent=False).replace


# -- TradeProducer's recovery, against a fake idempotent producer -------------------------------------


class FakeBroker:
    """Partitions that refuse what ``refuse`` says, and a per (producer id, partition) sequence check."""

    def __init__(self) -> None:
        self.stored: list[tuple[str, bytes, int]] = []  # (topic, key, timestamp_ms)
        self.expected: dict[tuple[int, str], int] = {}
        self.refuse: Any = lambda topic, key, timestamp_ms: None  # → an exception or None
        self.next_pid = 0


class FakeProducer:
    def __init__(self, broker: FakeBroker, **config: Any) -> None:
        self.broker = broker
        self.config = config
        self.pid = -1
        self.sequences: dict[str, int] = {}
        self.stopped = False
        self.client = None

    async def start(self) -> None:
        self.pid = self.broker.next_pid
        self.broker.next_pid += 1

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: Any, timestamp_ms: int) -> Any:
        if self.stopped:
            raise ke.ProducerClosed()
        future: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        sequence = self.sequences.get(topic, 0)
        self.sequences[topic] = sequence + 1  # assigned at send, like aiokafka's drain
        expected = self.broker.expected.get((self.pid, topic), 0)
        refusal = self.broker.refuse(topic, key, timestamp_ms)
        loop = asyncio.get_running_loop()  # the answer comes later, as from a broker
        if sequence != expected:
            loop.call_soon(future.set_exception, ke.OutOfOrderSequenceNumber())
        elif refusal is not None:
            loop.call_soon(future.set_exception, refusal)  # never stored: its sequence is a gap now
        else:
            self.broker.expected[(self.pid, topic)] = expected + 1
            self.broker.stored.append((topic, key, timestamp_ms))
            offset = len(self.broker.stored) - 1
            meta = RecordMetadata(topic, 0, None, offset, timestamp_ms, -1, 0)  # type: ignore[call-arg]
            loop.call_soon(future.set_result, meta)
        return future


class FakeCodec:
    async def encode_async(self, event: Any, body: bytes | None = None) -> bytes:
        return b"\0\0\0\0\1" + (body or b"x")


class Event:
    """Just what TradeProducer reads of an event."""

    avro_name = "corridor.trade.TransportEventRecorded"
    topic = "trade.shipments.v1"

    def __init__(self, occurred_at: dt.datetime) -> None:
        self.event_id = uuid.uuid4()
        self.trade_id = uuid.uuid4()
        self.sender = "carrier-1"
        self.occurred_at = occurred_at


@pytest.fixture
def envelope(monkeypatch: pytest.MonkeyPatch) -> None:
    """CloudEvent.for_event reads more of an event than the fake has: headers are not what is tested."""
    from corridor.core import kafka

    class Envelope:
        def to_headers(self) -> list[tuple[str, bytes]]:
            return [("ce_id", b"x")]

    monkeypatch.setattr(kafka.CloudEvent, "for_event", classmethod(lambda cls, *a, **k: Envelope()))


async def test_a_refused_record_does_not_take_the_partition_down(envelope: None) -> None:
    broker = FakeBroker()
    now_ms = dt.datetime.now(dt.UTC).timestamp() * 1000
    producer = TradeProducer(
        "fake:9092",
        FakeCodec(),  # type: ignore[arg-type]
        producer_factory=lambda **config: FakeProducer(broker, **config),
    )
    await producer.start()
    # the record timestamp is the time of publication, even for an estimate seven weeks ahead
    eta = Event(dt.datetime.now(dt.UTC) + dt.timedelta(weeks=7))
    await (await producer.send(eta))  # type: ignore[arg-type]
    assert abs(broker.stored[-1][2] - now_ms) < 60_000

    # now the broker refuses one record (what an operator's lowered max.message.bytes does)
    refused_once = [ke.MessageSizeTooLargeError()]
    broker.refuse = lambda *_: refused_once.pop() if refused_once else None
    with pytest.raises(ke.MessageSizeTooLargeError):
        await (await producer.send(Event(dt.datetime.now(dt.UTC))))  # type: ignore[arg-type]
    # the next valid events are stored: the producer was replaced (new producer id, sequence 0)
    for _ in range(3):
        meta = await (await producer.send(Event(dt.datetime.now(dt.UTC))))  # type: ignore[arg-type]
        assert meta.offset == len(broker.stored) - 1
    assert producer.replacements == 1 and producer.generation == 1
    assert len(broker.stored) == 4  # the ETA and three valid events, each once
    await producer.stop()


async def test_without_recovery_the_gap_refuses_every_later_record(envelope: None) -> None:
    """The fake reproduces the issue: the old producer (the one a caller may still hold) stays broken."""
    broker = FakeBroker()
    made: list[FakeProducer] = []

    def factory(**config: Any) -> FakeProducer:
        made.append(FakeProducer(broker, **config))
        return made[-1]

    producer = TradeProducer("fake:9092", FakeCodec(), producer_factory=factory)  # type: ignore[arg-type]
    await producer.start()
    refused_once = [ke.InvalidTimestampError()]
    broker.refuse = lambda *_: refused_once.pop() if refused_once else None
    with pytest.raises(ke.InvalidTimestampError):
        await (await producer.send(Event(dt.datetime.now(dt.UTC))))  # type: ignore[arg-type]
    old = made[0]
    gap = await old.send("trade.shipments.v1", value=b"", key=b"k", headers=[], timestamp_ms=0)
    with pytest.raises(ke.OutOfOrderSequenceNumber):
        await gap
    await (await producer.send(Event(dt.datetime.now(dt.UTC))))  # type: ignore[arg-type]
    assert len(made) == 2
    await producer.stop()
    assert old.stopped  # retired in the background


async def test_a_request_is_not_split_across_two_producers(envelope: None) -> None:
    broker = FakeBroker()
    producer = TradeProducer(
        "fake:9092",
        FakeCodec(),  # type: ignore[arg-type]
        producer_factory=lambda **config: FakeProducer(broker, **config),
    )
    await producer.start()
    generation = producer.generation
    refused_once = [ke.UnknownProducerId()]
    broker.refuse = lambda *_: refused_once.pop() if refused_once else None
    first = await producer.send(Event(dt.datetime.now(dt.UTC)), generation=generation)  # type: ignore[arg-type]
    with pytest.raises(ke.UnknownProducerId):
        await first
    with pytest.raises(ProducerReplacedError):
        await producer.send(Event(dt.datetime.now(dt.UTC)), generation=generation)  # type: ignore[arg-type]
    await (await producer.send(Event(dt.datetime.now(dt.UTC)), generation=producer.generation))  # type: ignore[arg-type]
    await producer.stop()


async def test_a_dead_sender_is_replaced_before_the_next_send(envelope: None) -> None:
    broker = FakeBroker()
    made: list[FakeProducer] = []

    def factory(**config: Any) -> FakeProducer:
        made.append(FakeProducer(broker, **config))
        return made[-1]

    producer = TradeProducer("fake:9092", FakeCodec(), producer_factory=factory)  # type: ignore[arg-type]
    await producer.start()

    class Dead:
        sender_task = asyncio.get_running_loop().create_future()

    Dead.sender_task.set_result(None)
    made[0]._sender = Dead()  # type: ignore[attr-defined]
    await (await producer.send(Event(dt.datetime.now(dt.UTC))))  # type: ignore[arg-type]
    assert len(made) == 2 and producer.generation == 1
    await producer.stop()


async def test_new_limits_replace_the_producer_with_them(envelope: None) -> None:
    """The gateway's limits read again (a topic's max.message.bytes changed) give a producer whose
    batches fit them; what the old one holds is still acknowledged."""
    broker = FakeBroker()
    made: list[FakeProducer] = []

    def factory(**config: Any) -> FakeProducer:
        made.append(FakeProducer(broker, **config))
        return made[-1]

    producer = TradeProducer("fake:9092", FakeCodec(), producer_factory=factory, max_batch_size=262144)  # type: ignore[arg-type]
    await producer.start()
    pending = await producer.send(Event(dt.datetime.now(dt.UTC)))  # type: ignore[arg-type]
    producer.reconfigure(max_batch_size=6083)
    producer.reconfigure(max_batch_size=6083)  # the same again: nothing to do
    await (await producer.send(Event(dt.datetime.now(dt.UTC))))  # type: ignore[arg-type]
    await pending
    assert [p.config["max_batch_size"] for p in made] == [262144, 6083]
    assert producer.generation == 1 and len(broker.stored) == 2
    await producer.stop()


async def test_an_abandoned_producer_fails_what_it_holds_and_sends_nothing_more(envelope: None) -> None:
    """aiokafka's idempotent producer never expires a batch: ``abandon`` ends the records of a
    producer at once (their futures fail), stops its sender task, and sends go to a replacement."""
    broker = FakeBroker()
    made: list[FakeProducer] = []
    held: list[asyncio.Future[Any]] = []

    class Accumulator:
        def fail_all(self, exc: BaseException) -> None:
            for future in held:
                if not future.done():
                    future.set_exception(exc)

    def factory(**config: Any) -> FakeProducer:
        made.append(FakeProducer(broker, **config))
        return made[-1]

    producer = TradeProducer("fake:9092", FakeCodec(), producer_factory=factory)  # type: ignore[arg-type]
    await producer.start()
    sender_task = asyncio.get_running_loop().create_future()

    class Sender:
        pass

    Sender.sender_task = sender_task  # type: ignore[attr-defined]
    made[0]._sender = Sender()  # type: ignore[attr-defined]
    made[0]._message_accumulator = Accumulator()  # type: ignore[attr-defined]
    stuck: asyncio.Future[Any] = asyncio.get_running_loop().create_future()  # a broker that never answers
    held.append(stuck)
    assert not producer.abandon(5, "not this generation")  # an unknown generation: nothing happens
    assert producer.abandon(0, "no acknowledgement within the delivery bound")
    assert sender_task.cancelled()  # it retries nothing more
    with pytest.raises(ProducerAbandonedError):
        await stuck
    assert classify(ProducerAbandonedError("x")).status == 503
    made[0]._sender = None  # type: ignore[attr-defined]  # (the fake's cancelled sender is gone)
    await (await producer.send(Event(dt.datetime.now(dt.UTC))))  # type: ignore[arg-type]
    assert len(made) == 2 and producer.generation == 1 and made[0].stopped
    assert not producer.abandon(0, "again")  # retired and gone
    await producer.stop()
