"""The relay worker: consume the ledger's accepted stream, route each event to its trade's partner topics,
exactly once.

The relay reads ``SOURCE_TOPICS`` (state.py): the accepted stream ``trade.accepted.v1`` only, so an event
the ledger refused never reaches a partner (ADR 0027); it used to read the three trade topics, and the
code still works on several source topics sharing partition numbers. Work is split by **partition
number**. A trade's events share its key (the trade id), so they sit in the same partition number ``p``
of every source topic; partition number ``p`` of the source topics is one *slot*. The consumer group
uses the range assignor, which gives a member the same partition numbers of every topic, so each slot
is owned by one instance. Per slot the relay keeps:

* a transactional producer with ``transactional.id = <prefix>-<p>``: stable for the slot whichever
  instance owns it, so a new owner's ``InitProducerId`` fences the old one and aborts its open
  transaction (aiokafka has no KIP-447 consumer-group fencing; per-partition ids are the older
  equivalent);
* the routes of its trades (services/core/routing.py), restored from the compacted state topic's
  partition ``p`` when the slot is opened;
* the next offset to relay of each of its partitions.

Each poll is relayed per slot in one transaction: the partner records (back-fills first), the changed
trade routes to the state topic, and the consumed offsets (``send_offsets_to_transaction`` with the
consumer group); then commit. A crash anywhere leaves nothing visible to read_committed consumers, and
the next owner starts from the last committed offsets with the last committed state.
docs/adr/0011-relay-exactly-once.md.

The relay's Kafka I/O outside its consumer goes through its ports (``ports``, ADR 0036): the slot
producers, the partner topics (``AdminPartnerTopics``) and what a slot starts from (``KafkaSlotStore``:
committed offsets, the state topic, earlier records for back-fills); ``start`` wires these adapters
unless others were given (unit tests give the in-memory fakes of ``fakes``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from aiokafka.protocol.offset import OffsetRequest
from aiokafka.structs import ConsumerRecord

from corridor.core import inbound, metrics
from corridor.core.codec import Codec
from corridor.core.domain.base import TradeEvent
from corridor.core.kafka import client_security, new_topic
from corridor.core.logging import get_logger
from corridor.core.partners import ensure_partner_topics
from corridor.core.produce_errors import Stage, classify
from corridor.core.routing import TradeRoute, partner_of_topic, partner_topic, route
from corridor.core.topics import TopicSpec
from corridor.relay.ports import PartnerTopics, SlotProducer, SlotStore
from corridor.relay.settings import RelaySettings
from corridor.relay.state import (
    SOURCE_TOPICS,
    STATE_TOPIC_CONFIGS,
    TOPIC_INDEX,
    HistoryCache,
    Ref,
    RelayRecord,
    encode_route,
    fold_state_record,
    merge_by_timestamp,
    topic_of,
)

log = get_logger("corridor.relay")

SERVICE = "relay"
SOURCE_HEADER = "corridor_relay_source"  # "<trade topic>:<partition>:<offset>" of the original record
BACKFILL_HEADER = "corridor_relay_backfill"  # "true" on an earlier event sent to a party that joined later
SIGNATURE_HEADER = "corridor_signature_verdict"  # certificate events: the signature check's verdict
RELAYED_MS_HEADER = "corridor_relayed_ms"  # the relay's wall clock when it produced the copy (epoch ms)
_TOPIC_ALREADY_EXISTS = 36


class RelayError(RuntimeError):
    """Something the relay cannot work around (the supervisor restarts it)."""


@dataclass
class RelayStats:
    polls: int = 0
    duplicates: int = 0  # second records of an event already relayed: routed to nobody
    records: int = 0  # trade records taken in
    relayed: int = 0  # records routed (committed)
    deliveries: int = 0  # partner records committed (back-fills included)
    backfilled: int = 0
    skipped: int = 0  # undecodable records: routed to nobody
    refused: int = 0  # records breaking a trust rule (ADR 0016): routed to nobody
    transactions: int = 0
    aborted: int = 0
    producer_replacements: int = 0  # slot producers replaced after an error poisoned them
    history_fetches: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Slot:
    """Partition number ``partition`` of the source topics, owned by this instance."""

    partition: int
    transactional_id: str
    producer: SlotProducer
    routes: dict[str, TradeRoute[Ref]] = field(default_factory=dict)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    #: Per trade, the ``ce_id`` of every event relayed: a second record of one event (a client's retry
    #: that a gateway produced again after a crash, ADR 5) is relayed to nobody.
    ids: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Whether the transaction in hand reached ``commit_transaction`` (after that, whether it committed
    #: is not known here, and only reading the state back is safe).
    committing: bool = False


#: ``await verifier(event)``: the signature verdict header value of a certificate event, or None.
Verifier = Callable[[TradeEvent], Awaitable[str | None]]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.relay._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.relay._on_assigned(set(assigned))


class KafkaSlotStore:
    """``ports.SlotStore`` in Kafka: the consumer group's committed offsets (admin client) and the
    compacted state topic, read with a read_committed consumer."""

    def __init__(
        self, admin: AIOKafkaAdminClient, reader: AIOKafkaConsumer, group_id: str, state_topic: str
    ) -> None:
        self.admin = admin
        self.reader = reader
        self.group_id = group_id
        self.state_topic = state_topic

    async def committed_positions(self, p: int) -> dict[TopicPartition, int]:
        tps = [TopicPartition(topic, p) for topic in SOURCE_TOPICS]
        beginnings = await self.list_offsets(tps, earliest=True)
        committed = await self.admin.list_consumer_group_offsets(self.group_id, partitions=tps)
        positions: dict[TopicPartition, int] = {}
        for tp in tps:
            found = committed.get(tp)
            positions[tp] = found.offset if found is not None and found.offset >= 0 else beginnings[tp]
        return positions

    async def restore(self, p: int) -> tuple[dict[str, TradeRoute[Ref]], dict[str, frozenset[str]]]:
        """Read partition ``p`` of the state topic to its end (read_committed: committed state only):
        the routes of its trades and their relayed event ids."""
        tp = TopicPartition(self.state_topic, p)
        begin = (await self.list_offsets([tp], earliest=True))[tp]
        end = (await self.list_offsets([tp], earliest=False))[tp]
        routes: dict[str, TradeRoute[Ref]] = {}
        ids: dict[str, frozenset[str]] = {}
        if end <= begin:
            return routes, ids
        self.reader.assign([tp])
        self.reader.seek(tp, begin)
        deadline = time.monotonic() + 300
        while await self.reader.position(tp) < end:
            if time.monotonic() > deadline:
                raise RelayError(f"reading {self.state_topic}:{p} up to {end} took longer than 300 s")
            batch = await self.reader.getmany(tp, timeout_ms=1000)
            for record in batch.get(tp, []):
                fold_state_record(routes, ids, record.key, record.value)
        return routes, ids

    async def source_record(self, tp: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
        self.reader.assign([tp])
        self.reader.seek(tp, offset)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = await self.reader.getmany(tp, timeout_ms=1000)
            for record in batch.get(tp, []):
                if record.offset < offset:
                    continue
                if record.offset > offset:
                    raise RelayError(
                        f"{tp.topic}:{tp.partition}:{offset} is gone (next record {record.offset})"
                    )
                found: ConsumerRecord[bytes, bytes] = record
                return found
        raise RelayError(f"timed out reading {tp.topic}:{tp.partition}:{offset} for a back-fill")

    async def list_offsets(self, tps: list[TopicPartition], *, earliest: bool) -> dict[TopicPartition, int]:
        """First offsets, or read_committed end offsets (the last stable offset), asking each
        partition's leader directly (the consumer's own lookup waits for its fetcher). Leadership that
        moved (a broker restarted) is looked up again a few times."""
        client = self.admin._client
        found: dict[TopicPartition, int] = {}
        when = -2 if earliest else -1
        for attempt in range(6):
            if attempt:
                await asyncio.sleep(0.5)
                await client.force_metadata_update()
            by_leader: dict[int, list[TopicPartition]] = {}
            for tp in tps:
                if tp in found:
                    continue
                leader = client.cluster.leader_for_partition(tp)
                if leader is not None and leader >= 0:
                    by_leader.setdefault(leader, []).append(tp)
            errors: list[str] = []
            for leader, wanted in by_leader.items():
                topics: dict[str, list[tuple[int, int]]] = {}
                for tp in wanted:
                    topics.setdefault(tp.topic, []).append((tp.partition, when))
                request = OffsetRequest(-1, 1, list(topics.items()))  # replica -1, isolation read_committed
                try:
                    response = await client.send(leader, request)
                except KafkaError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                for topic, partitions in response.topics:
                    for partition, error_code, *rest in partitions:
                        if error_code == 0:
                            found[TopicPartition(topic, partition)] = rest[1]  # (timestamp, offset, …)
                        else:
                            errors.append(f"{topic}:{partition} error {error_code}")
            if len(found) == len(set(tps)):
                return found
        missing = [f"{tp.topic}:{tp.partition}" for tp in tps if tp not in found]
        raise RelayError(f"ListOffsets failed for {missing}: {errors or 'no leader'}")


class AdminPartnerTopics:
    """``ports.PartnerTopics`` through the admin client; topics known to exist are not asked for again."""

    def __init__(self, admin: AIOKafkaAdminClient, partitions: int, known: set[str]) -> None:
        self.admin = admin
        self.partitions = partitions
        self.known = known

    async def ensure(self, partner_id: str) -> str:
        topic = partner_topic(partner_id)
        if topic not in self.known:
            created = await ensure_partner_topics(self.admin, [partner_id], self.partitions)
            if created:
                log.info("partner_topic_created", topic=topic)
            self.known.add(topic)
        return topic


class Relay:
    """The relay worker. Its ports (``ports``) are wired to Kafka by ``start`` unless given: unit tests
    give the in-memory fakes of ``fakes`` (``producers``: the slot producer of a partition number)."""

    def __init__(
        self,
        settings: RelaySettings,
        codec: Codec,
        verifier: Verifier | None = None,
        *,
        producers: Callable[[int], SlotProducer] | None = None,
        topics: PartnerTopics | None = None,
        slot_store: SlotStore | None = None,
    ) -> None:
        self.settings = settings
        self.codec = codec
        self.verifier = verifier
        self.producers = producers
        self.topics = topics
        self.slot_store = slot_store
        self.group_id = settings.relay_group_id
        self.state_topic = settings.state_topic
        self.stats = RelayStats()
        self.slots: dict[int, Slot] = {}
        self.history = HistoryCache(settings.relay_history_cache)
        #: (topic, partition, offset) → when a record was first held for a cure that may still come
        self.partitions: int | None = None  # of each trade topic
        self._lock = asyncio.Lock()
        self._generation = 0  # bumped by every rebalance: a batch polled before one is dropped
        self._fatal: BaseException | None = None
        self._stopping = asyncio.Event()
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._started = False
        self._lag_reported_at = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=s.bootstrap_servers, **client_security(), client_id="corridor-relay-admin"
        )
        await self._admin.start()
        await self._ensure_state_topic()
        known = {t for t in await self._admin.list_topics() if partner_of_topic(t)}
        if self.topics is None:
            self.topics = AdminPartnerTopics(self._admin, s.relay_partner_partitions, known)
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            **client_security(),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=256 * 1024,
            client_id=f"{self.group_id}-reader",
        )
        await self._reader.start()
        if self.slot_store is None:
            self.slot_store = KafkaSlotStore(self._admin, self._reader, self.group_id, self.state_topic)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            **client_security(),
            group_id=self.group_id,
            group_instance_id=f"{self.group_id}-{s.relay_instance_id}",
            client_id=f"{self.group_id}-{s.relay_instance_id}",
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=s.relay_session_timeout_ms,
            heartbeat_interval_ms=max(1000, s.relay_session_timeout_ms // 4),
        )
        await self._consumer.start()
        self._consumer.subscribe(list(SOURCE_TOPICS), listener=_Listener(self))
        self._started = True
        log.info(
            "relay_started",
            group_id=self.group_id,
            instance=s.relay_instance_id,
            state_topic=self.state_topic,
            partner_topics=len(known),
        )

    async def stop(self) -> None:
        self._stopping.set()
        async with self._lock:
            for slot in list(self.slots.values()):
                with suppress(Exception):
                    await slot.producer.stop()
            self.slots.clear()
        for client in (self._consumer, self._reader):
            if client is not None:
                with suppress(Exception):
                    await client.stop()
        if self._admin is not None:
            with suppress(Exception):
                await self._admin.close()
        self._started = False

    def request_stop(self) -> None:
        self._stopping.set()

    @property
    def ready(self) -> bool:
        """Consuming, with every assigned partition number's slot open."""
        if not self._started or self._fatal is not None or self._consumer is None:
            return False
        assigned = {tp.partition for tp in self._consumer.assignment()}
        return bool(assigned) and assigned <= set(self.slots)

    @property
    def trades(self) -> int:
        return sum(len(slot.routes) for slot in self.slots.values())

    # -- topics ------------------------------------------------------------------------------------

    async def _ensure_state_topic(self) -> None:
        assert self._admin is not None
        described = await self._admin.describe_topics(list(SOURCE_TOPICS))
        counts = {t["topic"]: len(t.get("partitions") or ()) for t in described}
        if any(counts.get(topic, 0) == 0 for topic in SOURCE_TOPICS):
            raise RelayError(f"source topics missing or without partitions (is the ledger up?): {counts}")
        if len(set(counts.values())) != 1:
            raise RelayError(f"the source topics must have equal partition counts (one slot each): {counts}")
        self.partitions = next(iter(counts.values()))
        brokers = max(1, len((await self._admin.describe_cluster())["brokers"]))
        existing = set(await self._admin.list_topics())
        if self.state_topic in existing:
            described = await self._admin.describe_topics([self.state_topic])
            have = len(described[0].get("partitions") or ()) if described else 0
            if 0 < have < self.partitions:  # slot p keeps its routes in state partition p (ADR 0040)
                raise RelayError(
                    f"{self.state_topic} has {have} partitions, the source topics {self.partitions}: "
                    "after a migration to more partitions the relay needs the new generation's state "
                    "topic (docs/operations.md, 'More partitions')"
                )
        else:
            spec = TopicSpec(self.state_topic, self.partitions, dict(STATE_TOPIC_CONFIGS))
            response = await self._admin.create_topics([new_topic(spec, brokers)])
            for topic, code, message in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise RelayError(f"could not create {topic}: error {code} {message or ''}")
        # A topic just created reaches every broker's metadata a moment later (longer on three nodes).
        deadline = time.monotonic() + 30
        while True:
            described = await self._admin.describe_topics([self.state_topic])
            have = len(described[0].get("partitions") or ()) if described else 0
            if have >= self.partitions:
                break
            if time.monotonic() > deadline:
                raise RelayError(
                    f"{self.state_topic} has {have} partitions, the source topics {self.partitions}"
                )
            await asyncio.sleep(0.2)

    async def _partner_topic(self, partner_id: str) -> str:
        assert self.topics is not None
        return await self.topics.ensure(partner_id)

    # -- rebalancing -------------------------------------------------------------------------------

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        # Eager rebalancing revokes everything before every assignment: keep the slots (a kept slot
        # must not restore again); only stop relaying what was polled before the rebalance.
        async with self._lock:
            self._generation += 1
            log.info("partitions_revoked", partitions=len(revoked))

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            async with self._lock:
                self._generation += 1
                numbers: dict[int, set[str]] = {}
                for tp in assigned:
                    numbers.setdefault(tp.partition, set()).add(tp.topic)
                partial = {p: sorted(t) for p, t in numbers.items() if t != set(SOURCE_TOPICS)}
                if partial:
                    raise RelayError(
                        f"partition numbers assigned without all the source topics: {partial}; every "
                        "relay instance must subscribe to the same topics with the range assignor"
                    )
                for p in sorted(set(self.slots) - set(numbers)):
                    slot = self.slots.pop(p)
                    self.history.forget_partition(p)
                    with suppress(Exception):
                        await slot.producer.stop()
                    log.info("slot_closed", partition=p)
                for p in sorted(set(numbers) - set(self.slots)):
                    self.slots[p] = await self._open_slot(p)
                assert self._consumer is not None
                for slot in self.slots.values():
                    for tp, position in slot.positions.items():
                        self._consumer.seek(tp, position)
                log.info("partitions_assigned", partitions=len(assigned), slots=sorted(self.slots))
        except BaseException as exc:
            # aiokafka logs and swallows listener errors: hand it to the main loop.
            self._fatal = exc
            log.error("assignment_failed", error=f"{type(exc).__name__}: {exc}")

    def _slot_producer(self, p: int) -> SlotProducer:
        if self.producers is not None:
            return self.producers(p)
        s = self.settings
        producer: SlotProducer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_servers,
            **client_security(),
            transactional_id=f"{s.transactional_id_prefix}-{p}",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=30_000,
            transaction_timeout_ms=s.relay_transaction_timeout_ms,
            client_id=f"{self.group_id}-{s.relay_instance_id}-p{p}",
        )
        return producer

    async def _open_slot(self, p: int) -> Slot:
        """Fence the slot's earlier owner, then read its committed offsets and its state."""
        started = time.monotonic()
        producer = self._slot_producer(p)
        transactional_id = f"{self.settings.transactional_id_prefix}-{p}"
        # InitProducerId: aborts the transaction a crashed or fenced owner left open, and from now on
        # refuses that owner's commits; only then are the offsets and the state final.
        await producer.start()
        slot = Slot(p, transactional_id, producer)
        try:
            assert self.slot_store is not None
            slot.positions = await self.slot_store.committed_positions(p)
            slot.routes, slot.ids = await self.slot_store.restore(p)
        except BaseException:
            with suppress(Exception):
                await producer.stop()
            raise
        log.info(
            "slot_opened",
            partition=p,
            transactional_id=slot.transactional_id,
            trades=len(slot.routes),
            positions={tp.topic: o for tp, o in slot.positions.items()},
            seconds=round(time.monotonic() - started, 3),
        )
        return slot

    # -- relaying ------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Relay until stopped; raises on anything that needs a fresh start (the supervisor's job)."""
        assert self._consumer is not None
        while not self._stopping.is_set():
            if self._fatal is not None:
                raise self._fatal
            generation = self._generation
            batch = await self._consumer.getmany(
                timeout_ms=500, max_records=self.settings.relay_batch_max_records
            )
            self.stats.polls += 1
            if not batch:
                self._report_lag()
                continue
            async with self._lock:
                if self._fatal is not None:
                    raise self._fatal
                if generation != self._generation:
                    # Polled across a rebalance: drop it and read again from our own positions.
                    self._rewind(batch)
                    continue
                by_slot: dict[int, list[list[ConsumerRecord[bytes, bytes]]]] = {}
                for tp, records in batch.items():
                    by_slot.setdefault(tp.partition, []).append(records)
                for p in sorted(by_slot):
                    slot = self.slots.get(p)
                    if slot is None:
                        continue  # not ours any more
                    try:
                        await self._relay_slot(slot, list(merge_by_timestamp(by_slot[p])))
                    except Exception as exc:
                        if not await self._recover_slot(slot, exc):
                            raise
            self._report_lag()

    def _rewind(self, batch: dict[TopicPartition, Any]) -> None:
        assert self._consumer is not None
        assignment = self._consumer.assignment()
        for tp in batch:
            slot = self.slots.get(tp.partition)
            if slot is not None and tp in assignment and tp in slot.positions:
                self._consumer.seek(tp, slot.positions[tp])

    async def _relay_slot(self, slot: Slot, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Relay one slot's records in one transaction."""
        todo = [r for r in records if r.offset >= slot.positions.get(TopicPartition(r.topic, r.partition), 0)]
        if not todo:
            return
        producer = slot.producer
        positions: dict[TopicPartition, int] = {}
        changed: dict[str, TradeRoute[Ref]] = {}
        changed_ids: dict[str, frozenset[str]] = {}
        sent: list[tuple[str, str, bool]] = []  # (partner topic, event type, back-fill) per delivery
        relayed = skipped = duplicates = refused = 0
        await producer.begin_transaction()
        committed = False
        try:
            futures = []
            for record in todo:
                positions[TopicPartition(record.topic, record.partition)] = record.offset + 1
                metrics.EVENTS_IN.labels(SERVICE, record.topic, _type_of(record)).inc()
                current = await self._relay_record(record)
                if current is None:
                    skipped += 1
                    continue
                key = current.key.decode()
                event_id = _header(current.headers, "ce_id")
                seen = changed_ids.get(key, slot.ids.get(key, frozenset()))
                if event_id and event_id in seen:
                    duplicates += 1  # relayed already: a second record of the same event
                    log.warning("duplicate_event_skipped", event_id=event_id, topic=record.topic,
                                partition=record.partition, offset=record.offset)  # fmt: skip
                    continue
                ref = (TOPIC_INDEX[record.topic], record.offset)
                before = changed.get(key) or slot.routes.get(key)
                assert current.event is not None
                after, deliveries, broken = route(before, ref, current.event)
                if broken:
                    # refused by the trust rules (ADR 0016): the accepted stream carries only what the
                    # ledger applied under the same rules (ADR 0027), so this is a record written there
                    # past the ledger, or a rule the two disagree on; it goes to nobody
                    refused += 1
                    metrics.ERRORS.labels(SERVICE, "trust_violation").inc()
                    log.warning("event_refused", event_id=event_id, topic=record.topic,
                                partition=record.partition, offset=record.offset,
                                rules=sorted({v.rule for v in broken}),
                                reason="; ".join(map(str, broken))[:500])  # fmt: skip
                    continue
                relayed += 1
                self.history.put(slot.partition, ref, current)
                changed[key] = after
                if event_id:
                    changed_ids[key] = seen | {event_id}
                for delivery in deliveries:
                    if delivery.ref == ref:
                        out = current
                    else:
                        out = await self._history_record(slot.partition, delivery.ref)
                    topic = await self._partner_topic(delivery.partner_id)
                    headers = [*out.headers, (RELAYED_MS_HEADER, str(metrics.now_ms()).encode())]
                    if delivery.backfill:
                        headers.append((BACKFILL_HEADER, b"true"))
                    futures.append(
                        await producer.send(
                            topic,
                            key=out.key,
                            value=out.value,
                            headers=headers,
                            timestamp_ms=out.timestamp_ms,
                        )
                    )
                    sent.append((topic, out.event_type, delivery.backfill))
            for key, trade_route in changed.items():
                futures.append(
                    await producer.send(
                        self.state_topic,
                        key=key.encode(),
                        value=encode_route(trade_route, changed_ids.get(key, slot.ids.get(key, ()))),
                        partition=slot.partition,
                    )
                )
            await asyncio.gather(*futures)
            await producer.send_offsets_to_transaction(positions, self.group_id)
            if self.settings.relay_pause_before_commit_ms:
                log.info("pausing_before_commit", partition=slot.partition, deliveries=len(sent))
                await asyncio.sleep(self.settings.relay_pause_before_commit_ms / 1000)
            slot.committing = True
            await producer.commit_transaction()
            slot.committing = False
            committed = True
        finally:
            if not committed:
                self.stats.aborted += 1
                metrics.ERRORS.labels(SERVICE, "transaction_aborted").inc()
                with suppress(Exception):
                    await producer.abort_transaction()
        slot.routes.update(changed)
        slot.ids.update(changed_ids)
        slot.positions.update(positions)
        now_ms = metrics.now_ms()
        for record in todo:
            metrics.observe_e2e(
                SERVICE, record.topic, metrics.header_ms(record.headers, metrics.PUBLISHED_MS_HEADER), now_ms
            )
        for topic, event_type, backfill in sent:
            metrics.EVENTS_OUT.labels(SERVICE, topic, event_type).inc()
            self.stats.backfilled += backfill
        self.stats.transactions += 1
        self.stats.records += len(todo)
        self.stats.relayed += relayed
        self.stats.skipped += skipped
        self.stats.duplicates += duplicates
        self.stats.refused += refused
        self.stats.deliveries += len(sent)

    async def _recover_slot(self, slot: Slot, exc: Exception) -> bool:
        """After a transaction of ``slot`` failed before its commit: when the error poisoned the producer
        (``produce_errors``, ADR 0017), replace it by a new one with the same ``transactional.id`` (its
        InitProducerId bumps the epoch and aborts what the old one left open) and read the slot's
        records again from its positions (nothing of the failed transaction is visible, and the slot's
        memory holds the last committed state). Returns False when only a fresh worker is safe (a
        failure during the commit, or not Kafka's): the supervisor then starts one."""
        failure = classify(exc, Stage.TRANSACTION)
        if slot.committing or not isinstance(exc, KafkaError) or not failure.replace:
            return False
        log.warning(
            "slot_producer_poisoned", partition=slot.partition, scope=str(failure.scope), error=failure.reason
        )
        metrics.ERRORS.labels(SERVICE, "producer_replaced").inc()
        with suppress(Exception):
            await asyncio.wait_for(slot.producer.stop(), 10)
        slot.producer = self._slot_producer(slot.partition)
        await slot.producer.start()  # fences the old epoch; a failure here goes to the supervisor
        assert self._consumer is not None
        assignment = self._consumer.assignment()
        for tp, position in slot.positions.items():
            if tp in assignment:
                self._consumer.seek(tp, position)
        self.stats.producer_replacements += 1
        if failure.record_refused:
            await asyncio.sleep(1.0)  # the same record comes again: an operator has to act; no busy loop
        return True

    async def _decode(self, record: ConsumerRecord[bytes, bytes]) -> TradeEvent | None:
        """The record's event, or None when it can never be decoded (it is then routed to nobody). The
        registry unreachable or failing raises ``inbound.RegistryUnavailable``: retried, never skipped."""
        if record.key is None or record.value is None:
            reason: str = "a record without key or value"
        else:
            try:
                return (await inbound.decode(self.codec, record.value)).event
            except inbound.Undecodable as exc:
                reason = f"{exc.failure.error_class}: {exc.failure.reason}"
        metrics.ERRORS.labels(SERVICE, "undecodable").inc()
        log.warning(
            "record_skipped",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason[:500],
        )
        return None

    async def _relay_record(self, record: ConsumerRecord[bytes, bytes]) -> RelayRecord | None:
        event = await self._decode(record)
        if event is None:
            return None
        return RelayRecord(
            key=record.key,
            value=record.value,
            timestamp_ms=record.timestamp,
            headers=await self._headers(record, event),
            event=event,
            event_type=type(event).__name__,
        )

    async def _headers(
        self, record: ConsumerRecord[bytes, bytes], event: TradeEvent
    ) -> tuple[tuple[str, bytes], ...]:
        headers = [(k, v) for k, v in record.headers or () if v is not None]
        headers.append((SOURCE_HEADER, f"{record.topic}:{record.partition}:{record.offset}".encode()))
        if self.verifier is not None:
            verdict = await self.verifier(event)
            if verdict is not None:
                headers.append((SIGNATURE_HEADER, verdict.encode()))
        return tuple(headers)

    async def _history_record(self, partition: int, ref: Ref) -> RelayRecord:
        """An earlier event of a trade, for a back-fill: from memory, else read again from its topic."""
        cached = self.history.get(partition, ref)
        if cached is not None:
            return cached
        assert self.slot_store is not None
        tp = TopicPartition(topic_of(ref), partition)
        self.stats.history_fetches += 1
        record = await self.slot_store.source_record(tp, ref[1])
        relayed = await self._relay_record(record)
        if relayed is None:
            raise RelayError(f"{tp.topic}:{partition}:{ref[1]} was relayed but cannot be decoded now")
        self.history.put(partition, ref, relayed)
        return relayed

    def _report_lag(self, every_s: float = 1.0) -> None:
        now = time.monotonic()
        if self._consumer is None or now - self._lag_reported_at < every_s:
            return
        self._lag_reported_at = now
        lags: dict[tuple[str, int], int] = {}
        for slot in self.slots.values():
            for tp, position in slot.positions.items():
                high = self._consumer.highwater(tp)
                if high is not None:
                    lags[(tp.topic, tp.partition)] = high - position
        metrics.set_lag(SERVICE, self.group_id, lags)

    def lag(self) -> int | None:
        """Records not relayed yet on the owned partitions (None before the first fetch)."""
        if self._consumer is None:
            return None
        total, known = 0, False
        for slot in self.slots.values():
            for tp, position in slot.positions.items():
                high = self._consumer.highwater(tp)
                if high is not None:
                    known = True
                    total += max(0, high - position)
        return total if known else None


def _header(headers: tuple[tuple[str, bytes], ...], name: str) -> str | None:
    for key, value in headers:
        if key == name and value is not None:
            return value.decode(errors="replace")
    return None


def _type_of(record: ConsumerRecord[bytes, bytes]) -> str:
    return metrics.short_type(metrics.header_value(record.headers, "ce_type"))


# mypy checks here that the Kafka adapters satisfy their ports
_slot_store: type[SlotStore] = KafkaSlotStore
_topics: type[PartnerTopics] = AdminPartnerTopics
