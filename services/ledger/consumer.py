"""The ledger's consumer: trade topics (and its retry topics) → one PostgreSQL transaction per batch.

The consumer fetches, decodes (``corridor.core.inbound``), loads the trades' states, and executes what
the pure planner (``corridor.ledger.planner.plan``) decides for the batch (steps 3 and the hold, park
and commit decisions below; docs/adr/0035-ledger-planner-and-one-inbound-decoder.md).

Per batch (``getmany``, the orders topic drained first):

1. Records from a retry topic that are not due yet pause their partition (seeked back, resumed when
   due); retry records parked by another consumer group are skipped.
2. Every record is decoded (Confluent wire format via the registry, CloudEvents headers). What cannot be
   decoded (not our wire format, unknown schema id, truncated Avro, an invalid event, a key that is not
   the trade id) is dead-lettered.
3. Events are applied to their trades' states (``lifecycle.apply``): first those held from earlier
   batches, then the batch's in event-time order across partitions and offset order within one. States
   come from an in-memory cache, loaded from PostgreSQL on a miss. Events waiting for a prerequisite
   (their trade's order, their shipment …) get another try after the others; what still waits is held
   in memory for a while (its offset is not committed), then parked in the next retry topic; after the
   last one it is dead-lettered, as is every lifecycle violation. Before an event is applied, the trade's
   trust rules (``corridor.core.domain.trust.check``, the gateway's own) are checked: an event that
   breaks one is dead-lettered as ``TrustViolation`` naming the rule, so a record produced to a trade
   topic past the gateway can neither admit anyone nor speak for another party; one whose sender is
   not admitted *yet* (or whose certificate or shipment is not known yet) waits like any prerequisite.
4. ONE transaction: new events appended (``ON CONFLICT (event_id) DO NOTHING``), trade states and
   projections updated, with optimistic version checks per trade, and the licences the batch drew on
   at the version read (another ledger drew meanwhile: the batch is planned again; ADR 0045).
5. Parked and dead-lettered records are produced (acks=all) and awaited.
6. Only then are the Kafka offsets committed (never past a held record). A crash anywhere before replays
   the batch, and replaying it changes nothing: applied events are in the states (and in ``events``).

A bad record never blocks those behind it and never stops the consumer: it is dead-lettered. Failures
of the infrastructure (PostgreSQL, the registry, Kafka) are retried with backoff from the batch's first
offsets, so nothing is skipped either. See docs/adr/0006-ledger.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord

from corridor.core import inbound, metrics, signatures, tracing
from corridor.core.assignors import assignment_strategy
from corridor.core.codec import Codec
from corridor.core.domain import trust
from corridor.core.domain.base import TradeEvent, subject_of
from corridor.core.domain.lifecycle import TradeState
from corridor.core.domain.lifecycle import licence as licence_steps
from corridor.core.envelope import trace_id as trace_id_of
from corridor.core.kafka import client_security, producer_config
from corridor.core.logging import bound_contextvars, get_logger
from corridor.core.produce_errors import Stage, classify
from corridor.core.signatures import KeyringCache
from corridor.core.topic_ids import Incarnations, topic_ids
from corridor.core.topics import ORDERS, TRADE_TOPICS
from corridor.ledger import deadletter as dl
from corridor.ledger import planner
from corridor.ledger.certificates import record_verdicts
from corridor.ledger.publisher import encode_headers
from corridor.ledger.store import (
    LedgerStore,
    LicenceRow,
    LicenceWrite,
    Receipt,
    StaleState,
    StoredEvent,
    TradeWrite,
)
from corridor.ledger.topics import (
    CONSUMED_TOPICS,
    DLQ_TOPIC,
    RETRY_TOPICS,
    check_partitions,
    ensure_topics,
    partitions_of,
)

log = get_logger("corridor.ledger")

_TOPIC_RANK = {topic: rank for rank, topic in enumerate((*TRADE_TOPICS, *RETRY_TOPICS))}
_MAX_STALE_RETRIES = 5
#: How often the ledger asks for the ids of the topics it reads (a recreated topic is read again).
TOPIC_CHECK_S = 5.0
METADATA_MAX_AGE_MS = 10_000


#: Infrastructure trouble (the registry unreachable …): retry the batch later, dead-letter nothing.
TransientError = inbound.RegistryUnavailable
#: A record read and where it came from (its origin: first topic, attempts, retry headers).
_Read = tuple[ConsumerRecord[bytes, bytes], dl.Origin]
#: What its headers say: traceparent, publish time (ms), and its CONSUMER span (when tracing exports).
_Meta = tuple[str | None, int | None, Any]


@dataclass
class Stats:
    """Counters since the process started (also exported as Prometheus metrics)."""

    batches: int = 0
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    parked: int = 0
    retried_applied: int = 0
    dead_lettered: int = 0
    skipped: int = 0  # retry records of other consumer groups
    failures: int = 0
    stale_retries: int = 0
    producer_replacements: int = 0  # the parking/dead-letter producer replaced after it was poisoned
    last_batch_at: float | None = None
    dead_by_class: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "records": self.records,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "parked": self.parked,
            "retried_applied": self.retried_applied,
            "dead_lettered": self.dead_lettered,
            "dead_by_class": dict(self.dead_by_class),
            "skipped": self.skipped,
            "failures": self.failures,
            "stale_retries": self.stale_retries,
        }


class _Cache:
    """Trade states by trade id, least recently used evicted first. PostgreSQL stays the truth."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._states: OrderedDict[uuid.UUID, TradeState] = OrderedDict()

    def get(self, trade_id: uuid.UUID) -> TradeState | None:
        state = self._states.get(trade_id)
        if state is not None:
            self._states.move_to_end(trade_id)
        return state

    def __contains__(self, trade_id: uuid.UUID) -> bool:
        return trade_id in self._states

    def put(self, state: TradeState) -> None:
        if self.capacity <= 0:
            return
        self._states[state.trade_id] = state
        self._states.move_to_end(state.trade_id)
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)

    def drop(self, trade_ids: Iterable[uuid.UUID]) -> None:
        for trade_id in trade_ids:
            self._states.pop(trade_id, None)

    def clear(self) -> None:
        self._states.clear()

    def __len__(self) -> int:
        return len(self._states)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Another member may apply events to our trades from now on: forget what we cached and held.
        self.ledger.forget(revoked)
        metrics.clear_lag("ledger", self.ledger.group_id, [(tp.topic, tp.partition) for tp in revoked])

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.ledger.cache.clear()
        self.ledger.assigned = set(assigned)
        self.ledger.topics_checked_at = 0.0  # a topic deleted and created again rebalances the group
        log.info("partitions_assigned", partitions=len(assigned))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: Longest wait between attempts at a batch that failed (PostgreSQL or the registry unreachable).
