"""Several webhook dispatchers on one PostgreSQL: a delivery and a redelivery are posted once (ADR 12).

Two ``Dispatcher`` objects are two replicas (each its own owner id) on the real ``WebhookStore`` and a
real reference receiver over HTTP. A record both read (a partition moving in a rebalance while its
first owner still retries) is posted by one; two redelivery requests that reached two replicas post
each dead letter once. Kafka plays no part in these paths (the consumer side is
``test_webhooks_dispatch.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from corridor.webhooks.dispatcher import Dispatcher
from corridor.webhooks.receiver import Receiver
from corridor.webhooks.secrets_box import SecretBox, new_key
from corridor.webhooks.settings import WebhooksSettings
from corridor.webhooks.store import DeliveryClaim, WebhookStore
from corridor.webhooks.subscriptions import Filters, Subscription
from tests.integration.ledger.ledger_helpers import drop_schemas, unique
from tests.integration.webhooks.webhooks_helpers import FlakyFront, ServerThread

pytestmark = pytest.mark.integration

SECRET = "whsec_replicas-test-secret"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[WebhookStore]:
    schema = unique("webhooks_rep")
    opened = await WebhookStore.open(database_url, SecretBox.from_text(new_key()), db_schema=schema)
    try:
        yield opened
    finally:
        await opened.close()
        await drop_schemas(database_url, schema)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[FlakyFront, str]]:
    front = FlakyFront(Receiver(SECRET))
    server = ServerThread(front, "receiver").start()
    try:
        yield front, f"{server.url}/corridor/events"
    finally:
        await asyncio.to_thread(server.stop)


def replica(store: WebhookStore) -> Dispatcher:
    settings = WebhooksSettings(
        webhooks_max_attempts=4,
        webhooks_backoff_base_s=0.05,
        webhooks_backoff_max_s=0.2,
        webhooks_timeout_s=5,
    )
    return Dispatcher(settings=settings, store=store, codec=None, http=httpx.AsyncClient())  # type: ignore[arg-type]


def document(event_id: str) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "type": "corridor.trade.orders.OrderPlaced", "data": {}}


async def subscribe(store: WebhookStore, url: str) -> Subscription:
    return await store.create_subscription(
        f"replicas-{uuid.uuid4().hex[:6]}", url, SECRET, Filters(), max_per_partner=5, verified=True
    )


def delivered(front: FlakyFront, event_id: str) -> int:
    return sum(1 for hit in front.hits if hit.event_id == event_id and hit.status == 200)


async def test_a_record_read_by_two_replicas_is_posted_once(
    store: WebhookStore, receiver: tuple[FlakyFront, str]
) -> None:
    front, url = receiver
    subscription = await subscribe(store, url)
    front.fail_next = 2  # the first owner retries while the other reads the same record
    first, second = replica(store), replica(store)
    event_id = str(uuid.uuid4())
    origin = ("partner.replicas.v1", 0, 42)
    await asyncio.gather(
        first._deliver_or_dead_letter(subscription, document(event_id), origin),
        second._deliver_or_dead_letter(subscription, document(event_id), origin),
    )
    assert delivered(front, event_id) == 1 and len(front.hits) == 3
    assert sorted([first.stats.already_delivered, second.stats.already_delivered]) == [0, 1]
    # a third replica reading it later (a restart, a group reset within the retention) skips it
    third = replica(store)
    await third._deliver_or_dead_letter(subscription, document(event_id), origin)
    assert delivered(front, event_id) == 1 and third.stats.already_delivered == 1


async def test_claims_are_owned_busy_done_and_taken_over_when_stale(
    store: WebhookStore, receiver: tuple[FlakyFront, str]
) -> None:
    _, url = receiver
    subscription = await subscribe(store, url)
    a, b = uuid.uuid4(), uuid.uuid4()
    assert await store.claim_delivery(subscription.id, "e1", a, 60) is DeliveryClaim.OWNED
    assert await store.claim_delivery(subscription.id, "e1", a, 60) is DeliveryClaim.OWNED  # again: its own
    assert await store.claim_delivery(subscription.id, "e1", b, 60) is DeliveryClaim.BUSY
    assert await store.touch_delivery(subscription.id, "e1", a)
    await asyncio.sleep(1.2)
    assert await store.claim_delivery(subscription.id, "e1", b, 1) is DeliveryClaim.OWNED  # a went quiet
    assert not await store.touch_delivery(subscription.id, "e1", a)  # and learns it lost the claim
    await store.finish_delivery(subscription.id, "e1", b, delivered=True)
    assert await store.claim_delivery(subscription.id, "e1", a, 0) is DeliveryClaim.DONE
    assert await store.expire_deliveries(3600) == 0
    await asyncio.sleep(1.1)
    assert await store.expire_deliveries(1) == 1  # finished rows go after the retention
    await store.delete_subscription(subscription.id, subscription.partner_id)
    assert await store.claim_delivery(subscription.id, "e2", a, 60) is DeliveryClaim.DONE  # gone


async def test_two_redelivery_requests_post_each_dead_letter_once(
    store: WebhookStore, receiver: tuple[FlakyFront, str]
) -> None:
    front, url = receiver
    subscription = await subscribe(store, url)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    now = dt.datetime.now(dt.UTC)
    for event_id in ids:
        await store.add_dead_letter(
            subscription,
            document(event_id),
            origin=("partner.replicas.v1", 0, 1),
            attempts=8,
            last_status=503,
            last_error="HTTP 503",
            first_attempt_at=now,
        )
    letters = await store.dead_letters(subscription.id, pending_only=True)
    first, second = replica(store), replica(store)
    counts = await asyncio.gather(
        first.redeliver(subscription, letters), second.redeliver(subscription, letters)
    )
    assert sum(counts) == 3
    assert [delivered(front, event_id) for event_id in ids] == [1, 1, 1]
    assert not await store.dead_letters(subscription.id, pending_only=True)
