"""The relay worker's routing (``Relay._open_slot`` / ``Relay._relay_slot``) through the in-memory fakes
of its ports (``corridor.relay.fakes``, ADR 0036): which partner topics receive an event, back-fill on
admission, nothing to a non-party, exactly once across a restart, nothing of an aborted transaction.

The pure rule (``corridor.core.routing.route``) is tested in test_relay_routing.py; the relay on real
Kafka in tests/integration/relay and tests/faults. These cases add speed; they replace neither."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, ProducerFenced
from aiokafka.structs import ConsumerRecord, TopicPartition

from corridor.core.codec import Codec
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.trust import receives_type
from corridor.core.envelope import CloudEvent, source_for
from corridor.core.routing import partner_topic
from corridor.demo.story import BUYER, CARRIER, SUPPLIER, chromite_story
from corridor.relay.fakes import InMemoryKafka, InMemoryPartnerTopics, InMemorySlotStore, LoggedRecord
from corridor.relay.relay import BACKFILL_HEADER, SOURCE_HEADER, Relay, Slot
from corridor.relay.settings import RelaySettings
from corridor.relay.state import SOURCE_TOPICS
from tests.support.relay_slot_contract import check_slot_transactions

SOURCE = SOURCE_TOPICS[0]
P = 1  # the slot (partition number) of the test trade


class SchemaRegistry:
    """Schema ids as a registry gives them: global and stable."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.ids: dict[str, int] = {}

    async def register(self, subject: str, schema_str: str) -> int:
        if schema_str not in self.ids:
            self.ids[schema_str] = len(self.ids) + 1
            self.by_id[self.ids[schema_str]] = schema_str
        return self.ids[schema_str]

    lookup = register

    async def schema_by_id(self, schema_id: int) -> str:
        return self.by_id[schema_id]


class World:
    def __init__(self) -> None:
        self.settings = RelaySettings()
        registry: Any = SchemaRegistry()
        self.codec = Codec(registry)
        self.kafka = InMemoryKafka()
        self.topics = InMemoryPartnerTopics()
        self.story = chromite_story().events
        self.next_offset = 0

    def relay(self) -> Relay:
        return Relay(
            self.settings,
            self.codec,
            producers=lambda p: self.kafka.producer(f"{self.settings.transactional_id_prefix}-{p}"),
            topics=self.topics,
            slot_store=InMemorySlotStore(self.kafka, self.settings.relay_group_id, self.settings.state_topic),
        )

    async def record(self, event: TradeEvent, offset: int | None = None) -> ConsumerRecord[bytes, bytes]:
        """The accepted stream's record of ``event`` (the next offset of the slot's partition)."""
        value = await self.codec.encode_async(event)
        headers = CloudEvent.for_event(event, source=source_for(event.sender)).to_headers()
        key = str(event.trade_id).encode()
        if offset is None:  # a new record: the ledger appended it to the accepted stream
            offset, self.next_offset = self.next_offset, self.next_offset + 1
            logged = LoggedRecord(SOURCE, P, offset, key, value, tuple(headers), 1_700_000_000_000 + offset)
            self.kafka.log.setdefault((SOURCE, P), []).append(logged)
        return ConsumerRecord(
            SOURCE, P, offset, 1_700_000_000_000 + offset, 0, key, value, None, len(key), len(value), headers
        )

    async def relay_events(self, relay: Relay, slot: Slot, *events: TradeEvent) -> None:
        await relay._relay_slot(slot, [await self.record(e) for e in events])

    def received(self, party_id: str) -> list[LoggedRecord]:
        return self.kafka.records(partner_topic(party_id))

    def types(self, party_id: str) -> list[str]:
        return [r.header("ce_type") or "" for r in self.received(party_id)]


def first(events: list[TradeEvent], short_type: str, **data: str) -> int:
    return next(
        i
        for i, e in enumerate(events)
        if e.avro_name.endswith("." + short_type) and all(str(getattr(e, k)) == v for k, v in data.items())
    )


async def test_each_event_goes_to_the_trade_parties_its_role_receives_and_nobody_else() -> None:
    w = World()
    relay = w.relay()
    slot = await relay._open_slot(P)
    opening = w.story[:4]  # OrderPlaced, OrderResponded, OrderAmended, OrderResponded
    await w.relay_events(relay, slot, *opening)
    names = [e.avro_name for e in opening]
    assert w.types(BUYER.party_id) == names and w.types(SUPPLIER.party_id) == names
    assert w.received(CARRIER.party_id) == []  # not a party (yet)
    assert w.topics.created == [partner_topic(BUYER.party_id), partner_topic(SUPPLIER.party_id)]
    copy = w.received(BUYER.party_id)[0]
    assert copy.key == str(opening[0].trade_id).encode() and copy.header(SOURCE_HEADER) == f"{SOURCE}:{P}:0"
    # one transaction: the copies, the trade's route in the state topic, the consumed offsets
    assert w.kafka.transactions == 1
    assert w.kafka.offsets[(w.settings.relay_group_id, TopicPartition(SOURCE, P))] == 4
    [state] = w.kafka.records(w.settings.state_topic)
    assert state.partition == P and state.key == str(opening[0].trade_id).encode()
    assert relay.stats.relayed == 4 and relay.stats.deliveries == 8