MAX_BACKOFF_S = 5.0


class Ledger:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        codec: Codec,
        store: LedgerStore,
        group_id: str,
        retry_delays_s: Sequence[float] = (5.0, 30.0, 300.0),
        start_from: str = "earliest",
        batch_max_records: int = 5000,
        cache_trades: int = 50_000,
        hold_s: float = 2.0,
        max_hold_s: float = 60.0,
        max_held: int = 100_000,
        keyring: KeyringCache | None = None,
        on_stored: Callable[[], None] | None = None,
        dead_letters: bool = True,
    ) -> None:
        if len(retry_delays_s) != len(RETRY_TOPICS):
            raise ValueError(f"one retry delay per retry topic ({len(RETRY_TOPICS)})")
        self.bootstrap_servers = bootstrap_servers
        self.codec = codec
        self.store = store
        self.group_id = group_id
        self.retry_delays_s = tuple(retry_delays_s)
        self.start_from = start_from
        self.batch_max_records = batch_max_records
        self.hold_s = hold_s
        self.max_hold_s = max(max_hold_s, hold_s)
        self.max_held = max_held
        self.cache = _Cache(cache_trades)
        self.keyring = keyring  # authority keys: certificate signatures are checked on the way in
        self.on_stored = on_stored  # new accepted events are in the outbox (wakes the publisher)
        #: False for a rebuild (services/ops/rebuild.py): a refusal is recorded in the receipt only; the
        #: live ledger dead-lettered the record when it refused it, a second copy would be a duplicate
        self.dead_letters = dead_letters
        self.stats = Stats()
        self.assigned: set[TopicPartition] = set()
        self.paused: dict[TopicPartition, float] = {}  # partition → monotonic time it is due
        self.pending: list[planner.Held] = []  # waiting for a prerequisite, in memory, offsets not committed
        self._last_inserted = 0  # events the last batch's transaction inserted
        self.positions: dict[TopicPartition, int] = {}  # next offset to read, per partition read
        self._committed: dict[TopicPartition, int] = {}
        self._commit_due: dict[TopicPartition, int] | None = None  # targets of the next commit
        self._commit_task: asyncio.Task[None] | None = None
        self.started = False
        self.healthy = True
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._lag_reported_at = 0.0
        self._admin: AIOKafkaAdminClient | None = None
        self.incarnations = Incarnations()
        self._ids_recorded: dict[str, uuid.UUID] = {}
        self.topics_checked_at = 0.0
        self.to_rewind: set[str] = set()  # recreated topics none of whose partitions was ours yet

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        await ensure_topics(self.bootstrap_servers)
        # refuse to consume topics whose partition counts differ: the co-partitioned assignor would
        # then give a trade's order and its parked retries to different ledgers (ADR 0040)
        await check_partitions(self.bootstrap_servers)
        if self.start_from == "latest":
            await self._pin_to_end()
        self._producer = AIOKafkaProducer(
            **producer_config(self.bootstrap_servers, client_id=f"{self.group_id}-side")
        )
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            **client_security(),
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            max_poll_interval_ms=600_000,
            # a topic deleted and created again is assigned again only once the client's metadata shows
            # it back (then the group rebalances): within 10 s, not the default 5 minutes
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
            # a trade's partitions (trade and retry topics) on one ledger, for any number of ledgers
            partition_assignment_strategy=assignment_strategy(),
        )
        await self._consumer.start()
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, **client_security(), client_id=f"{self.group_id}-ids"
        )
        await self._admin.start()
        self._ids_recorded = await self.store.topic_ids()
        self.incarnations = Incarnations(self._ids_recorded)
        self._consumer.subscribe(list(CONSUMED_TOPICS), listener=_Rebalance(self))
        self.started = True
        log.info(
            "ledger_started", group_id=self.group_id, topics=list(CONSUMED_TOPICS), start_from=self.start_from
        )

    async def stop(self) -> None:
        self._stopping.set()
        await self.flush_commits()
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        if self._admin is not None:
            await self._admin.close()
        self.started = False

    def request_stop(self) -> None:
        self._stopping.set()

    @property
    def ready(self) -> bool:
        return self.started and bool(self.assigned) and self.healthy

    async def _pin_to_end(self) -> None:
        """For a group with no committed offsets, commit the current end of every partition, so that
        "latest" means "from when this group was first started", also across a crash and restart."""
        tps = await partitions_of(self.bootstrap_servers, CONSUMED_TOPICS)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            **client_security(),
            group_id=self.group_id,
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            consumer.assign(tps)
            unpinned = [tp for tp in tps if await consumer.committed(tp) is None]
            if unpinned:
                ends = await consumer.end_offsets(unpinned)
                await consumer.commit({tp: ends[tp] for tp in unpinned})
            log.info("offsets_pinned_to_end", partitions=len(unpinned), of=len(tps))
        finally:
            await consumer.stop()

    # -- the loop --------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until ``request_stop``; never raises for a bad record or a passing outage."""
        assert self._consumer is not None
        failures = 0
        while not self._stopping.is_set():
            self._resume_due()
            try:
                await self._watch_topic_ids()
                batches = await self._fetch()
                self._report_lag()
            except KafkaError as exc:
                metrics.ERRORS.labels("ledger", "fetch_failed").inc()
                log.warning("fetch_failed", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)
                continue
            if not batches and not self.pending:
                continue
            try:
                await self.process(batches)
                failures = 0
                self.healthy = True
            except Exception as exc:
                failures += 1
                self.stats.failures += 1
                metrics.ERRORS.labels("ledger", "batch_failed").inc()
                self.healthy = failures < 3
                log.error(
                    "batch_failed",
                    error=f"{type(exc).__name__}: {exc}",
                    attempt=failures,
                    exc_info=not isinstance(exc, TransientError | OSError),
                )
                self._rewind(batches)
                # capped low: after an outage (PostgreSQL restarting) the ledger is back within seconds,
                # and a retry costs one fetch from the client's buffer and one connection attempt
                await asyncio.sleep(min(MAX_BACKOFF_S, 0.5 * 2**failures))

    async def _fetch(self) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """The next batch: first what is fetched of the orders topic (every other event needs its trade's
        order), then the rest, up to ``batch_max_records``; waits up to 200 ms when nothing is there."""
        consumer = self._consumer
        assert consumer is not None
        first = [tp for tp in consumer.assignment() if tp.topic == ORDERS]
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        if first:
            batches = dict(await consumer.getmany(*first, timeout_ms=0, max_records=self.batch_max_records))
        room = self.batch_max_records - sum(len(r) for r in batches.values())
        if room > 0:
            # with nothing fetched, wait for records; what is held is retried at least every 100 ms
            wait_ms = 0 if batches else 100 if self.pending else 200
            for tp, records in (await consumer.getmany(timeout_ms=wait_ms, max_records=room)).items():
                batches.setdefault(tp, []).extend(records)
        for tp in consumer.assignment():
            if tp not in self.positions and tp not in batches:
                self.positions[tp] = await consumer.position(tp)
        return batches

    async def _watch_topic_ids(self) -> None:
        """Every ``TOPIC_CHECK_S`` (and after a rebalance): read again from its start each topic that
        was deleted and created again since it was last read (its id changed; docs/adr/0017).

        aiokafka knows topics by name, so the group's positions of the old topic would be taken for the
        new one and the new topic's first records skipped. Records of the new topic already stored are
        recognised by their event id; what was held of the old one is dropped (its records went with
        the topic). A change seen while none of the topic's partitions is ours (the deletion took them
        in a rebalance) waits until some are assigned again. The new id is recorded in PostgreSQL only
        when nothing waits, so a ledger that stops in between (or was down during the recreation)
        notices again at start."""
        consumer, admin = self._consumer, self._admin
        if consumer is None or admin is None or time.monotonic() - self.topics_checked_at < TOPIC_CHECK_S:
            return
        self.topics_checked_at = time.monotonic()
        try:
            current = await topic_ids(admin, CONSUMED_TOPICS)
        except (KafkaError, OSError) as exc:  # asked again at the next check; fetching goes on
            log.warning("topic_ids_unavailable", error=f"{type(exc).__name__}: {exc}")
            return
        recreated = self.incarnations.changed(current)
        if recreated:
            metrics.ERRORS.labels("ledger", "topic_recreated").inc()
            log.warning("topic_recreated", topics=sorted(recreated))
        self.to_rewind |= recreated
        partitions = [tp for tp in consumer.assignment() if tp.topic in self.to_rewind]
        if partitions:
            await self.flush_commits()  # no commit of the old positions after the rewind
            self.forget(partitions)
            consumer.resume(*partitions)
            await consumer.seek_to_beginning(*partitions)
            self.to_rewind -= {tp.topic for tp in partitions}
            read_again = [f"{tp.topic}-{tp.partition}" for tp in partitions]
            log.warning("topic_read_from_start", partitions=read_again)
        if not self.to_rewind and self.incarnations.known != self._ids_recorded:
            try:
                await self.store.record_topic_ids(self.incarnations.known)
            except (asyncpg.PostgresError, OSError) as exc:  # recorded at the next check
                log.warning("topic_ids_not_recorded", error=f"{type(exc).__name__}: {exc}")
            else:
                self._ids_recorded = dict(self.incarnations.known)

    def _report_lag(self, every_s: float = 1.0) -> None:
        """``corridor_consumer_lag``: the high watermark minus our position, per assigned partition (at
        most every ``every_s``). Partitions not fetched yet have no high watermark and are left out."""
        now = time.monotonic()
        if now - self._lag_reported_at < every_s or self._consumer is None:
            return
        self._lag_reported_at = now
        lags: dict[tuple[str, int], int] = {}
        for tp in self._consumer.assignment():
            high, position = self._consumer.highwater(tp), self.positions.get(tp)
            if high is not None and position is not None:
                lags[(tp.topic, tp.partition)] = high - position
        metrics.set_lag("ledger", self.group_id, lags)

    def _lagging(self, partition: int) -> bool:
        """Whether records of trade-topic partition ``partition`` remain to be read: a trade's events are
        all on the same partition number of each trade topic, so what an event waits for may be there."""
        consumer = self._consumer
        assert consumer is not None
        assignment = consumer.assignment()
        for topic in TRADE_TOPICS:
            tp = TopicPartition(topic, partition)
            if tp not in assignment:
                continue
            high, position = consumer.highwater(tp), self.positions.get(tp)
            if high is None or position is None or position < high:
                return True
        return False

    def _rewind(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """After a failed batch: forget cached states, read the batch again from its first offsets."""
        consumer = self._consumer
        assert consumer is not None
        self.cache.clear()
        assignment = consumer.assignment()
        for tp, records in batches.items():
            if not records:
                continue
            first = records[0].offset
            self.pending = [p for p in self.pending if not (p.record.tp == tp and p.record.offset >= first)]
            if tp in assignment:
                consumer.seek(tp, first)
                self.positions[tp] = first

    def _resume_due(self) -> None:
        if not self.paused or self._consumer is None:
            return
        now = time.monotonic()
        due = [tp for tp, at in self.paused.items() if at <= now]
        if due:
            for tp in due:
                del self.paused[tp]
            assignment = self._consumer.assignment()
            self._consumer.resume(*[tp for tp in due if tp in assignment])

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop what we hold of partitions that are no longer ours (their records come again to the new
        owner: nothing past them was committed)."""
        gone = set(partitions)
        self.cache.clear()
        self.pending = [p for p in self.pending if p.record.tp not in gone]
        for tp in gone:
            self.paused.pop(tp, None)
            self.positions.pop(tp, None)
            self._committed.pop(tp, None)

    # -- one batch -------------------------------------------------------------------------------------

    async def process(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Store a batch (and retry what is held), then park, dead-letter, and commit.

        Each record read in the batch gets a CONSUMER span continuing its ``traceparent`` (when tracing
        exports), ended after the commit with the record's outcome."""
        started = time.perf_counter()
        spans: dict[tuple[str, int, int], Any] = {}
        try:
            outcomes = await self._process(batches, spans)
        except BaseException as exc:
            tracing.end_spans(spans.values(), exc)
            raise
        else:
            for position, span in spans.items():
                tracing.end_span(span, None, **{"corridor.outcome": outcomes.get(position, "held")})
        finally:
            metrics.HANDLER_DURATION.labels("ledger", "batch").observe(time.perf_counter() - started)

    async def _process(
        self,
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        spans: dict[tuple[str, int, int], Any],
    ) -> dict[tuple[str, int, int], str]:
        """Fetch bookkeeping, decoding, the plan (``planner.plan``), its execution; returns each
        record's outcome by where it was read."""
        started = time.perf_counter()
        consumer = self._consumer
        assert consumer is not None
        now = _utcnow()
        now_ms = int(now.timestamp() * 1000)
        read: list[list[_Read]] = []
        for tp, records in batches.items():
            stream: list[_Read] = []
            retry = tp.topic in RETRY_TOPICS
            for record in records:
                headers = tuple(record.headers or ())
                origin = dl.origin_of(tp.topic, tp.partition, record.offset, headers, now)
                if retry:
                    if origin.retry_group != self.group_id:
                        self.stats.skipped += 1
                        self.positions[tp] = record.offset + 1
                        continue
                    if origin.not_before_ms is not None and origin.not_before_ms > now_ms:
                        consumer.seek(tp, record.offset)
                        consumer.pause(tp)
                        self.paused[tp] = time.monotonic() + (origin.not_before_ms - now_ms) / 1000
                        break
                stream.append((record, origin))
                self.positions[tp] = record.offset + 1
            if stream:
                read.append(stream)
        consumed = sum(len(s) for s in read)
        self.stats.records += consumed
        taken = self._took_in(read, spans)
        streams = [[await self._decode(record, origin, *meta) for (record, origin), meta in s] for s in taken]

        plan = await self._plan_and_store(self.pending, streams)

        try:
            sends = [
                await (self._park(s, now) if isinstance(s, planner.Park) else self._dead_letter(s))
                for s in plan.sent
            ]
        except Exception as exc:
            await self._recover_producer(exc, Stage.SEND)
            raise
        if sends:
            try:
                await asyncio.gather(*sends)
            except Exception as exc:
                await self._recover_producer(exc, Stage.ACK)
                raise
        assignment = consumer.assignment()  # a rebalance may have taken partitions meanwhile
        self.pending = [h for h in plan.held if h.record.tp in assignment]
        # the senders' receipts (ADR 0027), before the offsets are committed: a crash writes them again
        receipts = [
            self._receipt(h.record, "pending", None, h.reason, None) for h in self.pending if not h.told
        ]
        for s in plan.sent:
            if isinstance(s, planner.Park):
                receipts.append(self._receipt(s.record, "pending", None, s.reason, s.not_before))
            else:
                receipts.append(self._receipt(s.record, "rejected", s.error_class, s.reason, None))
        await self.store.write_receipts([r for r in receipts if r is not None])
        self.pending = [replace(h, told=True) for h in self.pending]
        self._schedule_commit(plan.commits)
        self.stats.batches += 1
        self.stats.last_batch_at = time.time()
        log.debug(
            "batch_done",
            records=consumed,
            stored=self._last_inserted,
            held=len(plan.held),
            parked=sum(1 for s in plan.sent if isinstance(s, planner.Park)),
            dead_lettered=sum(1 for s in plan.sent if isinstance(s, planner.DeadLetter)),
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return plan.outcomes()

    def _policy(self) -> planner.Policy:
        # the topic names are read at call time: the bench and the hostile tests point them elsewhere
        return planner.Policy(
            retry_topics=tuple(RETRY_TOPICS),
            retry_delays_s=self.retry_delays_s,
            hold_s=self.hold_s,
            max_hold_s=self.max_hold_s,
            max_held=self.max_held,
            topic_rank=_TOPIC_RANK,
        )

    def _schedule_commit(self, targets: Mapping[tuple[str, int], int]) -> None:
        """Commit the offsets of what the batch stored (``targets``: the plan's, never past a held
        record), without waiting for the group coordinator.

        The targets are taken after the batch's transaction, so a commit never covers a record that is
        not stored; one commit runs at a time and the newest targets go next. The loop meanwhile
        fetches and stores the next batch (one Kafka round trip less per batch). A commit that fails is
        retried with the next batch's targets; a crash before it replays records that are already
        stored, which changes nothing (events are unique on their id)."""
        consumer = self._consumer
        assert consumer is not None
        assignment = consumer.assignment()  # a rebalance may have taken partitions meanwhile
        self._commit_due = {
            TopicPartition(*tp): offset
            for tp, offset in targets.items()
            if tp in assignment and tp in self.positions
        }
        if self._commit_task is None or self._commit_task.done():
            self._commit_task = asyncio.get_running_loop().create_task(self._commit_loop())

    async def _commit_loop(self) -> None:
        while self._commit_due is not None:
            targets, self._commit_due = self._commit_due, None
            await self._commit(targets)

    async def flush_commits(self) -> None:
        """Wait for the offsets scheduled so far to be committed (or to have failed and been logged)."""
        task = self._commit_task
        if task is not None:
            with contextlib.suppress(Exception):
                await task

    async def _commit(self, targets: dict[TopicPartition, int]) -> None:
        consumer = self._consumer
        assert consumer is not None
        assignment = consumer.assignment()  # a rebalance may have taken partitions since
        changed = {
            tp: offset
            for tp, offset in targets.items()
            if tp in assignment and self._committed.get(tp) != offset
        }
        if not changed:
            return
        try:
            await consumer.commit(changed)
        except CommitFailedError as exc:
            # The group rebalanced under us: the new owner replays these records, and replaying
            # changes nothing (they are stored, their states updated).
            log.warning("commit_failed_after_rebalance", error=str(exc))
            self.cache.clear()
            return
        except KafkaError as exc:
            metrics.ERRORS.labels("ledger", "commit_failed").inc()
            log.warning("commit_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self._committed.update(changed)

    async def _decode(
        self,
        record: ConsumerRecord[bytes, bytes],
        origin: dl.Origin,
        traceparent: str | None,
        published_ms: int | None,
        span: Any,
    ) -> planner.Inbound:
        """The record decoded (``corridor.core.inbound``) and checked (``planner.check_record``), or
        with the reason it is dead-lettered. The registry unreachable raises ``TransientError``."""
        trace_id = trace_id_of(traceparent) if traceparent else None
        tp, offset = TopicPartition(record.topic, record.partition), record.offset
        keep = {"record": record, "span": span, "trace_id": trace_id, "published_ms": published_ms}
        try:
            decoded = await inbound.decode(self.codec, record.value)
        except inbound.Undecodable as exc:
            failure = (exc.failure.error_class, exc.failure.reason)
            return planner.Inbound(tp, offset, origin, failure=failure, **keep)
        wrong = planner.check_record(decoded.event, record.key, tuple(record.headers or ()))
        if wrong is not None:
            return planner.Inbound(tp, offset, origin, failure=wrong, schema_id=decoded.schema_id, **keep)
        return planner.Inbound(tp, offset, origin, event=decoded.event, schema_id=decoded.schema_id, **keep)

    def _took_in(
        self,
        streams: list[list[_Read]],
        spans: dict[tuple[str, int, int], Any],
    ) -> list[list[tuple[_Read, _Meta]]]:
        """Per record read: its trace context and publish time from the headers, ``events_in`` counts,
        and (when tracing exports) its CONSUMER span."""
        counts: dict[tuple[str, str], int] = {}
        recording = tracing.recording()
        taken = []
        for stream in streams:
            out = []
            for record, origin in stream:
                ce_type = ce_id = traceparent = None
                published_ms: int | None = None
                for name, value in record.headers or ():
                    if name == "traceparent":
                        traceparent = value.decode("utf-8", "replace")
                    elif name == metrics.PUBLISHED_MS_HEADER:
                        try:
                            published_ms = int(value)
                        except ValueError:
                            pass
                    elif name == "ce_type":
                        ce_type = value.decode("utf-8", "replace")
                    elif name == "ce_id":
                        ce_id = value.decode("utf-8", "replace")
                key = (origin.topic, metrics.short_type(ce_type))
                counts[key] = counts.get(key, 0) + 1
                span = None
                if recording:
                    span = tracing.start_consumer_span(
                        origin.topic,
                        origin.partition,
                        record.offset,
                        traceparent,
                        {"messaging.message.id": ce_id, "corridor.attempt": origin.attempts},
                        group=self.group_id,
                    )
                    spans[(record.topic, record.partition, record.offset)] = span
                out.append(((record, origin), (traceparent, published_ms, span)))
            taken.append(out)
        for (topic, kind), n in counts.items():
            metrics.EVENTS_IN.labels("ledger", topic, kind).inc(n)
        return taken

    async def _plan_and_store(
        self, held: list[planner.Held], streams: list[list[planner.Inbound]]
    ) -> planner.Plan:
        """Load the trades' states, plan the batch and store what it applies in one transaction (planned
        again on states another ledger changed meanwhile); returns the plan that was stored."""
        events = [r.event for r in itertools.chain((h.record for h in held), *streams) if r.event is not None]
        trade_ids = {event.trade_id for event in events}
        missing = [t for t in trade_ids if t not in self.cache]
        for state in (await self.store.load_states(missing)).values():
            self.cache.put(state)
        verdicts = await self._status_change_verdicts(events)
        # whether a waiting event's partition of the trade topics still has records to read
        lagging = {p for p in {r.origin.partition for r in itertools.chain(*streams)} | {
            h.record.origin.partition for h in held} if self._lagging(p)}  # fmt: skip
        policy = self._policy()
        for _ in range(_MAX_STALE_RETRIES):
            # read afresh on every attempt: another ledger may have drawn on a licence meanwhile (ADR 0045)
            licence_rows = await self._licences(events)
            plan = planner.plan(
                held,
                streams,
                {t: self.cache.get(t) for t in trade_ids},
                policy=policy,
                now=_utcnow(),
                clock=time.monotonic(),
                positions=self.positions,
                verdicts=verdicts,
                lagging=lagging,
                licences={key: row.state for key, row in licence_rows.items()},
            )
            writes = [TradeWrite(w.state, w.previous) for w in plan.writes]
            licence_writes = [
                LicenceWrite(c.state, licence_rows[c.key].version if c.key in licence_rows else None)
                for c in plan.licence_writes
            ]
            stored = [self._stored(r) for r in plan.applied]
            signed = (
                await record_verdicts([r.decoded for r in plan.applied], self.keyring)
                if self.keyring is not None
                else []
            )
            try:
                inserted = await self.store.write_batch(stored, writes, signed, licence_writes)
            except StaleState as exc:
                self.stats.stale_retries += 1
                log.warning("stale_trade_states", trades=len(exc.trade_ids), licences=sorted(exc.licences))
                self.cache.drop(exc.trade_ids)
                for state in (await self.store.load_states(list(exc.trade_ids))).values():
                    self.cache.put(state)
                continue
            self._committed_events(plan.applied)
            if inserted and self.on_stored is not None:
                self.on_stored()
            for write in writes:
                self.cache.put(write.state)
            self._last_inserted = inserted
            self.stats.stored += inserted
            self.stats.duplicates += len(plan.duplicates)
            self.stats.retried_applied += sum(1 for r in plan.applied if r.origin.attempts > 1)
            if inserted != len(stored):
                log.warning("events_already_stored", applied=len(stored), inserted=inserted)
            for dead in plan.dead_lettered:
                if dead.error is not None:
                    with bound_contextvars(
                        event_id=str(dead.record.decoded.event_id), trace_id=dead.record.trace_id
                    ):
                        log.error("apply_failed", type=type(dead.record.event).__name__, exc_info=dead.error)
            return plan
        raise StaleState(trade_ids)

    async def _licences(self, events: Iterable[TradeEvent]) -> dict[str, LicenceRow]:
        """The stored rows of the licences the events name (``lifecycle.licence.keys_of``)."""
        keys = {key for event in events for key in licence_steps.keys_of(event)}
        return await self.store.load_licences(keys) if keys else {}

    def _committed_events(self, applied: Sequence[planner.Inbound]) -> None:
        """After the transaction: end-to-end latency of each event, and its ``event_stored`` line."""
        committed_ms = metrics.now_ms()
        debug = log.is_enabled_for(logging.DEBUG)
        for item in applied:
            latency = metrics.observe_e2e("ledger", item.origin.topic, item.published_ms, committed_ms)
            if debug and item.event is not None:
                with bound_contextvars(event_id=str(item.event.event_id), trace_id=item.trace_id):
                    log.debug(
                        "event_stored",
                        type=type(item.event).__name__,
                        trade_id=str(item.event.trade_id),
                        topic=item.origin.topic,
                        partition=item.origin.partition,
                        offset=item.origin.offset,
                        attempts=item.origin.attempts,
                        e2e_ms=round(latency * 1000, 1) if latency is not None else None,
                    )

    async def _status_change_verdicts(self, events: list[TradeEvent]) -> dict[uuid.UUID, str]:
        """Signature verdicts of the amendments and revocations among ``events`` (signed-status-change)."""
        changes = [e for e in events if e.avro_name in trust.STATUS_CHANGE_TYPES]
        if not changes or self.keyring is None:
            return {}
        key_ids = [sig.key_id for e in changes if (sig := getattr(e, "signature", None)) is not None]
        ring = await self.keyring.get(key_ids)
        return {e.event_id: signatures.verify_event(e, ring).status.value for e in changes}

    @staticmethod
    def _receipt(
        item: planner.Inbound, status: str, error_class: str | None, reason: str, retry_at: dt.datetime | None
    ) -> Receipt | None:
        """The sender's receipt (pending or rejected) of a decoded event; None for an undecodable record."""
        event = item.event
        if event is None:
            return None
        return Receipt(
            event_id=event.event_id,
            trade_id=event.trade_id,
            sender=event.sender,
            type=event.avro_name,
            status=status,
            error_class=error_class,
            reason=reason,
            attempts=item.origin.attempts,
            retry_at=retry_at,
        )

    def _stored(self, item: planner.Inbound) -> StoredEvent:
        event = item.decoded
        record: ConsumerRecord[bytes, bytes] = item.record
        return StoredEvent(
            event_id=event.event_id,
            trade_id=event.trade_id,
            type=event.avro_name,
            topic=item.origin.topic,
            partition=item.origin.partition,
            offset=item.origin.offset,
            occurred_at=event.occurred_at,
            sender=event.sender,
            subject=subject_of(event),
            schema_id=item.schema_id,
            trace_id=item.trace_id,
            attempts=item.origin.attempts,
            payload=event.model_dump_json(),
            published_at=(
                dt.datetime.fromtimestamp(item.published_ms / 1000, dt.UTC)
                if item.published_ms is not None
                else None
            ),
            record_key=record.key or b"",
            record_value=record.value or b"",
            record_headers=encode_headers(dl.original_headers(tuple(record.headers or ()))),
        )

    # -- side outputs ----------------------------------------------------------------------------------

    async def _recover_producer(self, exc: BaseException, stage: Stage) -> None:
        """Replace the parking/dead-letter producer when ``exc`` poisoned it (a failed acknowledgement
        leaves a sequence gap: every later record of that partition would be refused, ADR 0017). The
        batch is then replayed from its first offsets by ``run`` with the new producer; a side record
        acknowledged before the failure may be produced again (retry and dead-letter topics are
        at-least-once, their readers skip what they applied already)."""
        if self._producer is None or not classify(exc, stage).replace:
            return
        old = self._producer
        fresh = AIOKafkaProducer(**producer_config(self.bootstrap_servers, client_id=f"{self.group_id}-side"))
        await fresh.start()  # a failure here fails the batch again: the next attempt tries anew
        self._producer = fresh
        self.stats.producer_replacements += 1
        metrics.ERRORS.labels("ledger", "producer_replaced").inc()
        log.warning("producer_replaced", error=f"{type(exc).__name__}: {exc}", stage=str(stage))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(old.stop(), 10)

    async def _park(self, park: planner.Park, now: dt.datetime) -> asyncio.Future[Any]:
        """Produce a record to its retry topic (the plan chose the topic, the attempt and the due time)."""
        assert self._producer is not None
        item, record = park.record, park.record.record
        headers = dl.retry_headers(
            tuple(record.headers or ()),
            item.origin,
            attempt=park.attempt,
            not_before=park.not_before,
            group=self.group_id,
            reason=park.reason,
        )
        self.stats.parked += 1
        with bound_contextvars(
            event_id=str(item.event.event_id) if item.event else None, trace_id=item.trace_id
        ):
            log.info("event_parked", retry_topic=park.topic, attempt=park.attempt, reason=park.reason)
        future: asyncio.Future[Any] = await self._producer.send(
            park.topic, value=record.value, key=record.key, headers=headers
        )
        return future

    async def _dead_letter(self, dead: planner.DeadLetter) -> asyncio.Future[Any]:
        assert self._producer is not None
        item, record, error_class, reason = dead.record, dead.record.record, dead.error_class, dead.reason
        original = tuple(record.headers or ())
        headers = dl.dlq_headers(
            original, item.origin, error_class=error_class, reason=reason, group=self.group_id
        )
        self.stats.dead_lettered += 1
        self.stats.dead_by_class[error_class] = self.stats.dead_by_class.get(error_class, 0) + 1
        if self.dead_letters:
            metrics.DEAD_LETTERS.labels("ledger", item.origin.topic, error_class).inc()
        with bound_contextvars(
            event_id=str(item.event.event_id) if item.event else dl.header(original, "ce_id"),
            trace_id=item.trace_id,
        ):
            (log.warning if self.dead_letters else log.info)(
                "event_dead_lettered" if self.dead_letters else "event_refused",
                error_class=error_class,
                reason=reason,
                topic=item.origin.topic,
                partition=item.origin.partition,
                offset=item.origin.offset,
            )
        if not self.dead_letters:
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        # a record that barely fitted its topic may not fit the dead-letter topic with our headers on top
        key, value, headers = dl.fit_record(record.key, record.value, headers)
        future: asyncio.Future[Any] = await self._producer.send(
            DLQ_TOPIC, value=value, key=key, headers=headers
        )
        return future
