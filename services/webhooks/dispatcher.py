"""The dispatcher: partner topics → signed HTTP deliveries, in order, with retries and dead letters.

It consumes every partner topic (``partner.<partner id>.v1``, a regex subscription, so topics the relay
creates later are picked up) in consumer group ``corridor-webhooks``. Each partner has one worker task;
a fetched batch pauses its partition and goes to the partner's worker, which, record by record:

1. decodes the record (Confluent wire format via the registry; CloudEvents headers as the relay kept
   them) — a record that cannot be decoded is logged and skipped, it cannot be matched to filters;
2. finds the partner's subscriptions whose filters the event passes;
3. delivers it to each of them (concurrently) and waits until every delivery succeeded (2xx) or was
   dead-lettered after ``max_attempts`` — only then the next record. So a subscription never receives
   event n+1 before event n succeeded or was dead-lettered: **per-partner ordering**, at the price that
   a failing callback delays the partner's other subscriptions (never other partners);
4. commits the record's offset; after the batch, resumes the partition.

Between attempts it waits a capped exponential backoff with jitter (``delivery.backoff_delay``);
``Retry-After`` of a 429 or 503 answer is honoured up to the cap.

Several dispatchers (replicas in one consumer group): each delivery is *claimed* in PostgreSQL before
it is posted (``WebhookStore.claim_delivery``), so a record read again after a rebalance — while its
first owner may still be retrying it — is posted by one of them only: the second waits for the first's
end and skips it. Only a dispatcher that dies mid-delivery leaves a claim to be taken over (after
``stale_after_s`` without a sign of life), so delivery stays at least once and receivers deduplicate on
the CloudEvents ``id`` (``receiver.py``). Redelivery of dead letters (``redeliver``) runs on the partner
worker of the process that got the request, and claims each letter first, so two concurrent requests
(to two replicas) never post one letter twice. See docs/adr/0012-webhooks.md.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from corridor.core import inbound, metrics
from corridor.core.codec import Codec
from corridor.core.envelope import CloudEvent
from corridor.core.kafka import client_security
from corridor.core.logging import bound_contextvars, get_logger
from corridor.webhooks import delivery
from corridor.webhooks.settings import WebhooksSettings
from corridor.webhooks.store import DeadLetter, DeliveryClaim, WebhookStore
from corridor.webhooks.subscriptions import Subscription, partner_of_topic
from corridor.webhooks.verification import verify_endpoint

log = get_logger("corridor.webhooks")

Job = Callable[[], Awaitable[None]]
T = TypeVar("T")


class _Stopping(Exception):
    """The service is shutting down: leave the delivery unfinished (and its offset uncommitted)."""


@dataclass
class Stats:
    records: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    redelivered: int = 0
    undecodable: int = 0
    unmatched: int = 0  # records no subscription wanted
    already_delivered: int = 0  # claimed and finished by another dispatcher (or before a rebalance)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Outcome:
    """How a delivery ended: delivered, or given up after ``attempts``."""

    delivered: bool
    attempts: int
    first_attempt_at: dt.datetime
    last_status: int | None = None
    last_error: str | None = None


class SubscriptionCache:
    """Each partner's subscriptions, trusted for ``ttl_s`` seconds (the API invalidates at once)."""

    def __init__(self, store: WebhookStore, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._by_partner: dict[str, tuple[float, list[Subscription]]] = {}

    async def of(self, partner_id: str) -> list[Subscription]:
        cached = self._by_partner.get(partner_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        subscriptions = await self.store.subscriptions(partner_id)
        self._by_partner[partner_id] = (now, subscriptions)
        return subscriptions

    async def active(self, subscription: Subscription) -> bool:
        return any(s.id == subscription.id for s in await self.of(subscription.partner_id))

    def invalidate(self, partner_id: str) -> None:
        self._by_partner.pop(partner_id, None)


class _PartnerWorker:
    """Runs one partner's jobs one after the other."""

    def __init__(self, partner_id: str) -> None:
        self.partner_id = partner_id
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.task = asyncio.create_task(self._run(), name=f"webhooks-{partner_id}")

    async def _run(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await job()
            except (_Stopping, asyncio.CancelledError):
                raise
            except Exception:  # a bug in one job must not stop the partner's deliveries
                log.exception("webhook_job_failed", partner_id=self.partner_id)
            finally:
                self.queue.task_done()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:  # jobs of these partitions stop before their next record, commit nothing
            self.dispatcher.tokens.pop(tp, None)
        metrics.clear_lag("webhooks", self.dispatcher.group_id, [(tp.topic, tp.partition) for tp in revoked])

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            self.dispatcher.tokens[tp] = object()
        log.info("partitions_assigned", partitions=len(assigned))


@dataclass
class Dispatcher:
    settings: WebhooksSettings
    store: WebhookStore
    codec: Codec
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient())
    rng: random.Random = field(default_factory=random.Random)
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        self.group_id = self.settings.webhooks_group_id
        self.subscriptions = SubscriptionCache(self.store, self.settings.webhooks_subscription_ttl_s)
        self.tokens: dict[TopicPartition, object] = {}  # the current assignment of each partition
        self.consuming = False
        self._workers: dict[str, _PartnerWorker] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self._verified: set[uuid.UUID] = set()  # older subscriptions confirmed by their endpoint since start
        self.instance = uuid.uuid4()  # this process, as the owner of its delivery claims
        # a claim not touched for this long belongs to a dispatcher that died: the longest quiet time of
        # a live one is a backoff wait plus a request's timeout
        self.stale_after_s = self.settings.webhooks_backoff_max_s + self.settings.webhooks_timeout_s + 30.0

    # -- lifecycle -------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.consuming and not self._stopping.is_set()

    @property
    def assigned(self) -> int:
        return len(self.tokens)

    async def consume(self) -> None:
        """Consume the partner topics until ``stop``; raises on a consumer failure (the app restarts it)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            **client_security(),
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a new partner topic is read from its first event
            isolation_level="read_committed",
            metadata_max_age_ms=self.settings.webhooks_metadata_max_age_ms,
        )
        await consumer.start()
        self._consumer = consumer
        self.tokens.clear()
        try:
            consumer.subscribe(pattern=self.settings.webhooks_topic_pattern, listener=_Rebalance(self))
            self.consuming = True
            log.info(
                "dispatcher_started", group_id=self.group_id, pattern=self.settings.webhooks_topic_pattern
            )
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                for tp, records in batches.items():
                    partner_id = partner_of_topic(tp.topic)
                    if partner_id is None or not records:
                        continue
                    consumer.pause(tp)
                    self._worker(partner_id).queue.put_nowait(self._batch_job(consumer, tp, records))
        finally:
            self.consuming = False
            self.tokens.clear()
            self._consumer = None
            await consumer.stop()

    async def stop(self) -> None:
        self._stopping.set()
        for worker in self._workers.values():
            worker.task.cancel()
        await asyncio.gather(*(w.task for w in self._workers.values()), return_exceptions=True)
        self._workers.clear()
        await self.http.aclose()

    def _worker(self, partner_id: str) -> _PartnerWorker:
        worker = self._workers.get(partner_id)
        if worker is None or worker.task.done():
            worker = self._workers[partner_id] = _PartnerWorker(partner_id)
        return worker

    # -- live deliveries -------------------------------------------------------------------------------

    def _batch_job(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> Job:
        token = self.tokens.get(tp)

        async def job() -> None:
            for record in records:
                if token is None or self.tokens.get(tp) is not token:
                    return  # revoked: the partition's next owner reads these records again
                await self._record(tp, record)
                try:
                    await consumer.commit({tp: record.offset + 1})
                except KafkaError as exc:  # a later commit carries it; after a rebalance the token says so
                    log.warning("commit_failed", topic=tp.topic, partition=tp.partition, error=str(exc))
            # not assigned any more although not revoked yet: a new partner topic changed the pattern
            # subscription, and the rebalance under way assigns afresh (aiokafka's resume would raise)
            if self.tokens.get(tp) is token and tp in consumer.assignment():
                consumer.resume(tp)

        return job

    async def _record(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        self.stats.records += 1
        partner_id = partner_of_topic(tp.topic)
        assert partner_id is not None
        headers = tuple(record.headers or ())
        ce_id = next((v.decode("utf-8", "replace") for k, v in headers if k == "ce_id"), None)
        with bound_contextvars(event_id=ce_id, partner_id=partner_id):
            decoded = await self._decode(record)
            if decoded is None:
                return
            event, envelope = decoded
            metrics.EVENTS_IN.labels("webhooks", tp.topic, type(event).__name__).inc()
            wanted = [s for s in await self.subscriptions.of(partner_id) if s.matches(event)]
            if not wanted:
                self.stats.unmatched += 1
                return
            verdict = next((v for k, v in headers if k == delivery.SIGNATURE_VERDICT_HEADER), None)
            doc = delivery.document(
                event,
                envelope,
                signature_verdict=verdict.decode() if verdict else None,
                extensions=CloudEvent.extensions_of(headers),
            )
            origin = (tp.topic, tp.partition, record.offset)
            await asyncio.gather(*(self._deliver_or_dead_letter(s, doc, origin) for s in wanted))

    async def _decode(self, record: ConsumerRecord[bytes, bytes]) -> tuple[Any, CloudEvent] | None:
        """The event and its CloudEvents attributes; None for a record that is not a Corridor event.
        A registry outage is waited out (retried), never mistaken for a bad record."""
        failures = 0
        while True:
            try:
                event = (await inbound.decode(self.codec, record.value)).event
                break
            except inbound.RegistryUnavailable as exc:
                failures += 1
                log.warning("registry_unavailable", error=str(exc), attempt=failures)
                await self._pause(min(5.0, 0.5 * 2**failures))  # back within seconds of an outage
            except inbound.Undecodable as exc:  # wire format, Avro, validation: never readable
                self._undecodable(record, exc)
                return None
        try:
            envelope = CloudEvent.from_headers(tuple(record.headers or ()))
        except ValueError:  # no CloudEvents headers: rebuild them from the event itself
            envelope = CloudEvent.for_event(event)
        return event, envelope

    def _undecodable(self, record: ConsumerRecord[bytes, bytes], exc: inbound.Undecodable) -> None:
        self.stats.undecodable += 1
        metrics.ERRORS.labels("webhooks", "undecodable_record").inc()
        log.warning(
            "record_skipped",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=str(exc),  # "<error class>: <reason>"
        )
        return None

    async def _until_answered(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` (a statement on the delivery claims, safe to repeat) again until PostgreSQL answers:
        a job that raised would leave its partition paused."""
        failures = 0
        while True:
            try:
                return await call()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                failures += 1
                log.warning(f"{what}_failed", error=f"{type(exc).__name__}: {exc}", attempt=failures)
                await self._pause(min(5.0, 0.5 * 2**failures))

    async def _finish(self, subscription: Subscription, event_id: str, *, delivered: bool) -> None:
        await self._until_answered(
            "delivery_finish",
            lambda: self.store.finish_delivery(subscription.id, event_id, self.instance, delivered=delivered),
        )

    async def _claim(self, subscription: Subscription, event_id: str) -> bool:
        """True once this dispatcher owns the delivery; False when it was done by another (or before a
        rebalance). Waits while another dispatcher delivers it, and while PostgreSQL does not answer."""
        while True:
            claim = await self._until_answered(
                "delivery_claim",
                lambda: self.store.claim_delivery(
                    subscription.id, event_id, self.instance, self.stale_after_s
                ),
            )
            if claim is DeliveryClaim.OWNED:
                return True
            if claim is DeliveryClaim.DONE:
                self.stats.already_delivered += 1
                return False
            await self._pause(0.5)  # BUSY: its owner is at it (a rebalance moved the partition here)

    async def _deliver_or_dead_letter(
        self, subscription: Subscription, doc: dict[str, Any], origin: tuple[str, int, int]
    ) -> None:
        event_id = str(doc.get("id", ""))
        if not await self._claim(subscription, event_id):
            return
        outcome = await self.deliver(subscription, doc, claim=event_id)
        if outcome is None:
            return  # the subscription is gone, and its claims with it
        if outcome.delivered:
            await self._finish(subscription, event_id, delivered=True)
            return
        await self.store.add_dead_letter(
            subscription,
            doc,
            origin=origin,
            attempts=outcome.attempts,
            last_status=outcome.last_status,
            last_error=outcome.last_error,
            first_attempt_at=outcome.first_attempt_at,
        )
        await self._finish(subscription, event_id, delivered=False)
        self.stats.dead_lettered += 1
        metrics.DEAD_LETTERS.labels("webhooks", origin[0], "delivery_failed").inc()
        log.warning(
            "delivery_dead_lettered",
            subscription_id=str(subscription.id),
            attempts=outcome.attempts,
            last_status=outcome.last_status,
            last_error=outcome.last_error,
        )

    async def deliver(
        self, subscription: Subscription, doc: dict[str, Any], *, claim: str | None = None
    ) -> Outcome | None:
        """POST ``doc`` until a 2xx or ``max_attempts``; None if the subscription was deleted meanwhile.
        With ``claim`` (the event id of a claimed delivery) the claim is touched before each attempt."""
        payload = delivery.body(doc)
        delivery_id = str(uuid.uuid4())
        first_at = dt.datetime.now(dt.UTC)
        limit = self.settings.webhooks_max_attempts
        status: int | None = None
        error: str | None = None
        for attempt in range(1, limit + 1):
            if claim is not None and attempt > 1:
                try:
                    await self.store.touch_delivery(subscription.id, claim, self.instance)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    # a missed sign of life only risks a takeover after stale_after_s: deliver on
                    log.warning("delivery_touch_failed", error=f"{type(exc).__name__}: {exc}")
            started = time.perf_counter()
            status, error, retry_after = await self._post(subscription, payload, delivery_id, attempt)
            if error is None:
                self.stats.delivered += 1
                metrics.HANDLER_DURATION.labels("webhooks", "delivery").observe(time.perf_counter() - started)
                log.debug("delivered", subscription_id=str(subscription.id), attempt=attempt, status=status)
                return Outcome(True, attempt, first_at, status)
            self.stats.failed_attempts += 1
            metrics.ERRORS.labels("webhooks", "delivery_attempt_failed").inc()
            log.info(
                "delivery_attempt_failed",
                subscription_id=str(subscription.id),
                attempt=attempt,
                status=status,
                error=error,
            )
            if attempt == limit:
                break
            delay = delivery.backoff_delay(
                attempt,
                base_s=self.settings.webhooks_backoff_base_s,
                max_s=self.settings.webhooks_backoff_max_s,
                rng=self.rng,
            )
            if retry_after is not None:
                delay = min(self.settings.webhooks_backoff_max_s, max(delay, retry_after))
            await self._pause(delay)
            if not await self.subscriptions.active(subscription):
                log.info("subscription_gone", subscription_id=str(subscription.id))
                return None
        return Outcome(False, limit, first_at, status, error)

    async def _post(
        self, subscription: Subscription, payload: bytes, delivery_id: str, attempt: int
    ) -> tuple[int | None, str | None, float | None]:
        """(HTTP status, error or None for success, Retry-After seconds)."""
        if subscription.verified_at is None and subscription.id not in self._verified:
            # made before verification existed: the endpoint confirms before its first delivery
            refusal = await verify_endpoint(
                self.http,
                subscription.callback_url,
                subscription.secret,
                subscription_id=subscription.id,
                partner_id=subscription.partner_id,
                timeout_s=self.settings.webhooks_timeout_s,
            )
            if refusal is not None:
                return None, f"the endpoint did not confirm the subscription: {refusal}", None
            await self.store.mark_verified(subscription.id)
            self._verified.add(subscription.id)
        headers = delivery.headers(
            subscription.signing_secrets(), payload, delivery_id=delivery_id, attempt=attempt
        )
        try:
            response = await self.http.post(
                subscription.callback_url,
                content=payload,
                headers=headers,
                timeout=self.settings.webhooks_timeout_s,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}".rstrip(": "), None
        if 200 <= response.status_code < 300:
            return response.status_code, None, None
        retry_after = None
        if response.status_code in (429, 503):
            raw = response.headers.get("retry-after", "")
            retry_after = float(raw) if re.fullmatch(r"\d{1,6}", raw.strip()) else None
        return response.status_code, f"HTTP {response.status_code}", retry_after

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise _Stopping

    # -- redelivery ------------------------------------------------------------------------------------

    def redeliver(self, subscription: Subscription, letters: Sequence[DeadLetter]) -> asyncio.Future[int]:
        """Queue dead letters for delivery again, on the partner's worker (after what it is doing now);
        the future resolves to how many were delivered this time."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def job() -> None:
            delivered = 0
            try:
                for letter in letters:
                    # claimed one at a time, just before it is posted, so a long run's later letters
                    # are not left with claims that look dead
                    if not await self.store.claim_dead_letters(
                        [letter.id], self.instance, self.stale_after_s
                    ):
                        continue  # redelivered already, or being redelivered by another replica
                    outcome = await self.deliver(subscription, letter.document)
                    if outcome is None:
                        break
                    if outcome.delivered:
                        await self.store.mark_redelivered(letter.id, outcome.attempts)
                        delivered += 1
                        self.stats.redelivered += 1
                    else:
                        await self.store.redelivery_failed(
                            letter.id, outcome.attempts, outcome.last_status, outcome.last_error
                        )
                log.info(
                    "redelivered", subscription_id=str(subscription.id), delivered=delivered, of=len(letters)
                )
            finally:
                if not done.done():
                    done.set_result(delivered)

        self._worker(subscription.partner_id).queue.put_nowait(job)
        return done
