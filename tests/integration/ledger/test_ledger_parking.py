"""Out-of-order events: parked in the retry topics, applied once their trade appears, else dead-lettered."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest

from corridor.core.domain.events import (
    CertificateIssued,
    ShipmentBooked,
    ShipmentDelivered,
    TransportEventRecorded,
)
from corridor.demo.story import chromite_story
from corridor.ledger.topics import DLQ_TOPIC, RETRY_TOPICS
from tests.integration.ledger.ledger_helpers import InProcessLedger, LedgerSetup, eventually, headers_of

pytestmark = pytest.mark.integration


def ours(setup: LedgerSetup, event_id: Any, group_header: str) -> Any:
    def match(record: Any) -> bool:
        headers = headers_of(record)
        return headers.get("ce_id") == str(event_id) and headers.get(group_header) == setup.group_id

    return match


async def test_a_shipment_event_before_its_order_is_parked_then_applied_once(
    ledger: InProcessLedger, ledger_setup: LedgerSetup, publish: Any, tail: Any, db: asyncpg.Pool
) -> None:
    story = chromite_story()
    booking = next(e for e in story.events if isinstance(e, ShipmentBooked))
    retry = await tail(RETRY_TOPICS[0])

    (ack,) = await publish(booking)  # the carrier is faster than the buyer
    (parked,) = await retry.wait_for(ours(ledger_setup, booking.event_id, "retry_consumer_group"))
    headers = headers_of(parked)
    assert headers["retry_attempt"] == "1"
    assert (
        headers["retry_original_topic"],
        headers["retry_original_partition"],
        headers["retry_original_offset"],
    ) == (
        ack.topic,
        str(ack.partition),
        str(ack.offset),
    )
    assert "no order yet" in headers["retry_reason"]
    assert int(headers["retry_not_before"]) > 0
    dt.datetime.fromisoformat(headers["retry_first_seen"])
    assert parked.key == str(story.trade_id).encode()
    assert headers["ce_type"] == booking.avro_name  # the original headers travel along

    await publish(*[e for e in story.events if e is not booking])
    s = ledger_setup.db_schema

    async def complete() -> bool:
        version = await db.fetchval(f'SELECT version FROM "{s}".trades WHERE trade_id = $1', story.trade_id)
        return version == len(story.events)

    await eventually(complete, within=90)
    rows = await db.fetch(
        f'SELECT event_id, topic, partition, "offset", attempts FROM "{s}".events WHERE trade_id = $1',
        story.trade_id,
    )
    assert len(rows) == len({r["event_id"] for r in rows}) == len(story.events)
    stored = next(r for r in rows if r["event_id"] == booking.event_id)
    assert (stored["topic"], stored["partition"], stored["offset"]) == (ack.topic, ack.partition, ack.offset)
    assert stored["attempts"] >= 2  # applied on a retry
    status = await db.fetchval(
        f'SELECT status FROM "{s}".shipments WHERE trade_id = $1 AND shipment_id = $2',
        story.trade_id,
        booking.shipment_id,
    )
    assert status == "DELIVERED"
    assert ledger.ledger.stats.retried_applied >= 1


async def test_a_parked_event_whose_trade_never_comes_is_dead_lettered_after_the_last_retry(
    ledger: InProcessLedger, ledger_setup: LedgerSetup, publish: Any, tail: Any, db: asyncpg.Pool
) -> None:
    story = chromite_story()
    orphan = next(e for e in story.events if isinstance(e, CertificateIssued))
    tails = [await tail(topic) for topic in RETRY_TOPICS]
    dlq = await tail(DLQ_TOPIC)

    (ack,) = await publish(orphan)
    for attempt, retry in enumerate(tails, start=1):
        (parked,) = await retry.wait_for(ours(ledger_setup, orphan.event_id, "retry_consumer_group"))
        assert headers_of(parked)["retry_attempt"] == str(attempt)
    (dead,) = await dlq.wait_for(ours(ledger_setup, orphan.event_id, "dlq_consumer_group"))

    headers = headers_of(dead)
    assert headers["dlq_error_class"] == "PrerequisiteMissing"
    assert "no order yet" in headers["dlq_reason"] and "gave up after 3 retries" in headers["dlq_reason"]
    assert headers["dlq_attempts"] == "4"
    assert (
        headers["dlq_original_topic"],
        headers["dlq_original_partition"],
        headers["dlq_original_offset"],
    ) == (
        ack.topic,
        str(ack.partition),
        str(ack.offset),
    )
    first_seen = dt.datetime.fromisoformat(headers["dlq_first_seen"])
    assert abs(dt.datetime.now(dt.UTC) - first_seen) < dt.timedelta(minutes=5)
    assert not any(name.startswith("retry_") for name in headers)
    assert dead.key == str(story.trade_id).encode()
    s = ledger_setup.db_schema
    assert await db.fetchval(f'SELECT count(*) FROM "{s}".events WHERE trade_id = $1', story.trade_id) == 0


async def test_a_delivery_for_a_shipment_that_never_departed_is_refused_with_the_rule(
    ledger: InProcessLedger, ledger_setup: LedgerSetup, publish: Any, tail: Any, db: asyncpg.Pool
) -> None:
    """Held while its departure may still come (ADR 0029), then dead-lettered naming the rule."""
    story = chromite_story()
    delivery = next(e for e in story.events if isinstance(e, ShipmentDelivered))
    departure = next(
        e for e in story.events if isinstance(e, TransportEventRecorded) and e.transport_event_type == "DEPA"
    )
    dlq = await tail(DLQ_TOPIC)
    before = story.events[: story.events.index(departure)]  # order, admissions, both bookings, no departure
    await publish(*before, delivery)
    (dead,) = await dlq.wait_for(ours(ledger_setup, delivery.event_id, "dlq_consumer_group"))
    headers = headers_of(dead)
    assert headers["dlq_error_class"] == "PrerequisiteMissing"
    assert (
        f"delivery-after-departure: shipment {delivery.shipment_id} is reported delivered"
        in headers["dlq_reason"]
    )
    s = ledger_setup.db_schema
    status = await db.fetchval(
        f'SELECT status FROM "{s}".shipments WHERE trade_id = $1 AND shipment_id = $2',
        story.trade_id,
        delivery.shipment_id,
    )
    assert status == "BOOKED"
    assert await db.fetchval(f'SELECT version FROM "{s}".trades WHERE trade_id = $1', story.trade_id) == len(
        before
    )
