"""PartnerConsumer without a broker: its Kafka settings, its group rule, and when it commits."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from corridor.core.envelope import CloudEvent
from corridor.demo.story import chromite_story
from corridor.sdk import PartnerConsumer, PartnerRecord, UndecodableRecord
from corridor.sdk import consumer as sdk

TOPIC = "partner.acme.v1"


def make(**overrides: Any) -> PartnerConsumer:
    settings: dict[str, Any] = {
        "bootstrap": "127.0.0.1:9094",
        "username": "acme",
        "password": "secret",
        "partner_id": "acme",
        "registry_url": "http://127.0.0.1:8081",
        "group": "acme.erp",
    }
    settings.update(overrides)
    return PartnerConsumer(**settings)


def test_kafka_settings_of_a_partner() -> None:
    config = PartnerConsumer.kafka_config(
        bootstrap="b:9094", username="acme", password="pw", group="acme.erp"
    )
    # TLS always, verified against the system's trust store when no CA file is given
    assert config["security_protocol"] == "SASL_SSL"
    context = config["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("acme", "pw")
    assert config["isolation_level"] == "read_committed"  # the relay writes in transactions
    assert config["enable_auto_commit"] is False and config["auto_offset_reset"] == "earliest"
    tls = PartnerConsumer.kafka_config(
        bootstrap="b", username="a", password="p", group="acme.x", ssl_context=ssl.create_default_context()
    )
    assert tls["security_protocol"] == "SASL_SSL" and "ssl_context" in tls


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "tls-ca.pem"
    with pytest.raises(ValueError, match=r"cafile: no file .*tls-ca\.pem"):
        PartnerConsumer.kafka_config(bootstrap="b", username="a", password="p", group="a.x", cafile=missing)
    with pytest.raises(ValueError, match="not both"):
        PartnerConsumer.kafka_config(
            bootstrap="b", username="a", password="p", group="a.x",
            cafile=missing, ssl_context=ssl.create_default_context(),
        )  # fmt: skip


@pytest.mark.parametrize("group", ["erp", "acme", "acme.", "acme-erp", "other.erp"])
def test_groups_outside_the_partners_prefix_are_refused_early(group: str) -> None:
    with pytest.raises(ValueError, match=r"acme\.<something>"):
        make(group=group)


def test_topic_follows_the_partner_id() -> None:
    assert make().topic == TOPIC
    with pytest.raises(ValueError):
        make(on_undecodable="ignore")


class FakeKafka:
    """The slice of AIOKafkaConsumer the SDK uses: batches to hand out, commits recorded."""

    def __init__(self, batches: list[list[ConsumerRecord[bytes, bytes]]]) -> None:
        self.batches = batches
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)}

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, Any]:
        if not self.batches:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        records = self.batches.pop(0)
        return {TopicPartition(TOPIC, records[0].partition): records}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


def records(partition: int = 0) -> Iterator[ConsumerRecord[bytes, bytes]]:
    for offset, event in enumerate(chromite_story().events[:3]):
        headers = [*CloudEvent.for_event(event).to_headers(), ("corridor_relay_backfill", b"true")]
        yield ConsumerRecord(
            TOPIC, partition, offset * 2, 0, 0, str(event.trade_id).encode(), b"payload",
            None, 0, 0, tuple(headers),
        )  # fmt: skip


@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> tuple[PartnerConsumer, FakeKafka]:
    consumer = make(commit_interval_s=3600)
    fake = FakeKafka([list(records())])
    consumer._consumer = fake  # type: ignore[assignment]
    events = iter(chromite_story().events[:3] * 2)

    async def decode(value: bytes) -> Any:
        return next(events)

    monkeypatch.setattr(consumer._codec, "decode", decode)
    return consumer, fake


def test_a_record_is_committed_when_the_next_is_asked_for(wired: tuple[PartnerConsumer, FakeKafka]) -> None:
    consumer, fake = wired
    tp = TopicPartition(TOPIC, 0)

    async def scenario() -> None:
        first = await consumer.next_record()
        assert isinstance(first, PartnerRecord) and first.offset == 0 and first.backfill
        assert fake.commits == []  # the first one is in the caller's hands
        await consumer.next_record()
        await consumer.next_record()
        assert fake.commits == []  # records were buffered: no wait, no commit yet
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(consumer.next_record(), 0.5)  # asks for a 4th: commits before waiting
        assert fake.commits == [{tp: 5}]  # offsets 0, 2, 4 handled: next is 5
        await consumer.commit()
        assert fake.commits == [{tp: 5}]  # nothing new

    asyncio.run(scenario())


def test_run_commits_what_the_handler_finished_and_redelivers_its_failure(
    wired: tuple[PartnerConsumer, FakeKafka],
) -> None:
    consumer, fake = wired
    tp = TopicPartition(TOPIC, 0)
    seen: list[int] = []

    async def handler(record: PartnerRecord) -> None:
        if record.offset == 2:
            raise RuntimeError("ERP is down")
        seen.append(record.offset)

    with pytest.raises(RuntimeError):
        asyncio.run(consumer.run(handler))
    assert seen == [0]
    assert fake.seeks == [(tp, 2)]  # the failed record comes again
    assert consumer._buffer == type(consumer._buffer)()  # …with what followed it

    async def finish() -> int:
        return await consumer.run(handler, idle_timeout=0.3)

    fake.batches = []
    assert asyncio.run(finish()) == 0
    assert fake.commits[-1] == {tp: 1}


def test_undecodable_records_raise_or_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    for mode in ("raise", "skip"):
        consumer = make(on_undecodable=mode)
        fake = FakeKafka([list(records())])
        consumer._consumer = fake  # type: ignore[assignment]

        async def broken(value: bytes) -> Any:
            raise ValueError("not Avro")

        monkeypatch.setattr(consumer._codec, "decode", broken)
        if mode == "raise":
            with pytest.raises(UndecodableRecord, match=f"{TOPIC}:0:0 cannot be decoded"):
                asyncio.run(consumer.next_record())
            assert len(consumer._buffer) == 3  # kept: asking again raises again
        else:
            with pytest.raises(TimeoutError):
                asyncio.run(asyncio.wait_for(consumer.next_record(), 0.5))
            assert fake.commits == [{TopicPartition(TOPIC, 0): 5}]


def test_headers_of_a_partner_record() -> None:
    event = chromite_story().events[0]
    record = PartnerRecord(
        TOPIC, 0, 0, event.trade_id, event, CloudEvent.for_event(event),
        {sdk.SIGNATURE_HEADER: "valid"}, 0,
    )  # fmt: skip
    assert record.signature_verdict == "valid" and not record.backfill


def test_a_failing_registry_is_not_the_records_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    from corridor.core.registry_client import RegistryError

    consumer = make(on_undecodable="skip")
    consumer._consumer = FakeKafka([list(records())])  # type: ignore[assignment]

    async def unavailable(value: bytes) -> Any:
        raise RegistryError(503, None, "down for maintenance")

    monkeypatch.setattr(consumer._codec, "decode", unavailable)
    with pytest.raises(RegistryError):
        asyncio.run(consumer.next_record())
    assert len(consumer._buffer) == 3  # nothing skipped: the next ask tries the same record again
