"""A gateway idempotency claim is never produced twice (ADR 0041), through the in-memory fakes.

Two gateways share one store. The first owner's record gets no acknowledgement: the claim stays its
owner's (another request is answered 409) until the owner's delivery bound, where its producer is
abandoned — the record ends (failed; it may have been stored, which the ledger's event-id dedup
covers) and the claim is released before it could go stale. A configuration whose stale window does not
outlast the delivery bound is refused at start.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from corridor.core.codec import Codec
from corridor.core.produce_errors import ProducerAbandonedError
from corridor.gateway.fakes import FakeKafkaLink, InMemoryGatewayStore
from corridor.gateway.ports import ClaimState
from corridor.gateway.service import Gateway
from corridor.gateway.settings import CLAIM_MARGIN_S, GatewaySettings
from tests.unit.gateway.test_gateway_publish import SchemaIds, World


def test_the_defaults_leave_the_stale_window_above_the_delivery_bound() -> None:
    settings = GatewaySettings()
    floor = settings.delivery_timeout_s + settings.gateway_kafka_request_timeout_ms / 1000 + CLAIM_MARGIN_S
    assert settings.delivery_timeout_s >= settings.gateway_produce_timeout_s
    assert settings.claim_stale_s > floor
    longer = GatewaySettings(gateway_produce_timeout_s=50)  # the defaults follow a longer produce timeout
    assert longer.delivery_timeout_s == 50 and longer.claim_stale_s > 50 + 5 + CLAIM_MARGIN_S


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"gateway_claim_stale_s": 40}, "CORRIDOR_GATEWAY_CLAIM_STALE_S"),
        ({"gateway_delivery_timeout_s": 55, "gateway_claim_stale_s": 60}, "CORRIDOR_GATEWAY_CLAIM_STALE_S"),
        ({"gateway_produce_timeout_s": 20, "gateway_delivery_timeout_s": 10}, "DELIVERY_TIMEOUT_S"),
    ],
)
def test_a_stale_window_within_the_delivery_bound_is_refused_at_start(
    settings: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        GatewaySettings(**settings)
    assert named in str(caught.value)


def second_gateway(w: World) -> tuple[Gateway, FakeKafkaLink]:
    """Another gateway process on the same store (its own producer)."""
    kafka = FakeKafkaLink()
    registry: Any = SchemaIds()
    gateway = Gateway(w.gateway.settings, None, w.store, kafka, Codec(registry), registry, w.directory)
    return gateway, kafka


async def test_an_unacknowledged_claim_is_never_taken_over_while_its_record_can_be_written() -> None:
    clock = [0.0]
    w = World(produce_timeout_s=0.05)
    w.gateway.settings = GatewaySettings(gateway_produce_timeout_s=0.05, gateway_delivery_timeout_s=2.0)
    w.store = w.gateway.store = InMemoryGatewayStore(
        stale_after_s=w.gateway.settings.claim_stale_s, clock=lambda: clock[0]
    )
    other, other_kafka = second_gateway(w)
    first = w.kafka.trade_producer
    first.hold_acks = True  # a broker that takes the record and never answers
    order = w.item("OrderPlaced")
    [answer] = await w.publish(w.cast.buyer, order)
    assert answer.status == 503  # the produce timeout: the record may still be stored
    # within the delivery bound the claim is the first owner's: another request (the other gateway's
    # claim, without its second of waiting for others) finds it in progress and produces nothing
    [(key, row)] = [((p, k), r) for (p, k), r in w.store.rows.items()]
    claims = await w.store.claim(key[0], [key[1]], [row.body_hash], uuid.uuid4())
    assert claims[key[1]].state is ClaimState.IN_PROGRESS and other_kafka.trade_producer.sent == []
    # the delivery bound passes: the producer holding the record is abandoned, the record ends
    for _ in range(1000):
        if first.abandoned:
            break
        await asyncio.sleep(0.01)
    assert first.abandoned and "delivery bound" in first.abandoned[0]
    for _ in range(500):  # the release follows the abandon within a few turns of the loop
        if w.store.rows == {}:
            break
        await asyncio.sleep(0.01)
    assert w.store.rows == {}  # released: the claim never had to go stale to be free again
    assert clock[0] == 0.0  # on the store's clock no time passed: nothing went stale
    # the client's retry produces it (through either gateway); the ledger drops a stored first copy
    [retry] = await other.publish(w.partner(w.cast.buyer), [order], batch=False)
    assert retry.status == 201 and not retry.replayed
    assert len(first.sent) == 1 and len(other_kafka.trade_producer.sent) == 1


async def test_an_abandoned_record_is_answered_503_when_the_request_still_waits() -> None:
    w = World(produce_timeout_s=0.5)
    w.gateway.settings = GatewaySettings(gateway_produce_timeout_s=0.5, gateway_delivery_timeout_s=0.5)
    producer = w.kafka.trade_producer
    producer.hold_acks = True
    [answer] = await w.publish(w.cast.buyer, w.item("OrderPlaced"))
    assert answer.status == 503 and answer.problem is not None
    for _ in range(500):  # the finalisation ends at the same moment as the request's wait
        if w.store.rows == {}:
            break
        await asyncio.sleep(0.01)
    assert producer.abandoned and w.store.rows == {}
    assert ProducerAbandonedError.retriable
