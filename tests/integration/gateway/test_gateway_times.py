"""Times on real Kafka and PostgreSQL (ADR 0026): an estimated departure a year ahead goes through the
stack's gateway to Kafka (record timestamp = publication, business time in the payload, created_at set
by the gateway) and into the stack's ledger; an actual departure tomorrow is refused with 422 naming
``data.occurred_at`` and nothing reaches Kafka."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from corridor.core import partners
from tests.unit.gateway.gateway_samples import STORY_PARTIES, cast, cloudevent

pytestmark = pytest.mark.integration

CE_JSON = {"Content-Type": "application/cloudevents+json"}
TRANSPORT = "corridor.trade.shipments.TransportEventRecorded"


def _fresh_trade(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The story's events under a new trade id (the stack's ledger keeps every trade it was sent)."""
    trade_id = str(uuid.uuid4())
    return [(t, {**d, "trade_id": trade_id, "event_id": str(uuid.uuid4())}) for t, d in events]


@pytest.fixture(scope="module")
def story(stack: Any, database_url: str) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, str]]:
    """A fresh chromite trade whose parties are partners of the stack's gateway and ledger: (events, keys)."""
    c = cast()

    async def add() -> dict[str, str]:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            await partners.ensure_schema(pool)
            keys = {}
            for story_id, party in STORY_PARTIES.items():
                partner_id = c.partner(story_id)
                _, keys[partner_id] = await partners.add_partner(
                    pool, partner_id, str(party.role), partner_id
                )
            return keys
        finally:
            await pool.close()

    return _fresh_trade(c.events), asyncio.run(add())


def _post(http: httpx.Client, keys: dict[str, str], event_type: str, data: dict[str, Any]) -> httpx.Response:
    return http.post(
        "/v1/events",
        content=json.dumps(cloudevent(event_type, data)),
        headers={**CE_JSON, "Authorization": f"Bearer {keys[data['sender']]}"},
    )


def _departure(events: list[tuple[str, dict[str, Any]]], classifier: str) -> dict[str, Any]:
    return next(
        dict(d)
        for t, d in events
        if t == TRANSPORT and d["transport_event_type"] == "DEPA" and d["classifier"] == classifier
    )


def test_an_eta_a_year_ahead_is_accepted_end_to_end_and_an_actual_tomorrow_is_refused(
    stack: Any, story: tuple[list[tuple[str, dict[str, Any]]], dict[str, str]], kafka: Any
) -> None:
    events, keys = story
    booking = next(i for i, (t, _) in enumerate(events) if t.endswith("ShipmentBooked"))
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        for event_type, data in events[: booking + 1]:  # order, responses, admissions, booking
            answer = _post(http, keys, event_type, data)
            assert answer.status_code == 201, (event_type, answer.text)

        ahead = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=365)
        eta = _departure(events, "EST") | {"occurred_at": ahead.isoformat()}
        sent_ms = time.time() * 1000
        answer = _post(http, keys, TRANSPORT, eta)
        assert answer.status_code == 201, answer.text  # Kafka 4 refuses record timestamps an hour ahead
        placed = answer.json()
        record = kafka.record(placed["topic"], placed["partition"], placed["offset"])
        assert record.event.occurred_at == ahead  # the business time stays in the payload
        assert abs(record.timestamp_ms - sent_ms) < 60_000  # the record timestamp is the publication
        created = record.event.created_at  # set by the gateway, as the sender left it out
        assert created is not None and abs(created.timestamp() * 1000 - sent_ms) < 60_000

        # a retry of the same event (again without created_at) is the same event, not a conflict
        again = _post(http, keys, TRANSPORT, eta)
        assert again.status_code == 201, again.text
        assert again.json() == placed and again.headers["idempotent-replayed"] == "true"

        tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        actual = _departure(events, "ACT") | {"occurred_at": tomorrow.isoformat()}
        refused = _post(http, keys, TRANSPORT, actual)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert [e["field"] for e in problem["errors"]] == ["data.occurred_at"]
        assert "actual (ACT) DEPA" in problem["errors"][0]["reason"]
        assert kafka.count(placed["topic"], placed["partition"], actual["event_id"], placed["offset"]) == 0

    # the stack's ledger applied the estimate: the buyer reads a departure estimated a year ahead
    buyer = next(d["sender"] for t, d in events if t.endswith("OrderPlaced"))
    trade_id = eta["trade_id"]
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=stack.ledger_url, timeout=10) as http:
        while True:
            answer = http.get(f"/v1/trades/{trade_id}", headers={"X-API-Key": keys[buyer]})
            milestones = (
                [m for s in answer.json().get("shipments", []) for m in s["milestones"]]
                if answer.status_code == 200
                else []
            )
            depa = [m for m in milestones if m["event_type"] == "DEPA"]
            if depa or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert depa, f"the ledger did not apply the estimate within 60 s: {answer.status_code} {answer.text}"
    (milestone,) = depa
    assert milestone["classifier"] == "EST" and milestone["actual"] is None
    assert dt.datetime.fromisoformat(milestone["estimated"]) == ahead
