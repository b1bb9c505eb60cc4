"""The accepted stream's publisher: the ledger's outbox → ``trade.accepted.v1`` (ADR 0027).

The consumer writes every event it accepts to the ``outbox`` table in the same PostgreSQL transaction
as the event itself, so the decision and the duty to announce it are one unit of work. This task reads
the outbox in ``seq`` order (the order the ledger applied the events) and produces each original record
— key, Avro value, CloudEvents headers — to the accepted stream with two headers more:
``corridor_ledger_seq`` (the ledger's position) and ``corridor_ledger_source`` (topic:partition:offset it
was read from). Only after the broker acknowledged a batch are its rows marked published.

Invariants:

* Nothing the ledger did not accept is ever on the accepted stream (only outbox rows are published,
  and outbox rows are written only with an accepted event).
* Nothing accepted is lost: a row stays unpublished until acknowledged (acks=all); a crash between the
  acknowledgement and the mark publishes it again. That duplicate is the one duplicate the stream can
  hold, and its readers drop it by ``ce_id`` (the relay keeps every relayed id per trade, ADR 11).
* Per trade, the stream's order is the ledger's: rows are sent in ``seq`` order by one idempotent
  producer, and a trade's rows get increasing ``seq`` (its writes are serialised by the version check).
* One publisher at a time per ledger schema: a PostgreSQL advisory lock (keyed by the schema's name)
  held on a connection of its own. Another ledger process of the same schema waits for it; when the
  holder dies its connection and lock go with it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from corridor.core import metrics
from corridor.core.kafka import producer_config
from corridor.core.logging import get_logger
from corridor.core.produce_errors import Stage, classify
from corridor.core.topics import ACCEPTED, ACCEPTED_SPEC
from corridor.ledger.store import LedgerStore, OutboxRecord
from corridor.ledger.topics import ensure_topics

log = get_logger("corridor.ledger.publisher")

SEQ_HEADER = "corridor_ledger_seq"
SOURCE_HEADER = "corridor_ledger_source"
_OWN_HEADERS = (SEQ_HEADER, SOURCE_HEADER)
#: the publisher's advisory lock: hashtext() of this and the ledger's schema name
_LOCK = "SELECT pg_try_advisory_lock(hashtext('corridor-ledger-publisher:' || $1))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtext('corridor-ledger-publisher:' || $1))"
MAX_BACKOFF_S = 5.0


@dataclass
class PublisherStats:
    published: int = 0
    batches: int = 0
    failures: int = 0
    producer_replacements: int = 0
    last_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "batches": self.batches,
            "failures": self.failures,
            "producer_replacements": self.producer_replacements,
            "last_seq": self.last_seq,
        }


def encode_headers(headers: Any) -> str:
    """A record's headers as stored in the outbox: ``[[name, base64 value], ...]``."""
    return json.dumps([[name, base64.b64encode(value or b"").decode()] for name, value in headers or ()])


def decode_headers(text: str) -> list[tuple[str, bytes]]:
    return [(str(name), base64.b64decode(value)) for name, value in json.loads(text)]


def accepted_headers(row: OutboxRecord) -> list[tuple[str, bytes]]:
    """The original headers (less any of ours a record might carry) plus the ledger's position."""
    headers = [(n, v) for n, v in decode_headers(row.headers) if n not in _OWN_HEADERS]
    headers += [(SEQ_HEADER, str(row.seq).encode()), (SOURCE_HEADER, row.source.encode())]
    return headers


class Publisher:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        store: LedgerStore,
        topic: str = ACCEPTED,
        batch_max_records: int = 1000,
        idle_s: float = 0.5,
        pause_before_publish_ms: int = 0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.store = store
        self.topic = topic
        self.batch_max_records = batch_max_records
        self.idle_s = idle_s
        self.pause_before_publish_ms = pause_before_publish_ms
        self.stats = PublisherStats()
        self.leading = False
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None

    def wake(self) -> None:
        """New rows are in the outbox (called by the consumer after its transaction)."""
        self._wake.set()

    def request_stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Publish until stopped; infrastructure failures are retried with backoff, never raised."""
        while not self._stopping.is_set():
            try:
                async with self.store.pool.acquire() as lock_conn:
                    if not await self._lead(lock_conn):
                        continue
                    try:
                        await self._publish_loop()
                    finally:
                        self.leading = False
                        with contextlib.suppress(Exception):
                            await lock_conn.execute(_UNLOCK, self.store.schema)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.failures += 1
                metrics.ERRORS.labels("ledger", "publish_failed").inc()
                log.warning("publisher_failed", error=f"{type(exc).__name__}: {exc}")
                await self._sleep(1.0)
        await self._close_producer()

    async def _lead(self, conn: asyncpg.Connection) -> bool:
        """Take the publisher's advisory lock (waiting while another ledger process holds it)."""
        while not self._stopping.is_set():
            if await conn.fetchval(_LOCK, self.store.schema):
                self.leading = True
                log.info("publisher_leading", topic=self.topic, db_schema=self.store.schema)
                return True
            await self._sleep(2.0)
        return False

    async def _publish_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            rows = await self.store.unpublished(self.batch_max_records)
            if not rows:
                await self._sleep(self.idle_s)
                continue
            try:
                await self._publish(rows)
                failures = 0
            except Exception as exc:
                failures += 1
                self.stats.failures += 1
                metrics.ERRORS.labels("ledger", "publish_failed").inc()
                log.warning("publish_failed", error=f"{type(exc).__name__}: {exc}", attempt=failures)
                if classify(exc, Stage.ACK).replace:
                    await self._close_producer()  # a fresh one (new sequence numbers) next time
                    self.stats.producer_replacements += 1
                await self._sleep(min(MAX_BACKOFF_S, 0.2 * 2**failures), wakeable=False)

    async def _publish(self, rows: list[OutboxRecord]) -> None:
        producer = await self._ensure_producer()
        if self.pause_before_publish_ms:
            # test-only: the window "accepted and committed, not yet published" made wide enough to crash in
            log.info("pausing_before_publish", rows=len(rows), first_seq=rows[0].seq)
            await asyncio.sleep(self.pause_before_publish_ms / 1000)
        started = time.perf_counter()
        futures = [
            await producer.send(self.topic, key=row.key, value=row.value, headers=accepted_headers(row))
            for row in rows
        ]
        await asyncio.gather(*futures)
        await self.store.mark_published([row.seq for row in rows])
        self.stats.published += len(rows)
        self.stats.batches += 1
        self.stats.last_seq = rows[-1].seq
        metrics.HANDLER_DURATION.labels("ledger", "publish").observe(time.perf_counter() - started)
        log.debug("accepted_published", rows=len(rows), last_seq=rows[-1].seq)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            if self.topic != ACCEPTED:  # a ledger of its own (tests, benchmarks): its own stream
                await ensure_topics(
                    self.bootstrap_servers, (dataclasses.replace(ACCEPTED_SPEC, name=self.topic),)
                )
            producer = AIOKafkaProducer(
                **producer_config(
                    self.bootstrap_servers,
                    client_id="corridor-ledger-publisher",
                    max_request_size=int(ACCEPTED_SPEC.configs["max.message.bytes"]),
                )
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)

    async def _sleep(self, seconds: float, *, wakeable: bool = True) -> None:
        waits = [self._stopping.wait()]
        if wakeable:
            waits.append(self._wake.wait())
        tasks = [asyncio.ensure_future(w) for w in waits]
        try:
            await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
