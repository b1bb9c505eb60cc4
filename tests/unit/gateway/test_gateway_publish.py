"""The gateway's publish use case (``Gateway.publish``) through the in-memory fakes of its ports
(``corridor.gateway.fakes``, ADR 0036): no Kafka, no PostgreSQL, milliseconds per case.

The same behaviour through real Kafka and PostgreSQL stays tested in tests/integration/gateway; these
cases add speed and reach the branches that are hard to provoke on a real broker."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, NotEnoughReplicasError

from corridor.core.codec import Codec
from corridor.core.envelope import source_for
from corridor.core.partners.store import Partner
from corridor.gateway.cloudevents import IncomingEvent, structured
from corridor.gateway.fakes import FakeKafkaLink, InMemoryGatewayStore, InMemoryPartnerDirectory
from corridor.gateway.problems import Problem
from corridor.gateway.service import Gateway, ItemResult
from corridor.gateway.settings import GatewaySettings
from tests.unit.gateway.gateway_samples import STORY_PARTIES, Cast, cast, cloudevent, new_ids


class SchemaIds:
    """Schema ids as a registry gives them (the codec resolves them before the first produce)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    async def register(self, subject: str, schema_str: str) -> int:
        return self.ids.setdefault(schema_str, len(self.ids) + 1)

    lookup = register

    async def close(self) -> None:
        pass


class World:
    """A gateway wired to fakes, with the story's cast registered as partners."""

    def __init__(self, produce_timeout_s: float = 5.0) -> None:
        self.cast: Cast = cast()
        self.store = InMemoryGatewayStore()
        self.kafka = FakeKafkaLink()
        self.directory = InMemoryPartnerDirectory()
        for story_id, party in STORY_PARTIES.items():
            self.directory.add(self.cast.partner(story_id), str(party.role))
        registry: Any = SchemaIds()
        self.gateway = Gateway(
            GatewaySettings(gateway_produce_timeout_s=produce_timeout_s),
            None,
            self.store,
            self.kafka,
            Codec(registry),
            registry,
            self.directory,
        )

    def partner(self, partner_id: str) -> Partner:
        return self.directory.partners[partner_id]

    def item(self, short_type: str, **changes: Any) -> IncomingEvent:
        event_type = next(t for t, _ in self.cast.events if t.endswith("." + short_type))
        data = {**self.cast.first(short_type), **changes}
        found = structured(cloudevent(event_type, data))
        assert isinstance(found, IncomingEvent), found
        return found

    async def publish(self, partner_id: str, *items: IncomingEvent, batch: bool = False) -> list[ItemResult]:
        return await self.gateway.publish(self.partner(partner_id), list(items), batch=batch)

    async def refused(self, partner_id: str, *items: IncomingEvent, batch: bool = False) -> Problem:
        with pytest.raises(Problem) as caught:
            await self.publish(partner_id, *items, batch=batch)
        return caught.value

    @property
    def sent(self) -> list[str]:
        return [r.event.avro_name.rsplit(".", 1)[-1] for r in self.kafka.trade_producer.sent]


async def test_an_accepted_event_is_produced_once_and_its_result_stored() -> None:
    w = World()
    order = w.item("OrderPlaced")
    [result] = await w.publish(w.cast.buyer, order)
    assert result.status == 201 and not result.replayed
    record = w.kafka.trade_producer.sent[0]
    assert w.sent == ["OrderPlaced"] and record.source == source_for(w.cast.buyer)
    assert result.result == {
        "event_id": order.id,
        "topic": record.ack.topic,
        "partition": record.ack.partition,
        "offset": record.ack.offset,
    }
    assert await w.store.acknowledged(w.cast.buyer, order.id) == result.result
    assert not [r for r in w.store.rows.values() if r.state == "pending"]


async def test_a_replay_of_the_same_event_id_returns_the_same_result_without_producing() -> None:
    w = World()
    order = w.item("OrderPlaced")
    [first] = await w.publish(w.cast.buyer, order)
    [again] = await w.publish(w.cast.buyer, order)
    assert again.status == 201 and again.replayed and again.result == first.result
    assert w.sent == ["OrderPlaced"]


async def test_the_same_id_for_a_different_event_is_a_conflict() -> None:
    w = World()
    order = w.item("OrderPlaced")
    await w.publish(w.cast.buyer, order)
    changed = w.item("OrderPlaced", event_id=order.id, order_id="PO-OTHER-1")
    problem = await w.refused(w.cast.buyer, changed)
    assert (problem.status, problem.slug) == (409, "idempotency-conflict")
    assert problem.errors and problem.errors[0]["field"] == "id"
    assert w.sent == ["OrderPlaced"]


async def test_a_claim_held_by_another_request_is_waited_for_then_answered_409() -> None:
    """The first request's acknowledgement does not come within its timeout (503, the produce goes on
    in the background); a retry meanwhile finds the key in progress (409 request-in-progress); once
    the broker answers, the next retry gets the stored result without a second copy."""
    w = World(produce_timeout_s=0.05)
    w.kafka.trade_producer.hold_acks = True
    order = w.item("OrderPlaced")
    [first] = await w.publish(w.cast.buyer, order)
    assert first.status == 503 and first.problem is not None
    assert "retry with the same id" in first.problem.detail
    problem = await w.refused(w.cast.buyer, order)
    assert (problem.status, problem.slug) == (409, "request-in-progress")
    w.kafka.trade_producer.release_acks()
    await asyncio.sleep(0)  # the background finalisation records the late acknowledgement
    await asyncio.sleep(0)
    [replay] = await w.publish(w.cast.buyer, order)
    assert replay.status == 201 and replay.replayed
    assert w.sent == ["OrderPlaced"]


