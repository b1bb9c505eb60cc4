"""In-memory fakes of the gateway's ports (``ports``), for unit tests of the use case (ADR 0036).

Each fake keeps the invariants its Protocol states, the same the real adapter keeps (the shared
contract, tests/support/gateway_store_contract.py, runs on the fake in tests/unit and on
``store.GatewayStore`` in tests/integration): one owner per claimed key, ``done`` only after
``complete``, ``release`` frees only the caller's pending claims, a stale pending claim is taken over.
No runtime module imports this one (the import contract in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaConnectionError

from corridor.core.domain import trust
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.domain.trust import TrustState
from corridor.core.envelope import Headers
from corridor.core.partners.store import Partner, PartnerStatus, new_api_key
from corridor.core.produce_errors import ProducerAbandonedError
from corridor.core.topic_limits import TopicLimits
from corridor.gateway.ports import (
    Claim,
    ClaimState,
    Completion,
    IdempotencyStore,
    PartnerDirectory,
    PinnedProducer,
    ProducerLink,
    claim_until_settled,
)

__all__ = [
    "Ack",
    "FakeKafkaLink",
    "FakeTradeProducer",
    "InMemoryGatewayStore",
    "InMemoryPartnerDirectory",
    "SentRecord",
]


@dataclass
class _Row:
    body_hash: bytes
    state: str  # "pending" | "done"
    token: uuid.UUID
    claimed_at: float
    result: dict[str, Any] | None = None


@dataclass
class InMemoryGatewayStore:
    """``ports.IdempotencyStore`` in dictionaries; ``clock`` (seconds) decides when a claim is stale."""

    stale_after_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    rows: dict[tuple[str, str], _Row] = field(default_factory=dict)
    #: (trade id, event id) -> (event type, event JSON), in acknowledgement order (dicts keep it)
    facts: dict[tuple[uuid.UUID, uuid.UUID], tuple[str, str]] = field(default_factory=dict)
    #: when set, every call raises it (PostgreSQL unreachable)
    down: BaseException | None = None

    def _check(self) -> None:
        if self.down is not None:
            raise self.down

    async def ping(self) -> None:
        self._check()

    async def trust_states(self, trade_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, TrustState]:
        self._check()
        wanted = set(trade_ids)
        out: dict[uuid.UUID, TrustState] = {}
        for (trade_id, _event_id), (event_type, payload) in self.facts.items():
            if trade_id in wanted:
                event = EVENT_TYPES[event_type].model_validate_json(payload)
                out[trade_id] = trust.admit(out.get(trade_id), event)
        return out

    async def acknowledged(self, partner_id: str, event_id: str) -> dict[str, Any] | None:
        self._check()
        for (partner, key), row in self.rows.items():
            if partner != partner_id or row.state != "done" or row.result is None:
                continue
            if key == event_id or row.result.get("event_id") == event_id:
                return dict(row.result)
        return None

    async def claim(
        self, partner_id: str, keys: Sequence[str], hashes: Sequence[bytes], token: uuid.UUID
    ) -> dict[str, Claim]:
        self._check()
        now = self.clock()
        claims: dict[str, Claim] = {}
        for key, body_hash in sorted(zip(keys, hashes, strict=True)):
            row = self.rows.get((partner_id, key))
            if row is None:
                self.rows[(partner_id, key)] = _Row(body_hash, "pending", token, now)
                claims[key] = Claim(key, ClaimState.OWNED)
            elif row.body_hash != body_hash:
                claims[key] = Claim(key, ClaimState.CONFLICT)
            elif row.state == "done":
                claims[key] = Claim(key, ClaimState.DONE, dict(row.result or {}))
            elif now - row.claimed_at > self.stale_after_s:
                # a pending claim nobody completed (its process died): take it over
                row.token, row.claimed_at = token, now
                claims[key] = Claim(key, ClaimState.OWNED)
            else:
                claims[key] = Claim(key, ClaimState.IN_PROGRESS)
        return claims

    async def wait_for_others(
        self,
        partner_id: str,
        keys: Sequence[str],
        hashes: Sequence[bytes],
        token: uuid.UUID,
        timeout_s: float,
        poll_s: float = 0.025,
    ) -> dict[str, Claim]:
        return await claim_until_settled(self, partner_id, keys, hashes, token, timeout_s, poll_s)

    async def complete(
        self, partner_id: str, token: uuid.UUID, done: Sequence[Completion], failed: Sequence[str]
    ) -> None:
        self._check()
        for c in done:
            row = self.rows.get((partner_id, c.key))
            if row is not None and row.token == token:
                row.state, row.result = "done", dict(c.result)
            if c.fact is not None:
                self.facts.setdefault((c.trade_id, c.event_id), (c.event_type, c.fact))
        await self.release(partner_id, token, failed)

    async def release(self, partner_id: str, token: uuid.UUID, keys: Sequence[str]) -> None:
        self._check()
        for key in keys:
            row = self.rows.get((partner_id, key))
            if row is not None and row.token == token and row.state == "pending":
                del self.rows[(partner_id, key)]

    async def expire_idempotency(self, older_than_s: float, batch: int = 5_000) -> int:
        self._check()
        old = [k for k, row in self.rows.items() if self.clock() - row.claimed_at > older_than_s]
        for key in old:
            del self.rows[key]
        return len(old)


@dataclass
class InMemoryPartnerDirectory:
    """``ports.PartnerDirectory`` over a dictionary; ``add`` registers a partner and returns its key."""

    partners: dict[str, Partner] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # API key -> partner id

    def add(self, partner_id: str, role: str, *, active: bool = True) -> str:
        status = PartnerStatus.ACTIVE if active else PartnerStatus.DISABLED
        self.partners[partner_id] = Partner(partner_id, role, partner_id, status)
        api_key = new_api_key(partner_id)
        self.keys[api_key] = partner_id
        return api_key

    async def get_partners(self, partner_ids: Iterable[str]) -> dict[str, Partner]:
        return {p: self.partners[p] for p in set(partner_ids) if p in self.partners}

    async def authenticate(self, api_key: str) -> Partner | None:
        partner = self.partners.get(self.keys.get(api_key, ""))
        return partner if partner is not None and partner.active else None


@dataclass(frozen=True)
class Ack:
    """What the broker answers for a stored record (the fields of aiokafka's ``RecordMetadata`` the
    gateway reads)."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class SentRecord:
    event: TradeEvent
    source: str | None
    traceparent: str | None
    headers: tuple[tuple[str, bytes], ...]
    body: bytes | None
    ack: Ack


