"""Receipts (ADR 0027): every sender learns what the ledger decided about each event it published.

A real gateway and a real ledger (its own consumer group, PostgreSQL schema and accepted stream, the
module's partners) on the session's Kafka and PostgreSQL. Short retry tiers (1 s) let a parked event
expire within the test. The gateway refuses most events a ledger would have to park (a departure of a
shipment not booked is a 403), so those are produced straight to the trade topics, as a partner's
records that passed an older gateway would be; their receipts come from the ledger all the same.
Checked in each case: the sender's receipt (through the gateway and the ledger),
that only the sender gets it, and that the accepted stream carries every accepted event once, in the
order the ledger applied them, and never a rejected or pending one.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from corridor.core.codec import Codec
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.kafka import TradeProducer
from corridor.core.registry_client import RegistryClient
from corridor.ledger.settings import LedgerSettings
from tests.integration.ledger.ledger_helpers import InProcessLedger, delete_topics, drop_schemas, unique
from tests.integration.relay.relay_helpers import header, read_topic
from tests.unit.gateway.gateway_samples import cloudevent, new_ids

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CE_JSON = {"Content-Type": "application/cloudevents+json"}


@pytest.fixture(scope="module")
def receipts_ledger(stack: Any, database_url: str, schemas: Any, loop: Any) -> Iterator[InProcessLedger]:
    group = unique("it-receipts")
    settings = LedgerSettings(
        database_url=database_url,
        bootstrap_servers=stack.bootstrap_servers,
        schema_registry_url=stack.schema_registry_url,
        ledger_group_id=group,
        ledger_db_schema=unique("ledger_rc"),
        ledger_partners_schema=schemas.partners,
        ledger_start_from="latest",
        ledger_accepted_topic=f"{group}.accepted",
        ledger_retry_delays_s="1,1,1",
        ledger_hold_s=0.5,
        ledger_max_hold_s=1.0,
        log_level="WARNING",
    )
    server = InProcessLedger(settings)
    server.start()
    deadline = time.monotonic() + 60
    while httpx.get(f"{server.url}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the receipts ledger did not get ready"
        time.sleep(0.2)
    yield server
    server.stop()
    loop.run(drop_schemas(database_url, settings.ledger_db_schema))
    loop.run(delete_topics(stack.bootstrap_servers, [settings.ledger_accepted_topic]))


@pytest.fixture(scope="module")
def client(gateway: Any, receipts_ledger: InProcessLedger, settings: Any) -> Iterator[httpx.Client]:
    from tests.integration.gateway.conftest import RunningGateway

    server = RunningGateway(settings.model_copy(update={"ledger_url": receipts_ledger.url})).start()
    with httpx.Client(base_url=server.url, timeout=60.0) as http:
        yield http
    server.stop()


def post(client: httpx.Client, trade: Any, event_type: str, data: dict[str, Any], **params: Any) -> Any:
    response = client.post(
        "/v1/events",
        params=params,
        content=json.dumps(cloudevent(event_type, data)),
        headers={**CE_JSON, **trade.auth(data["sender"])},
    )
    assert response.status_code == 201, (event_type, response.text)
    return response.json()


def receipt(client: httpx.Client, trade: Any, event_id: str, sender: str, **params: Any) -> httpx.Response:
    return client.get(f"/v1/events/{event_id}", params=params, headers=trade.auth(sender))


def until(client: httpx.Client, trade: Any, event_id: str, sender: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = receipt(client, trade, event_id, sender, wait_s=2)
        body: dict[str, Any] = response.json()
        if response.status_code == 200 and body["status"] == status:
            return body
        assert time.monotonic() < deadline, f"receipt never {status}: {response.status_code} {body}"


def accepted_ids(ledger: InProcessLedger) -> list[str]:
    settings = ledger.settings
    records = asyncio.run(read_topic(settings.bootstrap_servers, settings.ledger_accepted_topic))
    return [header(r, "ce_id") or "" for r in records]


def produce(stack: Any, trade: Any, event_type: str, data: dict[str, Any]) -> None:
    """One event straight to its trade topic (acks=all), past the gateway."""

    async def send() -> None:
        async with RegistryClient(stack.schema_registry_url) as registry:
            async with TradeProducer(stack.bootstrap_servers, Codec(registry)) as producer:
                await producer.publish(EVENT_TYPES[event_type].model_validate(data))

    asyncio.run(send())


def story(trade: Any, *types: str) -> list[tuple[str, dict[str, Any]]]:
    wanted = set(types)
    return [(t, d) for t, d in trade.cast.events if t.rsplit(".", 1)[-1] in wanted]


def story_before(trade: Any, short_type: str) -> list[tuple[str, dict[str, Any]]]:
    """The story's events before its first ``short_type`` (the order agreed, the parties admitted)."""
    events = trade.cast.events
    end = next(i for i, (t, _) in enumerate(events) if t.rsplit(".", 1)[-1] == short_type)
    return list(events[:end])


