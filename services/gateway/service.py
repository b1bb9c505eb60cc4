"""What the gateway does with a request's events: validate, authorise, claim, produce, await the acks.

``Gateway.publish`` runs the phases in order, each for every item before the next phase starts, so a
batch is all-or-nothing up to the point where Kafka is involved:

1. validation — CloudEvents attributes and ``parse_event`` (every bad field): 422, nothing produced;
2. authorisation (``parties``) — every party the payload names is a registered, active partner (422);
   role, sender, admission and actor rules (``corridor.core.domain.trust``): 403, nothing produced;
3. idempotency claims (``store``): an event already acknowledged is answered from its stored result, a
   key reused for a different event is 409, a key another request is producing is waited for;
4. produce with acks=all through one idempotent ``TradeProducer``, in the order received, and await
   every acknowledgement (bounded by ``gateway_produce_timeout_s``). The claims are completed, and the
   trade's new parties recorded, in one transaction after the acks and before the answer, so the next
   request of the trade already sees them.

Nothing is reported as accepted unless the broker acknowledged it. If the wait times out the answer is
503, while a background task keeps waiting on the broker: an event acknowledged late is still recorded,
and the client's retry (same id) gets the stored result instead of a second copy.

``Gateway`` depends on its ports (``ports``: the idempotency store, the partner directory, the keyring,
the producer link); ``Gateway.open`` wires the PostgreSQL and Kafka adapters (``store``, ``KafkaLink``),
unit tests the in-memory fakes of ``fakes`` (ADR 0036).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import RecordMetadata

from corridor.core import metrics, partners, signatures
from corridor.core.codec import Codec, frame
from corridor.core.domain import timing, trust
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.validation import FieldError, InvalidEvent
from corridor.core.envelope import RECEIVED_MS_HEADER, CloudEvent, source_for, trace_id
from corridor.core.kafka import TradeProducer
from corridor.core.logging import bound_contextvars, get_logger
from corridor.core.produce_errors import Stage, classify
from corridor.core.registry_client import RegistryClient
from corridor.core.topic_limits import RECORD_BATCH_OVERHEAD, TopicLimits, read_limits
from corridor.core.topics import TRADE_TOPICS, physical
from corridor.gateway import cloudevents, problems
from corridor.gateway.cloudevents import IncomingEvent
from corridor.gateway.parties import TradeView, registry_errors, role_errors
from corridor.gateway.ports import (
    ClaimState,
    Completion,
    IdempotencyStore,
    Keyring,
    PartnerDirectory,
    PinnedProducer,
    ProducerLink,
)
from corridor.gateway.problems import Problem
from corridor.gateway.settings import GatewaySettings
from corridor.gateway.store import GatewayStore, PartnerTables

log = get_logger("corridor.gateway")

#: A failed producer start is retried at most this often (requests in between get 503 at once).
PRODUCER_RESTART_INTERVAL_S = 1.0
#: The trade topics' limits are read again at most this often (on a size refusal by the broker).
LIMITS_REFRESH_INTERVAL_S = 1.0
#: The producer's batches stay below this (and below the topics' ``max.message.bytes``).
DEFAULT_MAX_BATCH_BYTES = 256 * 1024
#: Room kept under a trade topic's ``max.message.bytes`` for the headers the relay adds to the partner
#: topics' copies (source, relayed time, signature verdict, back-fill; partner topics have the same
#: limit): an event that fits its trade topic only without it would wedge its relay slot.
RELAY_HEADROOM_BYTES = 512
#: A topic whose timestamp window is narrower than this could refuse records for a clock skew: warned.
TIMESTAMP_WINDOW_WARN_MS = 60_000
#: How long the results of acknowledged events are retried into PostgreSQL when it was down at the ack.
COMPLETE_RETRY_S = 600.0

#: Wall clock (epoch ms) when the current HTTP request arrived; set by the app's request middleware and
#: sent along as the ``corridor_received_ms`` header of the request's records.
REQUEST_RECEIVED_MS: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "corridor_request_received_ms", default=None
)


@dataclass
class ItemResult:
    """The outcome of one event of a request."""

    index: int
    event_id: str
    status: int
    result: dict[str, Any] | None = None  # {"event_id", "topic", "partition", "offset"}
    replayed: bool = False
    problem: Problem | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.result is not None:
            out.update(self.result)
            if self.replayed:
                out["replayed"] = True
        else:
            out["event_id"] = self.event_id
        if self.problem is not None:
            out["error"] = self.problem.body()
        return out


def published(event: TradeEvent, meta: RecordMetadata) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "topic": meta.topic,
        "partition": meta.partition,
        "offset": meta.offset,
    }


def event_digest(event: TradeEvent, body: bytes) -> bytes:
    """SHA-256 of the event's type and Avro encoding (``body``, ``Codec.encode_body``): equal for equal
    events however the JSON was written."""
    return hashlib.sha256(event.avro_name.encode() + b"\0" + body).digest()


class KafkaLink:
    """The gateway's one producer, started on first use, and started again after a failed start; and
    the trade topics' limits (``topic_limits``), read before the producer starts and again when the
    broker refuses a record for its size.

    The producer's batches never exceed the smallest ``max.message.bytes`` of the trade topics (a batch
    of valid events above it would be refused as a whole), and a poisoned producer is replaced in place
    by ``TradeProducer`` itself (ADR 0017)."""

    def __init__(
        self, bootstrap_servers: str, codec: Codec, *, request_timeout_ms: int, start_timeout_s: float
    ):
        self.bootstrap_servers = bootstrap_servers
        self.codec = codec
        self.request_timeout_ms = request_timeout_ms
        self.start_timeout_s = start_timeout_s
        self.limits: TopicLimits | None = None
        self._limits_read_at = -LIMITS_REFRESH_INTERVAL_S
        self._reading: asyncio.Task[None] | None = None  # a read of the limits under way
        self._producer: TradeProducer | None = None
        self._lock = asyncio.Lock()
        self._failed: tuple[float, str] | None = None

    async def producer(self) -> TradeProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is not None:
                return self._producer
            now = asyncio.get_running_loop().time()
            if self._failed is not None and now - self._failed[0] < PRODUCER_RESTART_INTERVAL_S:
                raise KafkaConnectionError(self._failed[1])
            with contextlib.suppress(Exception):  # unreachable: the producer's start says so below
                await asyncio.wait_for(self.refresh_limits(force=True), self.start_timeout_s)
            producer = TradeProducer(
                self.bootstrap_servers,
                self.codec,
                client_id="corridor-gateway",
                service="gateway",
                request_timeout_ms=self.request_timeout_ms,
                before_replace=self._limits_before_replace,
                **self._size_overrides(),
            )
            try:
                await asyncio.wait_for(producer.start(), self.start_timeout_s)
            except (Exception, asyncio.CancelledError) as exc:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 5)
                reason = f"Kafka at {self.bootstrap_servers} is unreachable ({type(exc).__name__}: {exc})"
                self._failed = (now, reason)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise KafkaConnectionError(reason) from exc
            self._failed = None
            self._producer = producer
            log.info("kafka_producer_started", bootstrap_servers=self.bootstrap_servers)
            return producer

    async def _limits_before_replace(self) -> None:
        await self.refresh_limits()

    def _size_overrides(self) -> dict[str, Any]:
        smallest = self.limits.smallest_max_message_bytes if self.limits else None
        if smallest is None:
            return {}
        # a batch holds at least one record whatever its size: the per-record check is ours (publish)
        return {
            "max_batch_size": max(128, min(DEFAULT_MAX_BATCH_BYTES, smallest - RECORD_BATCH_OVERHEAD)),
            "max_request_size": max(1024, smallest),
        }

    async def refresh_limits(self, *, force: bool = False) -> TopicLimits | None:
        """Read the trade topics' limits again (at most every ``LIMITS_REFRESH_INTERVAL_S`` unless
        ``force``); the next producer (a replacement) is sized by them."""
        if self._reading is not None and not self._reading.done():
            await asyncio.shield(self._reading)  # a read under way: its answer is fresh enough
            return self.limits
        now = asyncio.get_running_loop().time()
        if not force and now - self._limits_read_at < LIMITS_REFRESH_INTERVAL_S:
            return self.limits
        self._limits_read_at = now
        self._reading = asyncio.get_running_loop().create_task(self._read_limits())
        await asyncio.shield(self._reading)
        return self.limits

    async def _read_limits(self) -> None:
        try:
            limits = await read_limits(
                self.bootstrap_servers, TRADE_TOPICS, client_id="corridor-gateway-limits"
            )
        except Exception as exc:
            log.warning("topic_limits_unread", error=f"{type(exc).__name__}: {exc}")
            raise
        if limits.topics:
            if limits != self.limits:
                log.info(
                    "topic_limits",
                    **{
                        t.topic: {
                            "max.message.bytes": t.max_message_bytes,
                            "message.timestamp.type": t.timestamp_type,
                            "message.timestamp.before.max.ms": t.timestamp_before_max_ms,
                            "message.timestamp.after.max.ms": t.timestamp_after_max_ms,
                        }
                        for t in limits.topics.values()
                    },
                )
                _warn_about_timestamps(limits)
            self.limits = limits
            if self._producer is not None:
                self._producer.reconfigure(**self._size_overrides())

    async def ping(self, timeout_s: float) -> None:
        producer = await self.producer()
        # Ask a broker for fresh metadata: the producer's cached metadata would say yes after a crash.
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout_s)

    async def stop(self, timeout_s: float) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await asyncio.wait_for(producer.stop(), timeout_s)
            except Exception as exc:  # unacknowledged events at shutdown are logged, not raised
                log.warning("kafka_producer_stop_failed", error=f"{type(exc).__name__}: {exc}")


def _warn_about_timestamps(limits: TopicLimits) -> None:
    """Records carry the producer's clock: only a window narrower than a clock skew refuses them."""
    for t in limits.topics.values():
        if t.timestamp_type != "CreateTime":
            continue
        narrow = {
            name: value
            for name, value in (
                ("message.timestamp.before.max.ms", t.timestamp_before_max_ms),
                ("message.timestamp.after.max.ms", t.timestamp_after_max_ms),
            )
            if value is not None and value < TIMESTAMP_WINDOW_WARN_MS
        }
        if narrow:
            log.warning("topic_timestamp_window_narrow", topic=t.topic, **narrow)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Skip asyncpg's reset round trip on every release: the gateway leaves no session state behind
    (transaction-scoped advisory locks only; no SET, LISTEN, cursors or prepared statements by hand)."""


@dataclass(frozen=True, slots=True)
class _Todo:
    """An owned claim to produce: the event, its Avro body and the parent of its record's span."""

    index: int
    key: str
    event: TradeEvent
    body: bytes
    traceparent: str | None
    #: the CloudEvents extension attributes, as ce_<name> record headers
    extension_headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class _Sent:
    index: int
    key: str
    event: TradeEvent
    future: asyncio.Future[RecordMetadata]
    traceparent: str | None = None  # the parent of its record's span
    body: bytes = b""