async def test_a_party_admitted_later_gets_the_earlier_events_its_role_receives_first() -> None:
    w = World()
    relay = w.relay()
    slot = await relay._open_slot(P)
    admitted = first(w.story, "PartyAdmitted", role="BANK")
    bank = w.story[admitted].party_id  # type: ignore[attr-defined]
    await w.relay_events(relay, slot, *w.story[:admitted])
    assert w.received(bank) == []
    await w.relay_events(relay, slot, w.story[admitted])
    received = w.received(bank)
    earlier = [e.avro_name for e in w.story[:admitted] if receives_type("BANK", e.avro_name)]
    assert earlier, "the story's bank receives an earlier event (the invoice)"
    assert [r.header("ce_type") for r in received] == [*earlier, w.story[admitted].avro_name]
    assert [r.header(BACKFILL_HEADER) for r in received] == ["true"] * len(earlier) + [None]
    assert relay.stats.backfilled == len(earlier)
    # the buyer gets the admission once, and no back-fill
    admission = str(w.story[admitted].event_id)
    assert [r.header("ce_id") for r in w.received(BUYER.party_id)].count(admission) == 1
    assert not [r for r in w.received(BUYER.party_id) if r.header(BACKFILL_HEADER)]


async def test_an_event_breaking_a_trust_rule_or_a_second_copy_goes_to_nobody() -> None:
    w = World()
    relay = w.relay()
    slot = await relay._open_slot(P)
    booking = first(w.story, "ShipmentBooked")
    # the carrier books before anyone admitted it: refused by the trust rules (ADR 0016)
    await w.relay_events(relay, slot, w.story[0], w.story[booking])
    assert relay.stats.refused == 1 and w.received(CARRIER.party_id) == []
    assert w.types(BUYER.party_id) == [w.story[0].avro_name]
    # the same event in a second record (a gateway's retry after a crash): relayed to nobody
    await w.relay_events(relay, slot, w.story[0])
    assert relay.stats.duplicates == 1 and len(w.received(BUYER.party_id)) == 1
    assert w.kafka.offsets[(w.settings.relay_group_id, TopicPartition(SOURCE, P))] == 3


async def test_a_new_owner_of_the_slot_fences_the_old_one_and_continues_from_the_committed_state() -> None:
    w = World()
    old = w.relay()
    old_slot = await old._open_slot(P)
    admitted = first(w.story, "PartyAdmitted", role="BANK")
    bank = w.story[admitted].party_id  # type: ignore[attr-defined]
    await w.relay_events(old, old_slot, *w.story[:admitted])
    new = w.relay()
    slot = await new._open_slot(P)
    assert slot.positions == {TopicPartition(SOURCE, P): admitted}
    assert slot.routes == old_slot.routes and slot.ids == old_slot.ids
    with pytest.raises(ProducerFenced):
        await w.relay_events(old, old_slot, w.story[admitted])
    # the back-fill follows the restored route, its record read again from the accepted stream
    await w.relay_events(new, slot, w.story[admitted])
    assert new.stats.history_fetches == 1
    assert [r.header(BACKFILL_HEADER) for r in w.received(bank)] == ["true", None]
    # records below the slot's position (polled again after a rebalance) are not relayed twice
    replayed = await w.record(w.story[0], offset=0)
    await new._relay_slot(slot, [replayed])
    assert len(w.received(BUYER.party_id)) == admitted + 1


async def test_an_aborted_transaction_leaves_nothing_visible_and_nothing_remembered() -> None:
    w = World()
    relay = w.relay()
    slot = await relay._open_slot(P)
    producer: Any = slot.producer
    producer.fail_next_commit = KafkaConnectionError("broker gone at commit")
    with pytest.raises(KafkaConnectionError):
        await w.relay_events(relay, slot, *w.story[:2])
    assert w.kafka.records(partner_topic(BUYER.party_id)) == [] and w.kafka.offsets == {}
    assert w.kafka.records(w.settings.state_topic) == [] and w.kafka.aborted == 1
    assert slot.routes == {} and slot.positions == {TopicPartition(SOURCE, P): 0}
    # read again from the slot's positions
    await relay._relay_slot(slot, [await w.record(e, offset=i) for i, e in enumerate(w.story[:2])])
    assert len(w.received(BUYER.party_id)) == 2


async def test_the_in_memory_slot_producer_and_store_keep_the_transaction_contract() -> None:
    kafka = InMemoryKafka()
    store = InMemorySlotStore(kafka, "contract-group", "contract.state")
    await check_slot_transactions(kafka.producer, store, "contract.state", "contract-group")