@dataclass
class FakeTradeProducer:
    """``ports.PinnedProducer`` that stores records in ``sent`` and acknowledges them at once.

    ``refuse_send``: raised by the next sends (the producer could not queue the record);
    ``refuse_ack``: the acknowledgement futures fail with it (the broker refused the record);
    ``hold_acks``: the futures stay pending until ``release_acks`` (a broker that does not answer) or
    ``abandon`` (which fails them, as ``TradeProducer.abandon`` does)."""

    partitions: int = 3
    sent: list[SentRecord] = field(default_factory=list)
    refuse_send: BaseException | None = None
    refuse_ack: BaseException | None = None
    hold_acks: bool = False
    generation: int = 1
    abandoned: list[str] = field(default_factory=list)
    _offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    _held: list[tuple[asyncio.Future[Any], Ack]] = field(default_factory=list)

    async def send_pinned(
        self,
        event: TradeEvent,
        *,
        source: str | None = None,
        traceparent: str | None = None,
        extra_headers: Headers | None = None,
        body: bytes | None = None,
        generation: int | None = None,
    ) -> tuple[asyncio.Future[Any], int]:
        if self.refuse_send is not None:
            raise self.refuse_send
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.refuse_ack is not None:
            future.set_exception(self.refuse_ack)
            return future, self.generation
        partition = zlib.crc32(str(event.trade_id).encode()) % self.partitions
        offset = self._offsets.get((event.topic, partition), 0)
        self._offsets[(event.topic, partition)] = offset + 1
        ack = Ack(event.topic, partition, offset)
        self.sent.append(SentRecord(event, source, traceparent, tuple(extra_headers or ()), body, ack))
        if self.hold_acks:
            self._held.append((future, ack))
        else:
            future.set_result(ack)
        return future, self.generation

    def abandon(self, generation: int, reason: str) -> bool:
        """Fail the held acknowledgements (``ProducerAbandonedError``) and move to the next generation;
        ``abandoned`` notes each call's reason."""
        if generation != self.generation:
            return False
        self.abandoned.append(reason)
        for future, _ack in self._held:
            if not future.done():
                future.set_exception(ProducerAbandonedError(reason))
        self._held.clear()
        self.generation += 1
        return True

    def release_acks(self) -> None:
        """Answer the held acknowledgements."""
        for future, ack in self._held:
            if not future.done():
                future.set_result(ack)
        self._held.clear()


@dataclass
class FakeKafkaLink:
    """``ports.ProducerLink`` over one :class:`FakeTradeProducer`; ``unreachable`` makes ``producer()``
    fail as ``KafkaLink`` does when no broker answers."""

    trade_producer: FakeTradeProducer = field(default_factory=FakeTradeProducer)
    limits: TopicLimits | None = None
    unreachable: bool = False
    stopped: bool = False

    async def producer(self) -> PinnedProducer:
        if self.unreachable:
            raise KafkaConnectionError("Kafka is unreachable (fake)")
        return self.trade_producer

    async def refresh_limits(self, *, force: bool = False) -> TopicLimits | None:
        return self.limits

    async def ping(self, timeout_s: float) -> None:
        await self.producer()

    async def stop(self, timeout_s: float) -> None:
        self.stopped = True


# mypy checks here that each fake satisfies its port
_store: type[IdempotencyStore] = InMemoryGatewayStore
_directory: type[PartnerDirectory] = InMemoryPartnerDirectory
_producer: type[PinnedProducer] = FakeTradeProducer
_link: type[ProducerLink] = FakeKafkaLink
