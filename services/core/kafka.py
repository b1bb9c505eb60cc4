"""Kafka I/O of the shared core: an idempotent producer of trade events and an at-least-once consumer.

``TradeProducer`` validates (the models refuse invalid events), encodes, wraps in CloudEvents headers
and produces with ``acks=all`` and ``enable_idempotence=True``, keyed by trade id so each trade's
events stay ordered on one partition. ``publish`` returns only after the broker acknowledged. The record
timestamp is the time of publication; a producer poisoned by a broker refusal is replaced in place
(``produce_errors``, ADR 0017).

``TradeConsumer`` hands each decoded record to a handler and commits a partition's offset only after
the handler returned for every earlier record of that partition: a crash replays, never skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import ProducerClosed
from aiokafka.structs import ConsumerRecord, RecordMetadata

from corridor.core import metrics, tracing
from corridor.core.codec import Codec
from corridor.core.credentials import KAFKA_OPERATOR_USER, kafka_password_file, read_secret
from corridor.core.domain.base import TradeEvent
from corridor.core.envelope import CloudEvent, Headers
from corridor.core.logging import bound_contextvars, get_logger
from corridor.core.paths import PROJECT_ROOT
from corridor.core.produce_errors import ProducerAbandonedError, ProducerReplacedError, Stage, classify
from corridor.core.topics import TopicSpec, physical

log = get_logger("corridor.kafka")


@dataclass(frozen=True)
class Published:
    """Where the broker stored an acknowledged event."""

    event_id: str
    topic: str
    partition: int
    offset: int


#: Environment variables of a client's login on a secured listener. The stack gives each service its own
#: (its SCRAM principal, the password as a file); unset, the operator's login of the local stack is used
#: (docs/adr/0010, 0020, 0024).
SECURITY_ENV = (
    "CORRIDOR_KAFKA_SECURITY_PROTOCOL",
    "CORRIDOR_KAFKA_SASL_MECHANISM",
    "CORRIDOR_KAFKA_SASL_USERNAME",
    "CORRIDOR_KAFKA_SASL_PASSWORD",
    "CORRIDOR_KAFKA_SASL_PASSWORD_FILE",
    "CORRIDOR_KAFKA_SSL_CAFILE",
)
_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


def new_topic(spec: TopicSpec, brokers: int) -> NewTopic:
    """The admin request that creates ``spec`` on a cluster of ``brokers`` brokers (its replication and
    ``min.insync.replicas`` from the cluster's size, ``TopicSpec``)."""
    return NewTopic(
        name=spec.name,
        num_partitions=spec.partitions,
        replication_factor=spec.replication_factor(brokers),
        topic_configs=spec.configs_for(brokers),
    )


def client_security(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """aiokafka settings for the listener's security, read from :data:`SECURITY_ENV`.

    Every producer, consumer and admin client of the services takes these, so one set of variables
    moves a service to its own SCRAM login (the password given directly or as a file). Invalid
    combinations raise ``ValueError`` naming the variable and the reason, at startup rather than at
    first use. ``CORRIDOR_KAFKA_SECURITY_PROTOCOL=PLAINTEXT`` means no login at all.

    With none of them set in the process environment (``environ`` not given), the operator's login of the
    local stack is used when its file exists (:func:`operator_login`): the CLI and the tests log in as
    the operator without being told; a process with no stack around (a cluster pod) gets ``{}``.
    """
    env = os.environ if environ is None else environ
    protocol = env.get("CORRIDOR_KAFKA_SECURITY_PROTOCOL", "").strip().upper()
    if not protocol and environ is None:
        return operator_login()
    if not protocol or protocol == "PLAINTEXT":
        return {}
    if protocol not in _PROTOCOLS:
        choices = ", ".join(_PROTOCOLS)
        raise ValueError(f"CORRIDOR_KAFKA_SECURITY_PROTOCOL: {protocol!r} is not one of {choices}")
    config: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        mechanism = env.get("CORRIDOR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").strip().upper()
        if mechanism not in _MECHANISMS:
            choices = ", ".join(_MECHANISMS)
            raise ValueError(f"CORRIDOR_KAFKA_SASL_MECHANISM: {mechanism!r} is not one of {choices}")
        password = env.get("CORRIDOR_KAFKA_SASL_PASSWORD") or _password_from_file(env)
        if not env.get("CORRIDOR_KAFKA_SASL_USERNAME"):
            raise ValueError(
                f"CORRIDOR_KAFKA_SASL_USERNAME: required with CORRIDOR_KAFKA_SECURITY_PROTOCOL={protocol}"
            )
        if not password:
            raise ValueError(
                "CORRIDOR_KAFKA_SASL_PASSWORD: required (or CORRIDOR_KAFKA_SASL_PASSWORD_FILE) "
                f"with CORRIDOR_KAFKA_SECURITY_PROTOCOL={protocol}"
            )
        config |= {
            "sasl_mechanism": mechanism,
            "sasl_plain_username": env["CORRIDOR_KAFKA_SASL_USERNAME"],
            "sasl_plain_password": password,
        }
    if protocol.endswith("SSL"):
        from aiokafka.helpers import create_ssl_context

        cafile = env.get("CORRIDOR_KAFKA_SSL_CAFILE") or None
        if cafile is not None and not os.path.isfile(cafile):
            raise ValueError(f"CORRIDOR_KAFKA_SSL_CAFILE: no file {cafile!r}")
        config["ssl_context"] = create_ssl_context(cafile=cafile)
    return config


def _password_from_file(env: Mapping[str, str]) -> str | None:
    name = env.get("CORRIDOR_KAFKA_SASL_PASSWORD_FILE")
    if not name:
        return None
    try:
        return read_secret(Path(name))
    except FileNotFoundError:
        raise ValueError(f"CORRIDOR_KAFKA_SASL_PASSWORD_FILE: no file {name!r}") from None
    except PermissionError as exc:
        raise ValueError(f"CORRIDOR_KAFKA_SASL_PASSWORD_FILE: {exc}") from None


def operator_password_file(state_dir: Path | None = None) -> Path:
    """Where the local stack in ``state_dir`` (default ``CORRIDOR_STATE_DIR``, else ``.corridor``) keeps
    the operator's Kafka password."""
    if state_dir is None:
        state_dir = Path(os.environ.get("CORRIDOR_STATE_DIR") or PROJECT_ROOT / ".corridor")
    return kafka_password_file(state_dir, KAFKA_OPERATOR_USER)


def operator_login(state_dir: Path | None = None) -> dict[str, Any]:
    """The operator's SCRAM login of the local stack in ``state_dir`` (default ``CORRIDOR_STATE_DIR``,
    else ``.corridor``), from ``credentials/kafka-corridor-operator.password``; ``{}`` without that file."""
    path = operator_password_file(state_dir)
    if not path.exists():
        return {}
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": KAFKA_OPERATOR_USER,
        "sasl_plain_password": read_secret(path),
    }


def producer_config(bootstrap_servers: str, **overrides: Any) -> dict[str, Any]:
    """The one producer configuration of Corridor: idempotent, acks=all, small linger for batching."""
    config: dict[str, Any] = {
        **client_security(),
        "bootstrap_servers": bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 30000,
        "retry_backoff_ms": 200,
    }
    config.update(overrides)
    return config


class TradeProducer:
    """Publishes trade events; one instance per process, shared by all callers.

    Each record carries ``corridor_published_ms`` (this process's wall clock at send, for end-to-end
    latency) and a ``traceparent`` that is a new span in the caller's trace (``traceparent`` argument,
    else the current span): a PRODUCER span when tracing exports, else just a new span id.
    ``service`` labels the metrics (events out, produce latency, produce errors).

    The record timestamp is the time of publication (the same clock as ``corridor_published_ms``),
    never the event's business time ``occurred_at``, which stays in the payload: a broker refuses
    timestamps outside ``message.timestamp.before/after.max.ms`` (Kafka 4: more than an hour ahead),
    and an estimate weeks ahead is an everyday event (ADR 0017).

    **Recovery.** When an error poisons the aiokafka producer (``produce_errors.classify``: a failed
    acknowledgement leaves a sequence gap; an unknown producer id, a fenced epoch, a dead sender), the
    producer is replaced by a new one (new producer id, sequences from 0) in the background; sends wait
    for the replacement. The old producer is flushed and stopped in the background: what it still holds
    is acknowledged or failed through the futures already handed out, so no acknowledged event is lost
    and nothing is produced twice. ``generation`` counts replacements; a caller that must not split a
    group of records across two producers (they could overtake each other) passes the generation it
    started with to ``send``, which then raises ``ProducerReplacedError`` instead. ``before_replace``
    runs before a replacement is built (the gateway reads the topics' limits again there, so that a
    size refusal does not repeat with the new producer).
    """

    #: Pause between attempts to start a replacement producer while the cluster is unreachable.
    REPLACE_BACKOFF_S = 0.5

    def __init__(
        self,
        bootstrap_servers: str,
        codec: Codec,
        *,
        service: str = "corridor",
        producer_factory: Callable[..., Any] = AIOKafkaProducer,
        before_replace: Callable[[], Awaitable[None]] | None = None,
        **producer_overrides: Any,
    ) -> None:
        self.codec = codec
        self.service = service
        self.generation = 0
        self.replacements = 0
        self._config = producer_config(bootstrap_servers, **producer_overrides)
        self._factory = producer_factory
        self._before_replace = before_replace
        self._producer = producer_factory(**self._config)
        self._built_with = dict(self._config)
        self._replacing: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._retiring_by_generation: dict[int, Any] = {}  # replaced producers still flushing
        self._stopped = False

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        self._stopped = True
        if self._replacing is not None:
            self._replacing.cancel()
            with contextlib.suppress(BaseException):
                await self._replacing
        await self._producer.stop()
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def __aenter__(self) -> TradeProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def client(self) -> Any:
        """The current aiokafka producer's client (for a metadata round trip as a health check)."""
        return self._producer.client

    def reconfigure(self, **overrides: Any) -> None:
        """New settings (e.g. ``max_batch_size`` after the topics' limits changed): the producer is
        replaced by one with them, as after a poisoning error (nothing in flight is lost)."""
        if all(self._config.get(k) == v for k, v in overrides.items()):
            return
        self._config.update(overrides)
        log.info("producer_reconfigured", service=self.service, **overrides)
        self._renew_if_stale()

    def _renew_if_stale(self) -> None:
        """Replace the producer when it was built with other settings than the current ones (and no
        replacement is under way: ``ready`` calls this again after it)."""
        if self._stopped or self._built_with == self._config:
            return
        if self._replacing is None or self._replacing.done():
            self._replacing = asyncio.get_running_loop().create_task(self._replace(self.generation))

    def sender_alive(self) -> bool:
        sender = getattr(self._producer, "_sender", None)
        task = getattr(sender, "sender_task", None)
        return task is None or not task.done()

    def poisoned(self, generation: int, error: BaseException, stage: Stage = Stage.ACK) -> bool:
        """Note an error of the producer of ``generation``; replaces it (once) when the error poisons it.
        Returns whether it does."""
        failure = classify(error, stage)
        if not failure.replace or generation != self.generation or self._stopped:
            return False
        if self._replacing is None or self._replacing.done():
            metrics.ERRORS.labels(self.service, "producer_replaced").inc()
            log.warning(
                "producer_poisoned",
                service=self.service,
                generation=generation,
                scope=str(failure.scope),
                error=failure.reason,
            )
            self._replacing = asyncio.get_running_loop().create_task(self._replace(generation))
        return True

    async def ready(self, generation: int | None = None) -> tuple[Any, int]:
        """The producer to send with and its generation, after any replacement under way."""
        if not self.sender_alive() and (self._replacing is None or self._replacing.done()):
            self.poisoned(
                self.generation, ProducerClosed("the sender task of the producer ended"), Stage.SEND
            )
        if self._replacing is not None and not self._replacing.done():
            await asyncio.shield(self._replacing)
        self._renew_if_stale()  # settings changed while a replacement was being built
        if self._replacing is not None and not self._replacing.done():
            await asyncio.shield(self._replacing)
        if generation is not None and generation != self.generation:
            raise ProducerReplacedError(
                f"the producer was replaced (generation {generation} → {self.generation}) during this "
                "request; the records not sent yet were not produced"
            )
        return self._producer, self.generation

    def abandon(self, generation: int, reason: str) -> bool:
        """Give up the producer of ``generation`` for good (a caller's delivery bound passed with
        acknowledgements still missing): every record it holds fails at once with
        ``ProducerAbandonedError``, its sender task is cancelled so it sends and retries nothing more,
        and its connections are closed; later sends wait for a replacement. aiokafka's idempotent
        producer never expires a batch, so without this a record could still be written minutes later
        (the gateway's claims rely on it ending: ADR 0041). Returns whether it was abandoned now (False:
        an older generation, already replaced)."""
        current = generation == self.generation
        old = self._producer if current else self._retiring_by_generation.get(generation)
        if old is None or self._stopped:
            return False
        metrics.ERRORS.labels(self.service, "producer_abandoned").inc()
        log.warning("producer_abandoned", service=self.service, generation=generation, reason=reason)
        accumulator = getattr(old, "_message_accumulator", None)
        if accumulator is not None:
            accumulator.fail_all(ProducerAbandonedError(reason))
        sender = getattr(old, "_sender", None)
        task = getattr(sender, "sender_task", None)
        if task is not None and not task.done():
            task.cancel()
        if current and (self._replacing is None or self._replacing.done()):
            self._replacing = asyncio.get_running_loop().create_task(self._replace(generation))
        return True

    async def _replace(self, generation: int) -> None:
        if self._before_replace is not None:
            # e.g. the gateway reads the topics' limits again, so the new producer's batches fit them
            try:
                await asyncio.wait_for(self._before_replace(), 5)
            except Exception as exc:
                log.warning("before_replace_failed", error=f"{type(exc).__name__}: {exc}")
        while True:
            built_with = dict(self._config)
            fresh = self._factory(**built_with)
            try:
                await fresh.start()
                break
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await fresh.stop()
                log.warning("producer_replacement_failed", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.REPLACE_BACKOFF_S)
        old, self._producer = self._producer, fresh
        self._built_with = built_with
        self.generation = generation + 1
        self.replacements += 1
        log.info("producer_replaced", service=self.service, generation=self.generation)
        self._retiring_by_generation[generation] = old
        task = asyncio.get_running_loop().create_task(self._retire(old, generation))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, old: Any, generation: int) -> None:
        """Flush and stop a replaced producer: what it holds is acknowledged or failed to its callers
        (or abandoned meanwhile: ``abandon`` with its generation)."""
        try:
            await old.stop()
        except Exception as exc:
            log.warning("retired_producer_stop_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._retiring_by_generation.pop(generation, None)

    async def send(self, event: TradeEvent, **options: Any) -> asyncio.Future[RecordMetadata]:
        """Queue an event; the returned future resolves when the broker acknowledged it (acks=all).
        ``options`` are those of ``send_pinned``."""
        future, _generation = await self.send_pinned(event, **options)
        return future

    async def send_pinned(
        self,
        event: TradeEvent,
        *,
        source: str | None = None,
        traceparent: str | None = None,
        extra_headers: Headers | None = None,
        body: bytes | None = None,
        generation: int | None = None,
    ) -> tuple[asyncio.Future[RecordMetadata], int]:
        """Queue an event: the future that resolves when the broker acknowledged it (acks=all), and the
        generation of the producer that has it.

        ``traceparent`` is the parent of the record's span (default: the current span, else a new
        trace); ``extra_headers`` are appended to the CloudEvents headers; ``body`` is the event's Avro
        encoding (``Codec.encode_body``) when the caller has it already; ``generation`` (see the class)
        refuses to send with a producer other than that one."""
        value = await self.codec.encode_async(event, body)
        producer, generation = await self.ready(generation)
        topic, kind = physical(event.topic), type(event).__name__
        span = None
        if tracing.recording():
            span = tracing.start_producer_span(
                topic,
                traceparent,
                {"messaging.message.id": str(event.event_id), "corridor.event_type": kind},
            )
            record_traceparent = tracing.traceparent_of(span)
        else:
            record_traceparent = tracing.child_traceparent(traceparent or tracing.current_traceparent())
        envelope = CloudEvent.for_event(event, source=source, traceparent=record_traceparent)
        headers = envelope.to_headers()
        published_ms = metrics.now_ms()
        headers.append((metrics.PUBLISHED_MS_HEADER, str(published_ms).encode()))
        if extra_headers:
            headers.extend(extra_headers)
        started = time.perf_counter()
        try:
            future: asyncio.Future[RecordMetadata] = await producer.send(
                topic,
                value=value,
                key=str(event.trade_id).encode(),
                headers=headers,
                timestamp_ms=published_ms,  # publication time; business time is in the payload
            )
        except BaseException as exc:
            metrics.ERRORS.labels(self.service, "produce").inc()
            tracing.end_span(span, exc)
            if isinstance(exc, Exception):
                self.poisoned(generation, exc, Stage.SEND)
            raise
        future.add_done_callback(lambda f: self._acknowledged(f, topic, kind, started, span, generation))
        return future, generation

    def _acknowledged(
        self,
        future: asyncio.Future[RecordMetadata],
        topic: str,
        kind: str,
        started: float,
        span: Any,
        generation: int,
    ) -> None:
        error = future.exception() if not future.cancelled() else asyncio.CancelledError()
        if error is None:
            meta = future.result()
            metrics.PRODUCE_DURATION.labels(self.service, topic).observe(time.perf_counter() - started)
            metrics.EVENTS_OUT.labels(self.service, topic, kind).inc()
            tracing.end_span(
                span,
                **{
                    "messaging.destination.partition.id": str(meta.partition),
                    "messaging.kafka.offset": meta.offset,
                },
            )
        else:
            metrics.ERRORS.labels(self.service, "produce").inc()
            tracing.end_span(span, error)
            if not future.cancelled():
                self.poisoned(generation, error)

    async def publish(
        self, event: TradeEvent, *, source: str | None = None, traceparent: str | None = None
    ) -> Published:
        """Produce one event and wait for the broker's acknowledgement."""
        meta = await (await self.send(event, source=source, traceparent=traceparent))
        return Published(str(event.event_id), meta.topic, meta.partition, meta.offset)

    async def publish_many(self, events: Iterable[TradeEvent]) -> list[Published]:
        """Produce events in order (the idempotent producer keeps per-trade order) and await all acks."""
        pending = [(e, await self.send(e)) for e in events]
        results = []
        for event, future in pending:
            meta = await future
            results.append(Published(str(event.event_id), meta.topic, meta.partition, meta.offset))
        return results


@dataclass(frozen=True)
class TradeRecord:
    """A consumed record: where it was, its CloudEvents attributes and the decoded event."""

    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int
    cloudevent: CloudEvent
    schema_id: int
    event: TradeEvent


Handler = Callable[[TradeRecord], Awaitable[None]]


class TradeConsumer:
    """Consumes trade topics in a consumer group; commits only what the handler finished."""

    def __init__(
        self,
        topics: Sequence[str],
        *,
        bootstrap_servers: str,
        group_id: str,
        codec: Codec,
        auto_offset_reset: str = "earliest",
        service: str = "corridor",
        **consumer_overrides: Any,
    ) -> None:
        self.codec = codec
        self.service = service
        self.group_id = group_id
        self._lag_reported_at = 0.0
        self._positions: dict[TopicPartition, int] = {}  # next offset to handle, per partition handled
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap_servers,
            **client_security(),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=auto_offset_reset,
            isolation_level="read_committed",
            **consumer_overrides,
        )
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        self._stopping.set()
        await self._consumer.stop()

    def request_stop(self) -> None:
        """Make ``run`` return after the batch in hand (safe to call from a handler)."""
        self._stopping.set()

    async def __aenter__(self) -> TradeConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def decode(self, record: ConsumerRecord[bytes, bytes]) -> TradeRecord:
        envelope = CloudEvent.from_headers(record.headers)
        schema_id, event = await self.codec.decode_event(record.value)
        return TradeRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode() if record.key is not None else None,
            timestamp_ms=record.timestamp,
            cloudevent=envelope,
            schema_id=schema_id,
            event=event,
        )

    async def run(
        self, handler: Handler, *, max_records: int | None = None, idle_timeout: float | None = None
    ) -> int:
        """Feed records to ``handler`` until stopped, ``max_records`` handled, or ``idle_timeout``
        seconds pass without a record. Returns how many records were handled.

        A handler exception stops the loop after committing everything handled before it, and seeks the
        partition back to the failed record, so the next run (or another group member) retries it.
        """
        handled = 0
        idle_since = asyncio.get_running_loop().time()
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=500)
            if not batches:
                if idle_timeout is not None and asyncio.get_running_loop().time() - idle_since > idle_timeout:
                    break
                continue
            idle_since = asyncio.get_running_loop().time()
            for tp, records in batches.items():
                done_offset: int | None = None
                try:
                    for record in records:
                        decoded = await self.decode(record)
                        metrics.EVENTS_IN.labels(
                            self.service, tp.topic, metrics.short_type(decoded.cloudevent.type)
                        ).inc()
                        span = (
                            tracing.consumer_span(
                                tp.topic,
                                tp.partition,
                                record.offset,
                                decoded.cloudevent.traceparent,
                                {"messaging.message.id": decoded.cloudevent.id},
                            )
                            if tracing.recording()
                            else contextlib.nullcontext()
                        )
                        with (
                            span,
                            bound_contextvars(
                                event_id=decoded.cloudevent.id,
                                trace_id=decoded.cloudevent.trace_id,
                                topic=tp.topic,
                                partition=tp.partition,
                                offset=record.offset,
                            ),
                        ):
                            await handler(decoded)
                        done_offset = record.offset
                        self._positions[tp] = record.offset + 1
                        handled += 1
                        if (max_records is not None and handled >= max_records) or self._stopping.is_set():
                            break
                except Exception:
                    failed_at = records[0].offset if done_offset is None else done_offset + 1
                    if done_offset is not None:
                        await self._commit(tp, done_offset)
                    self._consumer.seek(tp, failed_at)
                    log.exception("handler_failed", topic=tp.topic, partition=tp.partition, offset=failed_at)
                    raise
                if done_offset is not None:
                    await self._commit(tp, done_offset)
                if max_records is not None and handled >= max_records:
                    self.report_lag()
                    return handled
            self.report_lag()
        return handled

    def report_lag(self, every_s: float = 1.0) -> None:
        """Update ``corridor_consumer_lag`` (position vs high watermark) at most every ``every_s``."""
        now = time.monotonic()
        if now - self._lag_reported_at < every_s:
            return
        self._lag_reported_at = now
        lags: dict[tuple[str, int], int] = {}
        for tp in self._consumer.assignment():
            high, position = self._consumer.highwater(tp), self._positions.get(tp)
            if high is not None and position is not None:
                lags[(tp.topic, tp.partition)] = high - position
        metrics.set_lag(self.service, self.group_id, lags)

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        # Kafka's committed offset is the *next* record to read.
        await self._consumer.commit({tp: offset + 1})


async def end_offsets(bootstrap_servers: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of ``topics`` now: where the next records will be written."""
    # No group: reads nothing.
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap_servers, **client_security())
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        if not parts:
            raise LookupError(f"topics {list(topics)} have no partitions (do they exist?)")
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(parts)
        return offsets
    finally:
        await consumer.stop()


async def start_group_at(bootstrap_servers: str, group_id: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit ``offsets`` for a new consumer group, so that it starts there instead of at the start.

    Reading "what was produced after this moment" this way skips history — including records of other
    clients that a reader cannot decode.
    """
    committer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, **client_security(), group_id=group_id, enable_auto_commit=False
    )
    await committer.start()
    try:
        committer.assign(list(offsets))
        await committer.commit(offsets)
    finally:
        await committer.stop()
