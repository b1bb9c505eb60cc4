"""Partners receive only what the ledger accepted (ADR 0027), on the session's stack: Kafka, PostgreSQL,
the registry, the ledger and the relay, all real.

A trade's events are produced straight to the trade topics (past the gateway, as a compromised or
buggy producer could), with three the ledger must refuse slipped in between them: a second order for
the same trade, an order response from a party the trade never admitted, and a departure of a
shipment nobody booked (waiting for a booking that never comes). The partner topics then hold every
accepted event exactly once and none of the refused ones, and the senders' receipts say why.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from corridor.core.domain.events import OrderPlaced, OrderResponded, TransportEventRecorded
from corridor.core.routing import partner_topic
from tests.integration.relay.relay_helpers import (
    RelayProcess,
    SecureStack,
    add_partner,
    header,
    publish,
    read_topic,
    story_trade,
)

pytestmark = pytest.mark.integration


def receipt(stack: SecureStack, api_key: str, event_id: uuid.UUID, wait_s: float = 10) -> dict[str, Any]:
    response = httpx.get(
        f"{stack.config.ledger_url}/v1/events/{event_id}",
        params={"wait_s": wait_s},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=wait_s + 10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_refused_events_never_reach_a_partner(partner_stack: SecureStack, relay: RelayProcess) -> None:
    suffix = uuid.uuid4().hex[:8]
    trade = story_trade("explosives", suffix)
    order = trade.events[0]
    assert isinstance(order, OrderPlaced)
    buyer, supplier = order.buyer.party_id, order.supplier.party_id
    buyer_key = add_partner(partner_stack, buyer, "BUYER")["api_key"]
    stranger = f"stranger-{suffix}"
    stranger_key = add_partner(partner_stack, stranger, "SUPPLIER")["api_key"]

    second_order = order.model_copy(update={"event_id": uuid.uuid4()})
    response = next(e for e in trade.events if isinstance(e, OrderResponded))
    impostor = response.model_copy(update={"event_id": uuid.uuid4(), "sender": stranger})
    departure = next(e for e in trade.events if isinstance(e, TransportEventRecorded))
    orphan = departure.model_copy(update={"event_id": uuid.uuid4(), "shipment_id": f"NEVER-{suffix}"})
    refused = [second_order, impostor, orphan]
    events = [order, second_order, *trade.events[1:3], impostor, orphan, *trade.events[3:]]
    asyncio.run(publish(partner_stack, events))

    # every party gets its accepted events (the last one published after the refused ones) …
    owed = {p: trade.receives(p) for p in trade.parties}
    deadline = time.monotonic() + 90
    while True:
        got = {p: asyncio.run(read_topic(partner_stack.bootstrap, partner_topic(p))) for p in owed}
        if all(len(got[p]) >= len(owed[p]) for p in owed) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    refused_ids = {str(e.event_id) for e in refused}
    for partner_id, records in got.items():
        ids = [header(r, "ce_id") for r in records]
        # … exactly once, and none of the refused events
        assert sorted(ids) == sorted(str(e.event_id) for e in owed[partner_id]), partner_id
        assert not refused_ids & set(ids), partner_id
        # each copy names the ledger's position, in increasing order
        positions = [int(header(r, "corridor_ledger_seq") or 0) for r in records]
        assert positions == sorted(positions) and all(positions), partner_id
    assert not asyncio.run(read_topic(partner_stack.bootstrap, partner_topic(stranger)))

    # the senders' receipts: the first order accepted, the second rejected with the rule it broke; the
    # impostor waits to be admitted (a party admitted later could send it: ADR 16) until it expires
    accepted = receipt(partner_stack, buyer_key, order.event_id)
    assert accepted["status"] == "accepted" and accepted["position"] >= 1
    second = receipt(partner_stack, buyer_key, second_order.event_id)
    assert (second["status"], second["rule"]) == ("rejected", "LifecycleViolation"), second
    waiting = receipt(partner_stack, stranger_key, impostor.event_id, wait_s=0)
    assert waiting["status"] == "pending" and stranger in waiting["reason"], waiting
    # a receipt is its sender's only: the supplier's key does not open the buyer's
    supplier_key = add_partner(partner_stack, supplier, "SUPPLIER")["api_key"]
    other = httpx.get(
        f"{partner_stack.config.ledger_url}/v1/events/{order.event_id}",
        headers={"Authorization": f"Bearer {supplier_key}"},
        timeout=10,
    )
    assert other.status_code == 404