@pytest.mark.parametrize("where", ["send", "ack", "unreachable"])
async def test_a_producer_refusal_is_503_and_frees_the_claim(where: str) -> None:
    w = World()
    producer = w.kafka.trade_producer
    if where == "send":
        producer.refuse_send = KafkaConnectionError("no broker")
    elif where == "ack":
        producer.refuse_ack = NotEnoughReplicasError("too few in-sync replicas")
    else:
        w.kafka.unreachable = True
    order = w.item("OrderPlaced")
    [result] = await w.publish(w.cast.buyer, order)
    assert result.status == 503 and result.problem is not None
    assert result.problem.headers.get("Retry-After") == str(w.gateway.retry_after_s)
    assert w.store.rows == {}  # released: the client's retry may produce it
    assert await w.store.acknowledged(w.cast.buyer, order.id) is None
    producer.refuse_send = producer.refuse_ack = None
    w.kafka.unreachable = False
    [retry] = await w.publish(w.cast.buyer, order)
    assert retry.status == 201 and not retry.replayed


async def test_a_party_not_admitted_is_403_and_nothing_is_produced() -> None:
    w = World()
    await w.publish(w.cast.buyer, w.item("OrderPlaced"))
    booking = w.item("ShipmentBooked")
    problem = await w.refused(w.cast.carrier, booking)
    assert problem.status == 403
    assert w.sent == ["OrderPlaced"]
    assert [key for (partner, key) in w.store.rows if partner == w.cast.carrier] == []  # nothing claimed


async def test_admission_by_the_buyer_lets_the_carrier_publish() -> None:
    w = World()
    admitted = w.item("PartyAdmitted")
    assert admitted.data["party_id"] == w.cast.carrier
    results = await w.publish(w.cast.buyer, w.item("OrderPlaced"), admitted, batch=True)
    assert [r.status for r in results] == [201, 201]
    [booked] = await w.publish(w.cast.carrier, w.item("ShipmentBooked"))
    assert booked.status == 201
    assert w.sent == ["OrderPlaced", "PartyAdmitted", "ShipmentBooked"]


async def test_a_batch_is_all_or_nothing_before_kafka() -> None:
    w = World()
    order = w.item("OrderPlaced")
    stranger = w.item("ShipmentBooked", sender=w.cast.buyer)  # a buyer may not book shipments
    problem = await w.refused(w.cast.buyer, order, stranger, batch=True)
    assert problem.status == 403 and problem.errors and problem.errors[0]["index"] == 1
    assert w.sent == [] and w.store.rows == {}


async def test_a_sender_other_than_the_caller_is_403() -> None:
    w = World()
    problem = await w.refused(w.cast.supplier, w.item("OrderPlaced"))
    assert problem.status == 403  # a supplier may not place orders
    await w.publish(w.cast.buyer, w.item("OrderPlaced"))
    admitted = w.item("PartyAdmitted", sender=w.cast.supplier)  # buyer and supplier may both admit
    problem = await w.refused(w.cast.buyer, admitted)
    assert problem.status == 403
    assert [e["field"] for e in problem.errors or []] == ["data.sender"]
    assert w.sent == ["OrderPlaced"]


async def test_an_unregistered_or_disabled_party_is_422_naming_the_field() -> None:
    w = World()
    supplier = w.cast.supplier
    w.directory.partners.pop(supplier)
    problem = await w.refused(w.cast.buyer, w.item("OrderPlaced"))
    assert problem.status == 422
    assert [(e["field"], "not a registered partner" in e["reason"]) for e in problem.errors or []] == [
        ("data.supplier.party_id", True)
    ]
    w.directory.add(supplier, "SUPPLIER", active=False)
    problem = await w.refused(w.cast.buyer, w.item("OrderPlaced"))
    assert problem.status == 422 and "disabled" in (problem.errors or [{}])[0]["reason"]
    assert w.sent == [] and w.store.rows == {}


async def test_an_invalid_event_is_422_and_claims_nothing() -> None:
    w = World()
    problem = await w.refused(w.cast.buyer, w.item("OrderPlaced", incoterm="NOPE"))
    assert problem.status == 422
    assert any(e["field"] == "data.incoterm" for e in problem.errors or [])
    assert w.sent == [] and w.store.rows == {}


async def test_two_events_with_one_id_in_a_batch_are_422() -> None:
    w = World()
    order = w.item("OrderPlaced")
    twin = w.item("OrderPlaced", **new_ids(order.data))
    twin = IncomingEvent(order.id, twin.type, twin.source, {**twin.data, "event_id": order.id})
    problem = await w.refused(w.cast.buyer, order, twin, batch=True)
    assert problem.status == 422 and "twice" in (problem.errors or [{}])[0]["reason"]


async def test_authenticate_through_the_partner_directory() -> None:
    w = World()
    key = w.directory.add("acme-test-" + uuid.uuid4().hex[:6], "BUYER")
    found = await w.gateway.authenticate(key)
    assert found is not None and found.role == "BUYER"
    assert await w.gateway.authenticate(key + "x") is None
