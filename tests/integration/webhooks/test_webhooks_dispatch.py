"""Partner topic → signed deliveries through real Kafka, PostgreSQL and HTTP: a receiver that fails the
first deliveries gets every event once it recovers, signed and in order; filters; the receiver's
rejections over HTTP."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from corridor.demo.story import chromite_story
from corridor.webhooks import signing
from corridor.webhooks.subscriptions import locations_of
from tests.integration.ledger.ledger_helpers import eventually
from tests.integration.webhooks.conftest import MAX_ATTEMPTS, Partner, Webhooks
from tests.integration.webhooks.webhooks_helpers import produce_as_relay

pytestmark = pytest.mark.integration

SECRET = "whsec_integration-secret-ab12"


async def subscribe(http: httpx.AsyncClient, partner: Partner, url: str, **filters: Any) -> dict[str, Any]:
    response = await http.post(
        "/v1/subscriptions", json={"callback_url": url, "secret": SECRET, **filters}, headers=partner.auth
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_recovering_receiver_gets_every_event_once_signed_and_in_order(
    webhooks: Webhooks, partner: Partner, receivers: Any, codec: Any
) -> None:
    story, other = chromite_story(), chromite_story()
    # up to and including the first certificate (after the order negotiation and the admissions)
    n = 1 + next(i for i, e in enumerate(story.events) if e.avro_name.endswith("CertificateIssued"))
    events = story.events[:n]
    front, url = receivers(SECRET)
    front.fail_next = MAX_ATTEMPTS - 1  # the first event gets through on its last attempt
    karachi, karachi_url = receivers(SECRET)
    async with httpx.AsyncClient(base_url=webhooks.url, timeout=10) as http:
        await subscribe(http, partner, url, trade_id=str(story.trade_id))
        await subscribe(http, partner, karachi_url, location="PKKHI")

        # the relay writes the partner topic: this trade, interleaved with another one of the partner's
        mixed = [e for pair in zip(events, other.events[:n], strict=True) for e in pair]
        await produce_as_relay(webhooks.settings.bootstrap_servers, codec, partner.topic, *mixed)

        wanted = [str(e.event_id) for e in events]
        await eventually(lambda: len(front.receiver.events) >= len(wanted), within=60)
        at_karachi = [str(e.event_id) for e in mixed if "PKKHI" in locations_of(e)]
        await eventually(lambda: len(karachi.receiver.events) >= len(at_karachi), within=60)

    # each event once, in order, with its data; the first one after 3 refusals
    assert [d["id"] for d in front.receiver.events] == wanted
    first = [h for h in front.hits if h.event_id == wanted[0]]
    assert [(h.attempt, h.status) for h in first] == [("1", 503), ("2", 503), ("3", 503), ("4", 200)]
    assert all(h.status == 200 and h.attempt == "1" for h in front.hits if h.event_id != wanted[0])
    # per-partner order: event n+1 reached the receiver only after event n succeeded
    firsts = {h.event_id: h.at for h in reversed(front.hits)}
    assert [firsts[i] for i in wanted] == sorted(firsts[i] for i in wanted)
    delivered = front.receiver.events[0]
    assert delivered["type"] == "corridor.trade.orders.OrderPlaced" and delivered["specversion"] == "1.0"
    assert delivered["partitionkey"] == str(story.trade_id)
    assert delivered["data"]["order_id"] == "TJRD-PO-2026-0117"
    assert delivered["data"]["lines"][0]["unit_price"] == {
        "amount": "285.5000",
        "currency": "USD",
    }  # Avro scale
    (certificate,) = [d for d in front.receiver.events if d["type"].endswith("CertificateIssued")]
    assert certificate["signatureverdict"] == "unsigned"  # the relay's verdict header, passed on
    assert "signatureverdict" not in delivered
    # the location filter: only events naming Karachi, of both trades, in the topic's order per trade
    assert sorted(d["id"] for d in karachi.receiver.events) == sorted(at_karachi)
    assert 0 < len(at_karachi) < len(mixed)
    for trade in (story, other):
        mine = [d["id"] for d in karachi.receiver.events if d["partitionkey"] == str(trade.trade_id)]
        assert mine == [i for i in at_karachi if i in {str(e.event_id) for e in trade.events}]
    assert webhooks.dispatcher.stats.dead_lettered == 0


async def test_the_receiver_rejects_a_bad_signature_an_old_timestamp_and_a_replay(receivers: Any) -> None:
    front, url = receivers(SECRET)
    body = json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "type": "x", "data": {}}).encode()
    now = int(time.time())
    async with httpx.AsyncClient(timeout=5) as http:

        async def post(header: str) -> httpx.Response:
            return await http.post(url, content=body, headers={signing.HEADER: header})

        bad = await post(signing.sign("whsec_someone-else-entirely", body, timestamp=now))
        assert bad.status_code == 401 and "bad_signature" in bad.text
        old = await post(signing.sign(SECRET, body, timestamp=now - 3600))
        assert old.status_code == 401 and "stale" in old.text
        header = signing.sign(SECRET, body, timestamp=now)
        assert (await post(header)).status_code == 200
        assert (await post(header)).status_code == 409  # the very same request again
        fresh = await post(signing.sign(SECRET, body, timestamp=now + 1))
        assert fresh.status_code == 200 and "duplicate" in fresh.text  # a retry: acknowledged, not redone
    assert len(front.receiver.events) == 1
