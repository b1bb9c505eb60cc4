"""After the attempt limit a delivery is dead-lettered, the next event goes on, and the dead letter can
be redelivered once the receiver works again (real Kafka, PostgreSQL, HTTP)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from corridor.demo.story import chromite_story
from tests.integration.ledger.ledger_helpers import eventually
from tests.integration.webhooks.conftest import MAX_ATTEMPTS, Partner, Webhooks
from tests.integration.webhooks.webhooks_helpers import produce_as_relay

pytestmark = pytest.mark.integration

SECRET = "whsec_dead-letter-secret-77"


async def test_dead_lettered_after_the_limit_then_redelivered(
    webhooks: Webhooks, partner: Partner, receivers: Any, codec: Any
) -> None:
    events = chromite_story().events[:3]
    ids = [str(e.event_id) for e in events]
    front, url = receivers(SECRET)
    front.fail_ids = {ids[0]}  # the receiver cannot take the first event, whatever happens
    async with httpx.AsyncClient(base_url=webhooks.url, timeout=10, headers=partner.auth) as http:
        created = await http.post("/v1/subscriptions", json={"callback_url": url, "secret": SECRET})
        sid = created.json()["id"]
        await produce_as_relay(webhooks.settings.bootstrap_servers, codec, partner.topic, *events)

        await eventually(lambda: [d["id"] for d in front.receiver.events] == ids[1:], within=60)
        tries = [h for h in front.hits if h.event_id == ids[0]]
        assert [h.attempt for h in tries] == [str(n) for n in range(1, MAX_ATTEMPTS + 1)]
        # the next event only after the first was given up
        assert min(h.at for h in front.hits if h.event_id == ids[1]) > max(h.at for h in tries)

        async def pending() -> list[dict[str, Any]]:
            response = await http.get(f"/v1/subscriptions/{sid}/dead-letters", params={"pending": "true"})
            return list(response.json()["items"])

        (letter,) = await eventually(pending, within=10)
        assert letter["event_id"] == ids[0] and letter["event_type"] == "corridor.trade.orders.OrderPlaced"
        assert (letter["attempts"], letter["last_status"], letter["last_error"]) == (
            MAX_ATTEMPTS,
            503,
            "HTTP 503",
        )
        assert letter["topic"] == partner.topic and letter["redelivered_at"] is None

        # still failing: redelivery gives up again, the letter stays pending with more attempts
        response = await http.post(f"/v1/subscriptions/{sid}/redeliver", params={"wait": "true"})
        assert response.status_code == 200 and response.json() == {
            "queued": 1,
            "dead_letter_ids": [letter["id"]],
            "delivered": 0,
        }
        (again,) = await pending()
        assert again["attempts"] == 2 * MAX_ATTEMPTS

        # the receiver is fixed: one more redelivery gets it there
        front.fail_ids.clear()
        response = await http.post(
            f"/v1/subscriptions/{sid}/redeliver", json={"dead_letter_ids": [letter["id"]]}
        )
        assert response.status_code == 202 and response.json()["queued"] == 1
        await eventually(lambda: [d["id"] for d in front.receiver.events] == [*ids[1:], ids[0]], within=30)
        assert await eventually(lambda: _redelivered(http, sid), within=10)
        assert await pending() == []
        response = await http.post(f"/v1/subscriptions/{sid}/redeliver", params={"wait": "true"})
        assert response.json()["queued"] == 0

        # another partner sees none of it
        assert webhooks.dispatcher.stats.dead_lettered >= 1


async def _redelivered(http: httpx.AsyncClient, sid: str) -> bool:
    items = (await http.get(f"/v1/subscriptions/{sid}/dead-letters")).json()["items"]
    return len(items) == 1 and items[0]["redelivered_at"] is not None