@dataclass
class Gateway:
    """The publish use case over its ports (``ports``): ``open`` wires the real adapters (PostgreSQL,
    Kafka, the schema registry); unit tests wire the in-memory fakes of ``fakes``."""

    settings: GatewaySettings
    pool: asyncpg.Pool | None  # the adapters' PostgreSQL pool, closed with the gateway (None: fakes)
    store: IdempotencyStore
    kafka: ProducerLink
    codec: Codec
    registry: RegistryClient
    directory: PartnerDirectory
    keyring: Keyring | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @classmethod
    async def open(cls, settings: GatewaySettings) -> Gateway:
        if not settings.database_url:
            raise ValueError("CORRIDOR_DATABASE_URL is not set")
        pool = await asyncpg.create_pool(
            settings.database_url,
            min_size=settings.gateway_pool_min_size,
            max_size=max(settings.gateway_pool_max_size, settings.gateway_pool_min_size),
            server_settings={"application_name": "corridor-gateway"},
            reset=_keep_session,
        )
        try:
            store = GatewayStore(
                pool,
                settings.gateway_db_schema,
                stale_after_s=settings.claim_stale_s,
            )
            await partners.ensure_schema(pool, schema=settings.partners_db_schema)
            await store.ensure_schema()
        except BaseException:
            await pool.close()
            raise
        registry = RegistryClient(
            settings.schema_registry_url, timeout=settings.gateway_produce_timeout_s / 2
        )
        codec = Codec(registry, auto_register=settings.gateway_auto_register)
        kafka = KafkaLink(
            settings.bootstrap_servers,
            codec,
            request_timeout_ms=settings.gateway_kafka_request_timeout_ms,
            start_timeout_s=settings.gateway_produce_timeout_s,
        )
        keyring = signatures.KeyringCache(pool, schema=settings.partners_db_schema)
        directory = PartnerTables(pool, settings.partners_db_schema)
        gateway = cls(settings, pool, store, kafka, codec, registry, directory, keyring)
        gateway._spawn(gateway._warm_up())
        return gateway

    async def close(self) -> None:
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=self.settings.gateway_produce_timeout_s)
        await self.kafka.stop(self.settings.gateway_produce_timeout_s)
        await self.registry.close()
        if self.pool is not None:
            await self.pool.close()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _warm_up(self) -> None:
        """Connect to Kafka and resolve the schema ids before the first request needs them (best effort)."""
        try:
            await self.kafka.producer()
            await self.codec.prepare()
            log.info("gateway_warm", schemas=len(self.codec.schemas.events))
        except Exception as exc:
            log.warning("gateway_warm_up_incomplete", error=f"{type(exc).__name__}: {exc}")

    @property
    def retry_after_s(self) -> int:
        return self.settings.gateway_retry_after_s

    # -- requests ----------------------------------------------------------------------------------------

    async def authenticate(self, api_key: str) -> partners.Partner | None:
        return await self.directory.authenticate(api_key)

    async def readiness(self, timeout_s: float = 3.0) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.store.ping(), timeout_s)
            checks["postgres"] = "ok"
        except Exception as exc:
            checks["postgres"] = f"{type(exc).__name__}: {exc}"
        try:
            # bounded as a whole: connecting a producer to a silent address could take longer
            await asyncio.wait_for(self.kafka.ping(timeout_s), timeout_s)
            checks["kafka"] = "ok"
        except Exception as exc:
            checks["kafka"] = f"{type(exc).__name__}: {exc}"
        return checks

    async def publish(
        self,
        partner: partners.Partner,
        items: Sequence[IncomingEvent | list[FieldError]],
        *,
        batch: bool,
        idempotency_key: str | None = None,
        traceparent: str | None = None,
    ) -> list[ItemResult]:
        """Publish a request's events as ``partner``; per-item results, or a Problem for the request."""

        def at(i: int) -> int | None:
            return i if batch else None

        received_at = _received_at()
        events = self._validate(partner, items, at, received_at)
        for event in events:
            metrics.EVENTS_IN.labels("gateway", event.topic, type(event).__name__).inc()
        incoming = [i for i in items if isinstance(i, IncomingEvent)]
        await self._check_named_parties(events, at)
        verdicts = await self._verdicts(events)
        self._authorize(
            partner, events, at, await self.store.trust_states(e.trade_id for e in events), verdicts
        )

        keys = [idempotency_key] if idempotency_key and not batch else [str(e.event_id) for e in events]
        # encoded once: the digest of the Avro body identifies the event, and the same body is produced
        bodies = [self.codec.encode_body(e) for e in events]
        hashes = [event_digest(e, b) for e, b in zip(events, bodies, strict=True)]
        # created_at is set after the digest, so a retry of an event sent without it is the same event
        # (and replays its stored result) although the gateway stamps a different time each time
        stamped = [timing.stamped(e, received_at) for e in events]
        bodies = [
            b if s is e else self.codec.with_created_at(s, b)  # one field spliced in, not a 2nd encoding
            for e, s, b in zip(events, stamped, bodies, strict=True)
        ]
        events = stamped
        token = uuid.uuid4()
        claims = await self.store.wait_for_others(
            partner.partner_id, keys, hashes, token, self.settings.gateway_produce_timeout_s + 1
        )
        owned = [i for i, k in enumerate(keys) if claims[k].state is ClaimState.OWNED]
        conflicts = [i for i, k in enumerate(keys) if claims[k].state is ClaimState.CONFLICT]
        busy = [i for i, k in enumerate(keys) if claims[k].state is ClaimState.IN_PROGRESS]
        if conflicts or busy:
            await self.store.release(partner.partner_id, token, [keys[i] for i in owned])
            if conflicts:
                errors = [
                    {
                        **({} if at(i) is None else {"index": i}),
                        "field": "id",
                        "reason": f"{keys[i]!r} was "
                        "used before for a different event; a new event needs a new id",
                    }
                    for i in conflicts
                ]
                raise problems.conflict(
                    "an idempotency key was used before with a different event; nothing was produced", errors
                )
            raise problems.in_progress(
                f"another request is still producing event(s) {[keys[i] for i in busy]}; retry to get "
                "its result",
                self.retry_after_s,
            )

        # after the claims: an event acknowledged before is answered from its stored result even if the
        # limit was lowered since
        too_large = await self._too_large(partner, events, bodies, owned, at)
        if too_large:
            await self.store.release(partner.partner_id, token, [keys[i] for i in owned])
            raise problems.record_too_large(
                f"{len(too_large)} of {len(events)} events are larger than Kafka takes; nothing was produced"
                if at(0) is not None
                else "the event is larger than Kafka takes; it was not produced",
                too_large,
            )

        results: list[ItemResult | None] = [None] * len(events)
        for i, key in enumerate(keys):
            claim = claims[key]
            if claim.state is ClaimState.DONE:
                results[i] = ItemResult(i, str(events[i].event_id), 201, claim.result, replayed=True)
                log.info("event_replayed", **(claim.result or {"event_id": str(events[i].event_id)}))
        if owned:
            # a new span per record: in the event's own trace (CloudEvents traceparent), else the request's
            todo = [
                _Todo(
                    i,
                    keys[i],
                    events[i],
                    bodies[i],
                    incoming[i].traceparent or traceparent,
                    tuple(incoming[i].extension_headers()),
                )
                for i in owned
            ]
            for i, outcome in await self._produce(partner, token, todo):
                results[i] = outcome
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _validate(
        self,
        partner: partners.Partner,
        items: Sequence[IncomingEvent | list[FieldError]],
        at: Any,
        received_at: dt.datetime,
    ) -> list[TradeEvent]:
        """The events, or a 403 if the partner's role may not publish some type (checked before the
        data: such an event is refused whatever it says), or a 422 naming every bad field."""
        events: list[TradeEvent] = []
        errors: list[dict[str, Any]] = []
        forbidden: list[dict[str, Any]] = []
        first_of: dict[uuid.UUID, int] = {}
        for i, item in enumerate(items):
            if isinstance(item, list):
                errors += problems.error_list(item, at(i))
                continue
            refused = role_errors(partner.role, item.type)
            if refused:
                forbidden += problems.error_list(refused, at(i))
                continue
            try:
                event = cloudevents.to_event(
                    item, received_at, dt.timedelta(seconds=self.settings.gateway_clock_skew_s)
                )
            except InvalidEvent as exc:
                errors += problems.error_list(exc.errors, at(i))
                continue
            if event.event_id in first_of:
                reason = f"the batch has this id twice (items {first_of[event.event_id]} and {i})"
                errors += problems.error_list([FieldError("id", reason)], at(i))
            first_of.setdefault(event.event_id, i)
            events.append(event)
        if forbidden:
            self._forbid(partner, forbidden, at)
        if errors:
            bad = len({e.get("index") for e in errors})
            raise problems.invalid(
                f"{bad} of {len(items)} events are invalid; nothing was produced"
                if at(0) is not None
                else f"the event is invalid ({len(errors)} field error(s)); it was not produced",
                errors,
            )
        return events

    async def _too_large(
        self,
        partner: partners.Partner,
        events: Sequence[TradeEvent],
        bodies: Sequence[bytes],
        indices: Sequence[int],
        at: Any,
    ) -> list[dict[str, Any]]:
        """``_size_errors`` of the events at ``indices``, on limits at most a second old when any is
        found (an operator may have raised them since)."""
        if not indices:
            return []
        mine = [events[i] for i in indices], [bodies[i] for i in indices]

        def at_index(j: int) -> int | None:
            found: int | None = at(indices[j])
            return found

        errors = self._size_errors(partner, *mine, at_index)
        if errors:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.kafka.refresh_limits(), 5)
            errors = self._size_errors(partner, *mine, at_index)
        return errors

    def _size_errors(
        self, partner: partners.Partner, events: Sequence[TradeEvent], bodies: Sequence[bytes], at: Any
    ) -> list[dict[str, Any]]:
        """Events the broker would refuse for their size (the topics' ``max.message.bytes`` as read from
        the cluster): refused here, before a refused batch could fail other partners' events."""
        limits = self.kafka.limits
        if limits is None:
            return []
        source = source_for(partner.partner_id)
        errors: list[dict[str, Any]] = []
        for i, (event, body) in enumerate(zip(events, bodies, strict=True)):
            limit = limits.get(physical(event.topic))
            if limit is None:
                continue
            reason = limit.refusal(record_size(event, body, source), RELAY_HEADROOM_BYTES)
            if reason:
                errors += problems.error_list([FieldError("data", reason)], at(i))
        return errors

    async def _not_acknowledged(
        self, partner: partners.Partner, sent: _Sent, error: BaseException
    ) -> Problem:
        """The answer for an event whose acknowledgement failed (the producer replaces itself if the
        failure poisoned it): 413 if the broker refused it for a size it still has, else 503."""
        failure = classify(error, Stage.ACK)
        if failure.status == 413:
            # the limits were lowered since we read them: read them again, and refuse the event only if
            # it is too large by itself (it may have been refused for the batch it was in)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.kafka.refresh_limits(), 5)
            errors = self._size_errors(partner, [sent.event], [sent.body], lambda _i: None)
            if errors:
                return problems.record_too_large(
                    "the event is larger than Kafka takes; it was not stored", errors
                )
        return problems.produce_failed(failure.reason, self.retry_after_s)

    def _forbid(self, partner: partners.Partner, errors: list[dict[str, Any]], at: Any) -> None:
        log.warning("publish_forbidden", errors=errors[:10])
        raise problems.forbidden(
            f"partner {partner.partner_id!r} ({partner.role}) may not publish "
            + ("some of these events; nothing was produced" if at(0) is not None else "this event"),
            errors,
        )

    async def _check_named_parties(self, events: list[TradeEvent], at: Any) -> None:
        """422 naming each field whose party id is not a registered, active partner in that role."""
        ids = {p for e in events for p in trust.named_parties(e).values()}
        registered = await self.directory.get_partners(ids)
        errors: list[dict[str, Any]] = []
        for i, event in enumerate(events):
            errors += problems.error_list(registry_errors(event, registered), at(i))
        if errors:
            log.warning("publish_unknown_parties", errors=errors[:10])
            raise problems.invalid(
                "every party an event names must be a registered, active partner in that role; "
                "nothing was produced",
                errors,
            )

    async def _verdicts(self, events: list[TradeEvent]) -> dict[uuid.UUID, str]:
        """The signature verdicts of the amendments and revocations among ``events`` (ADR 0016: a signed
        certificate changes only by a change signed with its issuer's key)."""
        changes = [e for e in events if e.avro_name in trust.STATUS_CHANGE_TYPES]
        if not changes or self.keyring is None:
            return {}
        key_ids = [s.key_id for e in changes if (s := getattr(e, "signature", None)) is not None]
        ring = await self.keyring.get(key_ids)
        return {e.event_id: signatures.verify_event(e, ring).status.value for e in changes}

    def _authorize(
        self,
        partner: partners.Partner,
        events: list[TradeEvent],
        at: Any,
        states: Any,
        verdicts: dict[uuid.UUID, str] | None = None,
    ) -> None:
        view = TradeView(dict(states))
        errors: list[dict[str, Any]] = []
        for i, event in enumerate(events):
            reasons = view.check(partner.partner_id, event, (verdicts or {}).get(event.event_id))
            if reasons:
                errors += problems.error_list(reasons, at(i))
            else:
                view.admit(event)
        if errors:
            self._forbid(partner, errors, at)

    async def _produce(
        self, partner: partners.Partner, token: uuid.UUID, todo: list[_Todo]
    ) -> list[tuple[int, ItemResult]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.gateway_produce_timeout_s
        # every record of this request has ended by then: acknowledged, failed, or its producer abandoned
        delivered_by = loop.time() + self.settings.delivery_timeout_s
        source = source_for(partner.partner_id)
        out: list[tuple[int, ItemResult]] = []

        def failed(i: int, event: TradeEvent, problem: Problem) -> None:
            out.append((i, ItemResult(i, str(event.event_id), problem.status, problem=problem)))

        sent: list[_Sent] = []
        failure: Problem | None = None
        received_ms = REQUEST_RECEIVED_MS.get()
        extra = [(RECEIVED_MS_HEADER, str(received_ms).encode())] if received_ms is not None else None
        generation: int | None = None  # set by the first record: all of the request's go through one producer
        try:
            producer = await self.kafka.producer()
            await asyncio.wait_for(
                self.codec.prepare(*{t.event.avro_name for t in todo}), max(deadline - loop.time(), 0.1)
            )
        except Exception as exc:
            failure = problems.from_backend_error(exc, self.retry_after_s)
            log.warning("produce_unavailable", error=f"{type(exc).__name__}: {exc}", status=failure.status)
        for t in todo:
            i, event = t.index, t.event
            if failure is None:
                try:
                    # a timeout scope, not wait_for: that would start a task per event
                    async with asyncio.timeout(max(deadline - loop.time(), 0.1)):
                        headers = [*(extra or ()), *t.extension_headers] or None
                        future, generation = await producer.send_pinned(
                            event,
                            source=source,
                            traceparent=t.traceparent,
                            extra_headers=headers,
                            body=t.body,
                            generation=generation,
                        )
                    sent.append(_Sent(i, t.key, event, future, t.traceparent, t.body))
                    continue
                except Exception as exc:
                    # Later items are not sent after a failure: they must not overtake it.
                    failure = problems.from_backend_error(exc, self.retry_after_s)
                    log.warning(
                        "produce_failed", event_id=str(event.event_id), error=f"{type(exc).__name__}: {exc}"
                    )
            assert failure is not None
            failed(i, event, failure)
        unsent = {t.key for t in todo} - {s.key for s in sent}
        if unsent:
            try:
                await self.store.release(partner.partner_id, token, sorted(unsent))
            except Exception as exc:
                log.error("idempotency_release_failed", error=f"{type(exc).__name__}: {exc}")
        if not sent:
            return out

        assert generation is not None
        finalizing = self._spawn(
            self._finalize(partner.partner_id, token, sent, producer, generation, delivered_by)
        )
        try:
            acks = await asyncio.wait_for(asyncio.shield(finalizing), max(deadline - loop.time(), 0.1))
        except TimeoutError:
            timeout = self.settings.gateway_produce_timeout_s
            problem = problems.unavailable(
                "kafka-unavailable",
                "Kafka did not acknowledge the event",
                f"Kafka did not acknowledge within {timeout:g} s; the event may still be stored: retry with "
                "the same id, which returns the stored result instead of producing it twice",
                self.retry_after_s,
            )
            log.warning("produce_timeout", events=len(sent), timeout_s=timeout)
            for s in sent:
                failed(s.index, s.event, problem)
            return out
        for s, ack in zip(sent, acks, strict=True):
            with bound_contextvars(event_id=str(s.event.event_id), **_trace_of(s.traceparent)):
                if isinstance(ack, BaseException):
                    problem = await self._not_acknowledged(partner, s, ack)
                    failed(s.index, s.event, problem)
                    log.warning(
                        "event_not_acknowledged", error=f"{type(ack).__name__}: {ack}", status=problem.status
                    )
                else:
                    result = published(s.event, ack)
                    out.append((s.index, ItemResult(s.index, result["event_id"], 201, result)))
                    log.info(
                        "event_accepted",
                        type=s.event.avro_name,
                        trade_id=str(s.event.trade_id),
                        topic=ack.topic,
                        partition=ack.partition,
                        offset=ack.offset,
                    )
        return out

    async def _finalize(
        self,
        partner_id: str,
        token: uuid.UUID,
        sent: list[_Sent],
        producer: PinnedProducer,
        generation: int,
        delivered_by: float,
    ) -> list[RecordMetadata | BaseException]:
        """Await the broker, then store results and new trade parties (runs on even if the request left).

        The acknowledgements are awaited until ``delivered_by`` (the delivery bound); any still missing
        then abandons the producer that holds them, which fails them at once and sends nothing more, so
        the claims end before they can go stale and be taken over by another gateway (ADR 0041)."""
        futures = [s.future for s in sent]
        loop = asyncio.get_running_loop()
        _done, pending = await asyncio.wait(futures, timeout=max(delivered_by - loop.time(), 0.0))
        if pending:
            producer.abandon(
                generation,
                f"{len(pending)} record(s) not acknowledged within the delivery bound of "
                f"{self.settings.delivery_timeout_s:g} s",
            )
        acks: list[RecordMetadata | BaseException] = list(
            await asyncio.gather(*futures, return_exceptions=True)
        )
        done, failed = [], []
        for s, ack in zip(sent, acks, strict=True):
            if isinstance(ack, BaseException):
                failed.append(s.key)
            else:
                done.append(
                    Completion(
                        s.key,
                        published(s.event, ack),
                        s.event.trade_id,
                        s.event.event_id,
                        s.event.avro_name,
                        s.event.model_dump_json() if s.event.avro_name in trust.FACT_TYPES else None,
                    )
                )
        try:
            await self.store.complete(partner_id, token, done, failed)
        except Exception as exc:
            # The events are in Kafka; their bookkeeping must follow, or the parties they add to their
            # trade would be refused (403) and a retry would produce them again: keep trying.
            log.error(
                "idempotency_record_failed",
                partner_id=partner_id,
                event_ids=[str(s.event.event_id) for s in sent],
                error=f"{type(exc).__name__}: {exc}",
            )
            self._spawn(self._complete_later(partner_id, token, done, failed))
        return acks

    async def _complete_later(
        self, partner_id: str, token: uuid.UUID, done: list[Completion], failed: list[str]
    ) -> None:
        """Record acknowledged results (and their trades' new parties) once PostgreSQL answers again."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + COMPLETE_RETRY_S
        delay = 0.25
        while True:
            await asyncio.sleep(delay)
            try:
                await self.store.complete(partner_id, token, done, failed)
            except Exception as exc:
                if loop.time() > deadline:
                    log.error(
                        "idempotency_record_abandoned",
                        partner_id=partner_id,
                        keys=[c.key for c in done],
                        error=f"{type(exc).__name__}: {exc}",
                    )
                    return
                delay = min(delay * 2, 2.0)
                continue
            log.info("idempotency_recorded_late", partner_id=partner_id, keys=[c.key for c in done])
            return


#: Room for the headers added at send beside the CloudEvents ones: traceparent, corridor_published_ms,
#: corridor_received_ms (with their names and varint lengths).
_SEND_HEADERS_ALLOWANCE = 192


def _received_at() -> dt.datetime:
    """When the current request arrived (the app's middleware notes it), else now: the gateway's clock
    for the time rules and for the ``created_at`` it sets."""
    received_ms = REQUEST_RECEIVED_MS.get()
    if received_ms is None:
        received_ms = metrics.now_ms()
    return dt.datetime.fromtimestamp(received_ms / 1000, dt.UTC)


def record_size(event: TradeEvent, body: bytes, source: str) -> int:
    """The size of ``event``'s Kafka record as ``TradeProducer`` will send it (key, wire-format value,
    CloudEvents headers; the headers added at send are allowed for)."""
    headers = CloudEvent.for_event(event, source=source).to_headers()
    value = frame(0, body)
    return TopicLimits.record_size(str(event.trade_id).encode(), value, headers) + _SEND_HEADERS_ALLOWANCE


def _trace_of(traceparent: str | None) -> dict[str, str]:
    """``trace_id`` to bind in log lines of an event whose own trace differs from the request's."""
    found = trace_id(traceparent)
    return {"trace_id": found} if found else {}


# mypy checks here that the Kafka adapter satisfies its port
_link: type[ProducerLink] = KafkaLink
