"""``PartnerConsumer``: at-least-once, commit-after-handling reading of a partner topic.

Commit rule: a record counts as handled when the caller asks for the next one (``async for`` does
that when the loop body finished), or when the handler of :meth:`PartnerConsumer.run` returned, or
when the ``async with`` block ends without an exception (so ``break`` after handling an event is fine).
Handled offsets are committed before the consumer waits for new records and at least every
``commit_interval_s`` while records flow, so an idle consumer has committed everything it handled.
After a crash the records not committed yet come again: handlers should be idempotent (every event
carries its ``event_id``, the CloudEvents ``ce_id``).

Records are read with ``isolation_level=read_committed``: the relay writes partner topics in Kafka
transactions, and records of an aborted transaction are never handed out.

What arrives: the events of the trades the partner was admitted to (``PartyAdmitted`` by the trade's
buyer or supplier), only the event types its role receives (``corridor.core.domain.trust.RECEIVES``:
a carrier gets shipment events, never prices or certificates; a customs office the shipment, invoices
and certificates; issuers the booking and certificates; buyer and supplier everything), plus its own
admission and withdrawal. A party admitted late first receives the earlier events its role receives
(header ``corridor_relay_backfill: true``); after its withdrawal nothing more arrives
(docs/adr/0016-trade-admission-and-need-to-know.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from corridor.core.domain.base import TradeEvent
from corridor.core.envelope import CloudEvent
from corridor.core.routing import group_prefix, partner_topic
from corridor.sdk.decoding import EventDecoder, is_transient
from corridor.sdk.security import SCRAM_MECHANISM, kafka_config

log = logging.getLogger("corridor.sdk")

BACKFILL_HEADER = "corridor_relay_backfill"  # an earlier event of a trade you joined later
SIGNATURE_HEADER = "corridor_signature_verdict"  # certificates: the relay's check of the issuer's signature
LEDGER_POSITION_HEADER = "corridor_ledger_seq"  # the ledger's position of the accepted event (ADR 0027)

__all__ = [
    "BACKFILL_HEADER",
    "SCRAM_MECHANISM",
    "SIGNATURE_HEADER",
    "Handler",
    "PartnerConsumer",
    "PartnerRecord",
    "UndecodableRecord",
]


class PartnerLoginError(ConnectionError):
    """The partner listener could not be reached, or it refused your SCRAM login."""


def login_failure(
    bootstrap: str, username: str, cause: BaseException, ssl_context: ssl.SSLContext | None = None
) -> str:
    """Why ``start`` failed, for people: a listener whose certificate does not verify (``ssl_context``:
    the CA you trust, the host name you dialled); one that answers but ends the session refused the
    login (a wrong or rotated password, a disabled partner); no answer means a wrong address."""
    reachable = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        try:
            with socket.create_connection((host, int(port)), timeout=2) as sock:
                reachable.append(server.strip())
                if ssl_context is not None:
                    with ssl_context.wrap_socket(sock, server_hostname=host):
                        pass
        except ssl.SSLCertVerificationError as exc:
            return (
                f"the partner listener at {server.strip()} presented a certificate that does not verify "
                f"({exc.verify_message}): trust the CA certificate `corridor partners add` printed "
                "(cafile=...) and dial a host name the certificate names"
            )
        except (OSError, ValueError):
            continue
    if reachable:
        return (
            f"the partner listener at {', '.join(reachable)} refused the SCRAM-SHA-512 login of "
            f"{username!r}: a wrong or rotated password (use the one `corridor partners add`, "
            "`rotate-key` or `enable` printed last), or a disabled partner"
        )
    return (
        f"no Kafka partner listener answers at {bootstrap} ({type(cause).__name__}: {cause}); check the "
        "address (`corridor stack status` prints partner_bootstrap_servers)"
    )


class UndecodableRecord(Exception):
    """A record of your topic that is not a Corridor event this SDK knows (its offset is not committed)."""

    def __init__(self, record: ConsumerRecord[bytes, bytes], cause: BaseException) -> None:
        where = f"{record.topic}:{record.partition}:{record.offset}"
        super().__init__(f"{where} cannot be decoded: {type(cause).__name__}: {cause}")
        self.record = record
        self.cause = cause


@dataclass(frozen=True)
class PartnerRecord:
    """One event of your topic with where it was and what came with it."""

    topic: str
    partition: int
    offset: int
    trade_id: uuid.UUID
    event: TradeEvent
    cloudevent: CloudEvent
    headers: dict[str, str]
    timestamp_ms: int

    @property
    def backfill(self) -> bool:
        """An earlier event of a trade you joined later (e.g. the order, sent to the carrier)."""
        return self.headers.get(BACKFILL_HEADER) == "true"

    @property
    def signature_verdict(self) -> str | None:
        """For certificates: ``valid``, ``tampered``, ``unknown_signer``, ``revoked``, ``unsigned`` …"""
        return self.headers.get(SIGNATURE_HEADER)

    @property
    def ledger_position(self) -> int | None:
        """Where the ledger accepted this event: every event in your topic was accepted by the ledger,
        and a trade's events come in increasing position (the shared record's order)."""
        value = self.headers.get(LEDGER_POSITION_HEADER)
        return int(value) if value and value.isdigit() else None


Handler = Callable[[PartnerRecord], Awaitable[None]]


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: PartnerConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.owner._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class PartnerConsumer:
    """Reads ``partner.<partner_id>.v1`` in consumer group ``group`` (which must start with
    ``<partner_id>.``: the broker refuses any other), as the SCRAM user ``username``.

    ``async for event in consumer`` yields typed events; ``async for record in consumer.records()``
    yields :class:`PartnerRecord` (event plus offset, CloudEvents attributes and headers);
    ``await consumer.run(handler)`` calls ``handler(record)`` for each. ``registry_user_info`` is the
    schema registry login ``partners add`` printed (``user:password``). The login goes over TLS
    (``SASL_SSL``) with the broker's certificate verified against ``cafile`` (the CA certificate
    ``partners add`` printed; else the system's trust store) and its host name checked; ``ssl_context``
    replaces that context (e.g. with a client certificate). ``start_from`` is where a new group
    starts: the whole history (``earliest``, default) or new events only (``latest``).
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        username: str,
        password: str,
        partner_id: str,
        registry_url: str,
        group: str,
        registry_user_info: str | None = None,
        cafile: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        start_from: str = "earliest",
        on_undecodable: str = "raise",
        commit_interval_s: float = 1.0,
        max_poll_records: int = 100,
        **consumer_overrides: Any,
    ) -> None:
        prefix = group_prefix(partner_id)
        if not group.startswith(prefix) or group == prefix:
            raise ValueError(
                f"consumer group {group!r}: the broker lets partner {partner_id!r} use only groups named "
                f"{prefix}<something>, e.g. {prefix}erp"
            )
        if on_undecodable not in ("raise", "skip"):
            raise ValueError("on_undecodable is 'raise' or 'skip'")
        if start_from not in ("earliest", "latest"):
            raise ValueError("start_from is 'earliest' or 'latest'")
        self.partner_id = partner_id
        self.topic = partner_topic(partner_id)
        self.group = group
        self.on_undecodable = on_undecodable
        self.commit_interval_s = commit_interval_s
        self.max_poll_records = max_poll_records
        # the registry login `partners add` printed (read role); None: CORRIDOR_SCHEMA_REGISTRY_USER_INFO
        self._decoder = EventDecoder(registry_url, registry_user_info=registry_user_info)
        self._registry = self._decoder.registry
        self._codec = self._decoder.codec
        self._config = self.kafka_config(
            bootstrap=bootstrap, username=username, password=password, group=group,
            ssl_context=ssl_context, cafile=cafile, start_from=start_from, **consumer_overrides,
        )  # fmt: skip
        self._consumer: Any = None  # AIOKafkaConsumer, made in start() (it needs the running loop)
        self._buffer: deque[ConsumerRecord[bytes, bytes]] = deque()
        self._handed_out: ConsumerRecord[bytes, bytes] | None = None  # not handled until the next ask
        self._done: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._committed: dict[TopicPartition, int] = {}
        self._last_commit = time.monotonic()
        self._started = False

    @staticmethod
    def kafka_config(
        *,
        bootstrap: str,
        username: str,
        password: str,
        group: str,
        ssl_context: ssl.SSLContext | None = None,
        cafile: str | os.PathLike[str] | None = None,
        start_from: str = "earliest",
        **overrides: Any,
    ) -> dict[str, Any]:
        """aiokafka consumer settings of a partner (also what any other Kafka client needs)."""
        return kafka_config(
            bootstrap=bootstrap, username=username, password=password, group=group,
            ssl_context=ssl_context, cafile=cafile, start_from=start_from, **overrides,
        )  # fmt: skip

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in and join the group; :class:`PartnerLoginError` (saying which of the likely causes)
        when the broker cannot be reached or refuses the login, instead of aiokafka's "Unable to
        bootstrap" (which it says for both)."""
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(**self._config)
        try:
            await self._consumer.start()
        except KafkaError as exc:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None
            await self._registry.close()
            raise PartnerLoginError(
                login_failure(
                    self._config["bootstrap_servers"],
                    self._config["sasl_plain_username"],
                    exc,
                    self._config.get("ssl_context"),
                )
            ) from exc
        self._consumer.subscribe([self.topic], listener=_Revocations(self))
        self._started = True

    async def stop(self, *, handled: bool = False) -> None:
        """Commit what was handled (with ``handled``: the record in hand too) and leave the group."""
        try:
            if self._started:
                if handled:
                    self._mark_done()
                await self.commit()
        finally:
            self._started = False
            if self._consumer is not None:
                await self._consumer.stop()
            await self._registry.close()

    async def __aenter__(self) -> PartnerConsumer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        await self.stop(handled=exc_type is None)

    # -- reading --------------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[TradeEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[TradeEvent]:
        while True:
            yield (await self.next_record()).event

    async def records(self) -> AsyncIterator[PartnerRecord]:
        """The records with their metadata; each is committed once the next is asked for."""
        while True:
            yield await self.next_record()

    async def run(
        self, handler: Handler, *, max_records: int | None = None, idle_timeout: float | None = None
    ) -> int:
        """Call ``handler`` for each record, committing what it finished; returns how many it handled.

        Stops after ``max_records``, or when no record came for ``idle_timeout`` seconds. A handler
        exception propagates; the record it failed on is not committed.
        """
        handled = 0
        while max_records is None or handled < max_records:
            try:
                if idle_timeout is None:
                    record = await self.next_record()
                else:
                    record = await asyncio.wait_for(self.next_record(), idle_timeout)
            except TimeoutError:
                break
            try:
                await handler(record)
            except BaseException:
                self._redeliver_handed_out()
                raise
            self._mark_done()
            handled += 1
        await self.commit()
        return handled

    async def next_record(self) -> PartnerRecord:
        """The next record; the one handed out before counts as handled from now on."""
        self._mark_done()
        while True:
            if not self._buffer:
                await self.commit()  # before waiting: an idle consumer has committed all it handled
                while not self._buffer:
                    batches = await self._consumer.getmany(timeout_ms=1000, max_records=self.max_poll_records)
                    for records in batches.values():
                        self._buffer.extend(records)
            elif time.monotonic() - self._last_commit >= self.commit_interval_s:
                await self.commit()
            record = self._buffer[0]
            try:
                decoded = await self._decode(record)
            except UndecodableRecord:
                if self.on_undecodable == "raise":
                    raise  # left in the buffer: asking again raises again, nothing is skipped silently
                log.warning(
                    "skipping undecodable record %s:%s:%s", record.topic, record.partition, record.offset
                )
                self._buffer.popleft()
                self._handed_out = record
                self._mark_done()
                continue
            self._buffer.popleft()
            self._handed_out = record
            return decoded

    async def _decode(self, record: ConsumerRecord[bytes, bytes]) -> PartnerRecord:
        try:
            decoded = await self._decoder.decode(record.value, record.headers or ())
        except Exception as exc:
            if is_transient(exc):
                raise  # the registry is unreachable or failing: not the record's fault, ask again
            raise UndecodableRecord(record, exc) from exc
        event = decoded.event
        return PartnerRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            trade_id=event.trade_id,
            event=event,
            cloudevent=decoded.cloudevent,
            headers=decoded.headers,
            timestamp_ms=record.timestamp,
        )

    # -- committing -----------------------------------------------------------------------------------

    def _mark_done(self) -> None:
        record, self._handed_out = self._handed_out, None
        if record is not None:
            self._done[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def _redeliver_handed_out(self) -> None:
        """The record in hand failed: read it (and what followed it in its partition) again."""
        record, self._handed_out = self._handed_out, None
        if record is None:
            return
        tp = TopicPartition(record.topic, record.partition)
        self._buffer = deque(r for r in self._buffer if TopicPartition(r.topic, r.partition) != tp)
        self._consumer.seek(tp, record.offset)

    async def commit(self) -> None:
        """Commit the offsets of the records handled so far (no-op when there is nothing new)."""
        assignment = self._consumer.assignment()
        todo = {tp: o for tp, o in self._done.items() if self._committed.get(tp) != o and tp in assignment}
        self._last_commit = time.monotonic()
        if todo:
            await self._consumer.commit(todo)
            self._committed.update(todo)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Before the group moves partitions: commit what was handled, forget what was not handed out."""
        todo = {tp: o for tp, o in self._done.items() if tp in revoked and self._committed.get(tp) != o}
        if todo:
            try:
                await self._consumer.commit(todo)
                self._committed.update(todo)
            except Exception as exc:  # the next owner re-reads them: at least once
                log.warning("commit before rebalance failed: %s", exc)
        self._buffer = deque(r for r in self._buffer if TopicPartition(r.topic, r.partition) not in revoked)
        for tp in revoked:
            self._done.pop(tp, None)
            self._committed.pop(tp, None)

    @property
    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment()) if self._consumer is not None else set()
