"""The dispatcher's delivery loop without Kafka: retries with backoff, fresh signatures, Retry-After,
the attempt limit, a subscription deleted meanwhile, redelivery on the partner's worker."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
import uuid
from typing import Any

import httpx
import pytest

from corridor.webhooks import signing
from corridor.webhooks.dispatcher import Dispatcher
from corridor.webhooks.settings import WebhooksSettings
from corridor.webhooks.store import DeadLetter, DeliveryClaim
from corridor.webhooks.subscriptions import Subscription

SECRET = "whsec_retry-test-secret"
DOC = {"specversion": "1.0", "id": "ev-1", "type": "corridor.trade.orders.OrderPlaced", "data": {}}


class FakeStore:
    """The store calls the delivery loop makes, in memory."""

    def __init__(self) -> None:
        self.subs: list[Subscription] = []
        self.redelivered: list[tuple[uuid.UUID, int]] = []
        self.failed: list[tuple[uuid.UUID, int, int | None]] = []
        self.verified: list[uuid.UUID] = []

    async def mark_verified(self, subscription_id: uuid.UUID) -> None:
        self.verified.append(subscription_id)

    async def subscriptions(self, partner_id: str) -> list[Subscription]:
        return [s for s in self.subs if s.partner_id == partner_id]

    async def mark_redelivered(self, dead_letter_id: uuid.UUID, attempts: int) -> None:
        self.redelivered.append((dead_letter_id, attempts))

    # delivery claims, as the table keeps them (services/webhooks/store.py): (state, owner, when)
    claims: dict[tuple[uuid.UUID, str], tuple[str, uuid.UUID, float]]
    letter_claims: dict[uuid.UUID, tuple[uuid.UUID, float]]

    async def claim_delivery(
        self, subscription_id: uuid.UUID, event_id: str, owner: uuid.UUID, stale_after_s: float
    ) -> DeliveryClaim:
        claims = self.__dict__.setdefault("claims", {})
        now = time.monotonic()
        held = claims.get((subscription_id, event_id))
        if held is None or (held[0] == "delivering" and (held[1] == owner or now - held[2] > stale_after_s)):
            claims[(subscription_id, event_id)] = ("delivering", owner, now)
            return DeliveryClaim.OWNED
        return DeliveryClaim.BUSY if held[0] == "delivering" else DeliveryClaim.DONE

    async def touch_delivery(self, subscription_id: uuid.UUID, event_id: str, owner: uuid.UUID) -> bool:
        held = self.__dict__.setdefault("claims", {}).get((subscription_id, event_id))
        if held is None or held[1] != owner:
            return False
        self.claims[(subscription_id, event_id)] = (held[0], owner, time.monotonic())
        return True

    async def finish_delivery(
        self, subscription_id: uuid.UUID, event_id: str, owner: uuid.UUID, *, delivered: bool
    ) -> None:
        self.claims[(subscription_id, event_id)] = (
            "delivered" if delivered else "dead_lettered",
            owner,
            time.monotonic(),
        )

    async def add_dead_letter(
        self, subscription: Subscription, document: dict[str, Any], **_: Any
    ) -> uuid.UUID:
        return uuid.uuid4()

    async def claim_dead_letters(self, ids: Any, owner: uuid.UUID, stale_after_s: float) -> set[uuid.UUID]:
        claims = self.__dict__.setdefault("letter_claims", {})
        done = {d for d, _ in self.redelivered}
        mine = set()
        for letter_id in ids:
            held = claims.get(letter_id)
            if letter_id not in done and (held is None or held[0] == owner):
                claims[letter_id] = (owner, time.monotonic())
                mine.add(letter_id)
        return mine

    async def redelivery_failed(
        self, dead_letter_id: uuid.UUID, attempts: int, status: int | None, error: Any
    ) -> None:
        self.failed.append((dead_letter_id, attempts, status))


class Endpoint:
    """An HTTP endpoint that answers from a script, then 200; it records every request."""

    def __init__(self, *answers: int | httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, httpx.Response) else httpx.Response(answer)


def dispatcher(endpoint: Endpoint, store: FakeStore, **settings: Any) -> Dispatcher:
    config = WebhooksSettings(
        webhooks_max_attempts=settings.pop("max_attempts", 5),
        webhooks_backoff_base_s=0.01,
        webhooks_backoff_max_s=0.04,
        webhooks_subscription_ttl_s=0,
        **settings,
    )
    return Dispatcher(
        settings=config,
        store=store,  # type: ignore[arg-type]
        codec=None,  # type: ignore[arg-type]
        http=httpx.AsyncClient(transport=httpx.MockTransport(endpoint)),
        rng=random.Random(1),
    )


@pytest.fixture
def store() -> FakeStore:
    fake = FakeStore()
    fake.subs.append(
        Subscription(
            uuid.uuid4(),
            "tianjin-rongda-smelting",
            "https://erp.example.com/hooks",
            SECRET,
            verified_at=dt.datetime.now(dt.UTC),  # confirmed by its endpoint when it was made
        )
    )
    return fake


async def test_retries_until_delivered_each_attempt_signed_afresh(store: FakeStore) -> None:
    endpoint = Endpoint(503, 500, httpx.ConnectError("refused"))
    d = dispatcher(endpoint, store)
    outcome = await d.deliver(store.subs[0], DOC)
    assert outcome is not None and outcome.delivered and outcome.attempts == 4
    assert [r.headers["Corridor-Attempt"] for r in endpoint.requests] == ["1", "2", "3", "4"]
    assert len({r.headers["Corridor-Delivery"] for r in endpoint.requests}) == 1
    for request in endpoint.requests:
        assert signing.verify(request.headers["Corridor-Signature"], request.content, SECRET)
        assert json.loads(request.content) == DOC
        assert request.headers["Content-Type"].startswith("application/cloudevents+json")
    assert d.stats.failed_attempts == 3 and d.stats.delivered == 1
    await d.stop()


async def test_gives_up_after_the_attempt_limit(store: FakeStore) -> None:
    endpoint = Endpoint(*[500] * 10)
    d = dispatcher(endpoint, store, max_attempts=3)
    outcome = await d.deliver(store.subs[0], DOC)
    assert outcome is not None and not outcome.delivered
    assert (outcome.attempts, outcome.last_status, outcome.last_error) == (3, 500, "HTTP 500")
    assert len(endpoint.requests) == 3
    await d.stop()


async def test_honours_retry_after_up_to_the_cap(store: FakeStore) -> None:
    endpoint = Endpoint(httpx.Response(429, headers={"Retry-After": "3600"}))
    d = dispatcher(endpoint, store)
    started = dt.datetime.now(dt.UTC)
    outcome = await d.deliver(store.subs[0], DOC)
    waited = (dt.datetime.now(dt.UTC) - started).total_seconds()
    assert outcome is not None and outcome.delivered and outcome.attempts == 2
    assert 0.03 <= waited < 1.0  # the cap (0.04 s), not an hour
    await d.stop()


async def test_stops_retrying_once_the_subscription_is_deleted(store: FakeStore) -> None:
    endpoint = Endpoint(500)
    d = dispatcher(endpoint, store)
    subscription = store.subs.pop()  # deleted while the first attempt was under way
    assert await d.deliver(subscription, DOC) is None
    assert len(endpoint.requests) == 1
    await d.stop()


async def test_redelivery_marks_what_got_through(store: FakeStore) -> None:
    endpoint = Endpoint(*[500] * 2)  # the first letter fails twice (the limit), the second goes through
    d = dispatcher(endpoint, store, max_attempts=2)
    now = dt.datetime.now(dt.UTC)
    letters = [
        DeadLetter(
            uuid.uuid4(),
            store.subs[0].id,
            "tianjin-rongda-smelting",
            f"ev-{n}",
            "t",
            None,
            None,
            None,
            None,
            {**DOC, "id": f"ev-{n}"},
            8,
            500,
            "HTTP 500",
            now,
            now,
        )
        for n in (1, 2)
    ]
    assert await d.redeliver(store.subs[0], letters) == 1
    assert store.failed == [(letters[0].id, 2, 500)] and store.redelivered == [(letters[1].id, 1)]
    assert [json.loads(r.content)["id"] for r in endpoint.requests] == ["ev-1", "ev-1", "ev-2"]
    await d.stop()


async def test_a_subscription_made_before_verification_is_confirmed_before_its_first_delivery(
    store: FakeStore,
) -> None:
    def endpoint(request: httpx.Request) -> httpx.Response:
        document = json.loads(request.content)
        signing.verify(request.headers[signing.HEADER], request.content, SECRET)
        if document["type"] == "corridor.webhooks.subscription.verification":
            return httpx.Response(200, json={"challenge": document["data"]["challenge"]})
        return httpx.Response(200)

    seen: list[str] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["type"])
        return endpoint(request)

    legacy = Subscription(uuid.uuid4(), "tianjin-rongda-smelting", "https://erp.example.com/hooks", SECRET)
    store.subs[:] = [legacy]
    d = Dispatcher(
        settings=WebhooksSettings(
            webhooks_subscription_ttl_s=0, webhooks_max_attempts=2, webhooks_backoff_base_s=0.01
        ),
        store=store,  # type: ignore[arg-type]
        codec=None,  # type: ignore[arg-type]
        http=httpx.AsyncClient(transport=httpx.MockTransport(recording)),
    )
    assert (await d.deliver(legacy, DOC)).delivered  # type: ignore[union-attr]
    assert (await d.deliver(legacy, DOC)).delivered  # type: ignore[union-attr]
    assert seen == ["corridor.webhooks.subscription.verification", DOC["type"], DOC["type"]]
    assert store.verified == [legacy.id]

    refusing = Subscription(uuid.uuid4(), "tianjin-rongda-smelting", "https://other.example.com/x", SECRET)
    store.subs[:] = [refusing]
    d.http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    outcome = await d.deliver(refusing, DOC)
    assert outcome is not None and not outcome.delivered
    assert outcome.last_error is not None and "did not confirm the subscription" in outcome.last_error


async def test_two_dispatchers_post_one_delivery_once(store: FakeStore) -> None:
    """Replicas share the claims: while the first retries (503 twice), the second waits, then skips."""
    endpoint = Endpoint(503, 503)
    first, second = dispatcher(endpoint, store), dispatcher(endpoint, store)
    origin = ("partner.tianjin-rongda-smelting.v1", 0, 7)
    await asyncio.gather(
        first._deliver_or_dead_letter(store.subs[0], DOC, origin),
        second._deliver_or_dead_letter(store.subs[0], DOC, origin),
    )
    assert len(endpoint.requests) == 3  # two refused attempts and one delivery, by one of them
    assert first.stats.delivered + second.stats.delivered == 1
    assert first.stats.already_delivered + second.stats.already_delivered == 1
    # read again later (a rebalance, a restart): skipped, not posted
    third = dispatcher(endpoint, store)
    await third._deliver_or_dead_letter(store.subs[0], DOC, origin)
    assert len(endpoint.requests) == 3 and third.stats.already_delivered == 1


async def test_a_claim_whose_owner_died_is_taken_over(store: FakeStore) -> None:
    endpoint = Endpoint()
    dead = uuid.uuid4()
    await store.claim_delivery(store.subs[0].id, "ev-1", dead, 1.0)  # it claimed, then never finished
    d = dispatcher(endpoint, store, webhooks_timeout_s=0.01)
    d.stale_after_s = 0.2
    await asyncio.wait_for(d._deliver_or_dead_letter(store.subs[0], DOC, ("t", 0, 0)), 10)
    assert len(endpoint.requests) == 1 and d.stats.delivered == 1


async def test_postgresql_away_at_the_end_of_a_delivery_is_waited_out_not_raised(store: FakeStore) -> None:
    """A job that raised would leave its partition paused for good: recording the end is retried."""
    endpoint = Endpoint()
    d = dispatcher(endpoint, store)
    finish, failures = store.finish_delivery, [ConnectionRefusedError("PostgreSQL is restarting")]

    async def flaky_finish(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        await finish(*args, **kwargs)

    store.finish_delivery = flaky_finish  # type: ignore[method-assign]
    await asyncio.wait_for(d._deliver_or_dead_letter(store.subs[0], DOC, ("t", 0, 0)), 10)
    assert len(endpoint.requests) == 1 and not failures
    assert store.claims[(store.subs[0].id, "ev-1")][0] == "delivered"


class PatternConsumer:
    """The consumer calls a batch job makes: ``assignment()``, and ``resume`` that raises as aiokafka's
    does for a partition of no current assignment."""

    def __init__(self, assigned: set[Any]) -> None:
        self.assigned = assigned
        self.resumed: list[Any] = []

    def assignment(self) -> set[Any]:
        return self.assigned

    def resume(self, tp: Any) -> None:
        assert tp in self.assigned  # aiokafka: AssertionError / IllegalStateError
        self.resumed.append(tp)


async def test_a_batch_ending_while_the_subscription_changes_does_not_fail(store: FakeStore) -> None:
    """A new partner topic changes the pattern subscription: until the rebalance runs, the consumer has
    no assignment though nothing was revoked. The batch job ends without resuming (the rebalance assigns
    the partition afresh) instead of raising; with its partition assigned it resumes it."""
    from aiokafka import TopicPartition

    d = dispatcher(Endpoint(200), store)
    tp = TopicPartition("partner.tianjin-rongda-smelting.v1", 0)
    d.tokens[tp] = object()
    changed = PatternConsumer(set())
    await d._batch_job(changed, tp, [])()  # type: ignore[arg-type]
    assert changed.resumed == []
    assigned = PatternConsumer({tp})
    await d._batch_job(assigned, tp, [])()  # type: ignore[arg-type]
    assert assigned.resumed == [tp]