def test_an_accepted_event_and_a_refused_second_order(client: httpx.Client, trade: Any) -> None:
    [(order_type, order)] = story(trade, "OrderPlaced")
    first = post(client, trade, order_type, order, wait="accepted", wait_s=20)
    assert first["status"] == "accepted" and first["receipt_url"] == f"/v1/events/{order['event_id']}"
    assert first["receipt"]["position"] >= 1 and first["receipt"]["trade_id"] == order["trade_id"]

    again = new_ids(order)  # a second order on the same trade: acknowledged, then refused by the ledger
    second = post(client, trade, order_type, again, wait="accepted", wait_s=20)
    assert second["status"] == "rejected", second
    assert second["receipt"]["rule"] == "LifecycleViolation" and second["receipt"]["reason"]

    # through GET as well, and only for the sender: the supplier and a stranger get 404, like unknown ids
    body = receipt(client, trade, again["event_id"], order["sender"]).json()
    assert (body["status"], body["rule"]) == ("rejected", "LifecycleViolation")
    supplier = trade.cast.supplier
    assert receipt(client, trade, again["event_id"], supplier).status_code == 404
    assert receipt(client, trade, str(uuid.uuid4()), order["sender"]).status_code == 404
    assert receipt(client, trade, "not-a-uuid", order["sender"]).status_code == 422
    assert client.get(f"/v1/events/{order['event_id']}").status_code == 401


def test_pending_until_its_prerequisite_comes_then_accepted(
    client: httpx.Client, trade: Any, receipts_ledger: InProcessLedger, stack: Any
) -> None:
    events = story_before(trade, "ShipmentBooked")
    for event_type, data in events:
        assert post(client, trade, event_type, data, wait="accepted", wait_s=20)["status"] == "accepted"
    [(transport_type, departure)] = story(trade, "TransportEventRecorded")[:1]
    # the carrier's departure of a shipment it has not booked yet: it waits for the booking
    produce(stack, trade, transport_type, departure)
    pending = until(client, trade, departure["event_id"], departure["sender"], "pending")
    assert pending["reason"] and pending["rule"] is None
    [(booking_type, booking)] = story(trade, "ShipmentBooked")[:1]
    post(client, trade, booking_type, booking)
    events.append((booking_type, booking))
    accepted = until(client, trade, departure["event_id"], departure["sender"], "accepted")
    booked = until(client, trade, booking["event_id"], booking["sender"], "accepted")
    assert booked["position"] < accepted["position"]  # the ledger applied the booking first

    # the accepted stream: each accepted event once, in the ledger's order (the booking before the departure)
    deadline = time.monotonic() + 30
    wanted = [d["event_id"] for _, d in events] + [departure["event_id"]]
    while not set(wanted) <= set(ids := accepted_ids(receipts_ledger)):
        assert time.monotonic() < deadline, "the accepted events did not all reach the accepted stream"
        time.sleep(0.5)
    mine = [i for i in ids if i in set(wanted)]
    assert len(mine) == len(set(mine)) == len(wanted)
    assert mine.index(booking["event_id"]) < mine.index(departure["event_id"])


def test_pending_until_it_expires_then_rejected(
    client: httpx.Client, trade: Any, receipts_ledger: InProcessLedger, stack: Any
) -> None:
    for event_type, data in story_before(trade, "ShipmentBooked"):
        assert post(client, trade, event_type, data, wait="accepted", wait_s=20)["status"] == "accepted"
    [(transport_type, departure)] = story(trade, "TransportEventRecorded")[:1]
    orphan = {**new_ids(departure), "shipment_id": "NEVER-BOOKED-1"}
    produce(stack, trade, transport_type, orphan)
    seen = receipt(client, trade, orphan["event_id"], orphan["sender"], wait_s=5).json()
    assert seen["status"] in ("pending", "rejected"), seen
    rejected = until(client, trade, orphan["event_id"], orphan["sender"], "rejected")
    assert rejected["rule"] == "PrerequisiteMissing" and "gave up" in rejected["reason"]
    assert orphan["event_id"] not in accepted_ids(receipts_ledger)
