"""The ports of the gateway's use case (``service.Gateway``): what ``publish`` needs from the world, as
``typing.Protocol`` classes, and the plain records that cross them.

* :class:`IdempotencyStore` — claims, completions and trust facts (PostgreSQL: ``store.GatewayStore``;
  in memory: ``fakes.InMemoryGatewayStore``);
* :class:`PartnerDirectory` — partner lookups and API-key authentication (PostgreSQL:
  ``store.PartnerTables``; in memory: ``fakes.InMemoryPartnerDirectory``);
* :class:`Keyring` — the certificate authorities' keys (``corridor.core.signatures.KeyringCache``);
* :class:`ProducerLink` / :class:`PinnedProducer` — the gateway's one Kafka producer (``service.KafkaLink``
  over ``corridor.core.kafka.TradeProducer``; in memory: ``fakes.FakeKafkaLink``).

This module imports no adapter of the gateway (``store``, ``service``; the import contract in
pyproject.toml says so): the use case and the fakes depend on it, the adapters implement it. mypy checks
that the adapters and the fakes satisfy these Protocols (``fakes`` and ``service`` assign them).
Invariants every implementation keeps (the shared contract test, tests/support/gateway_store_contract.py,
runs against both): of two requests claiming one key exactly one owns it; a key is ``done`` only after
``complete``; ``release`` frees only this request's pending claims; a claim never completed becomes
claimable again after the store's ``stale_after_s`` — which the gateway sets above its delivery bound,
so a claim is never taken over while its first owner's records can still be written (ADR 0041).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.trust import TrustState
from corridor.core.envelope import Headers
from corridor.core.partners.store import Partner
from corridor.core.signatures import AuthorityKey
from corridor.core.topic_limits import TopicLimits


class ClaimState(Enum):
    OWNED = "owned"  # this request produces it
    DONE = "done"  # produced and acknowledged before: answer with the stored result
    CONFLICT = "conflict"  # the key was used for a different event
    IN_PROGRESS = "in_progress"  # another request is producing it right now


@dataclass(frozen=True)
class Claim:
    key: str
    state: ClaimState
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class Completion:
    """An acknowledged event: its key, the result to replay, and (``fact``: its JSON) the event itself
    when it changes its trade's trust facts (``trust.FACT_TYPES``)."""

    key: str
    result: dict[str, Any]
    trade_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    fact: str | None = None


class IdempotencyStore(Protocol):
    """The gateway's state: idempotency claims with their stored results, and the trades' trust facts."""

    async def ping(self) -> None: ...

    async def trust_states(self, trade_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, TrustState]:
        """The trust facts of these trades, folded from their accepted fact events (absent: unknown)."""
        ...

    async def acknowledged(self, partner_id: str, event_id: str) -> dict[str, Any] | None:
        """The result stored when Kafka acknowledged ``event_id`` for this partner (None: never)."""
        ...

    async def claim(
        self, partner_id: str, keys: Sequence[str], hashes: Sequence[bytes], token: uuid.UUID
    ) -> dict[str, Claim]: ...

    async def wait_for_others(
        self,
        partner_id: str,
        keys: Sequence[str],
        hashes: Sequence[bytes],
        token: uuid.UUID,
        timeout_s: float,
        poll_s: float = 0.025,
    ) -> dict[str, Claim]:
        """Claim again until no key is in progress elsewhere (or ``timeout_s`` passed)."""
        ...

    async def complete(
        self, partner_id: str, token: uuid.UUID, done: Sequence[Completion], failed: Sequence[str]
    ) -> None:
        """Store the results of acknowledged events with their trades' new facts; free failed claims."""
        ...

    async def release(self, partner_id: str, token: uuid.UUID, keys: Sequence[str]) -> None:
        """Give up claims this request holds without having produced (or whose produce failed)."""
        ...

    async def expire_idempotency(self, older_than_s: float, batch: int = 5_000) -> int:
        """Delete the rows claimed more than ``older_than_s`` ago; how many went (ADR 0005)."""
        ...


async def claim_until_settled(
    store: IdempotencyStore,
    partner_id: str,
    keys: Sequence[str],
    hashes: Sequence[bytes],
    token: uuid.UUID,
    timeout_s: float,
    poll_s: float,
) -> dict[str, Claim]:
    """``store.wait_for_others`` for every implementation: claim, then claim the keys still in progress
    elsewhere again every ``poll_s`` until none is (or ``timeout_s`` passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    hash_of = dict(zip(keys, hashes, strict=True))
    claims = await store.claim(partner_id, keys, hashes, token)
    while any(c.state is ClaimState.IN_PROGRESS for c in claims.values()) and loop.time() < deadline:
        await asyncio.sleep(poll_s)
        waiting = [k for k, c in claims.items() if c.state is ClaimState.IN_PROGRESS]
        claims.update(await store.claim(partner_id, waiting, [hash_of[k] for k in waiting], token))
    return claims


class PartnerDirectory(Protocol):
    """Who the partners are: lookups by id (active or not) and API-key authentication."""

    async def get_partners(self, partner_ids: Iterable[str]) -> dict[str, Partner]: ...

    async def authenticate(self, api_key: str) -> Partner | None:
        """The active partner this key belongs to, or None."""
        ...


class Keyring(Protocol):
    """The certificate authorities' public keys by key id (``signatures.KeyringCache``)."""

    async def get(self, key_ids: Iterable[str] = ()) -> dict[str, AuthorityKey]: ...


class Acknowledgement(Protocol):
    """Where the broker stored a record (aiokafka's ``RecordMetadata`` has these)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


class PinnedProducer(Protocol):
    """``TradeProducer.send_pinned``: queue an event, get the future of its acknowledgement (acks=all)
    and the generation of the producer that has it (a later send with that generation is refused by a
    replaced producer instead of overtaking a failed record)."""

    async def send_pinned(
        self,
        event: TradeEvent,
        *,
        source: str | None = None,
        traceparent: str | None = None,
        extra_headers: Headers | None = None,
        body: bytes | None = None,
        generation: int | None = None,
    ) -> tuple[asyncio.Future[Any], int]: ...

    def abandon(self, generation: int, reason: str) -> bool:
        """Stop the producer of ``generation`` for good: what it holds fails at once and is never sent
        or retried again; later sends go to a replacement (``TradeProducer.abandon``)."""
        ...


class ProducerLink(Protocol):
    """The gateway's link to Kafka: its one producer, started on first use, and the trade topics'
    limits (``max.message.bytes`` …) as last read from the cluster (None: not read)."""

    limits: TopicLimits | None

    async def producer(self) -> PinnedProducer: ...

    async def refresh_limits(self, *, force: bool = False) -> TopicLimits | None: ...

    async def ping(self, timeout_s: float) -> None: ...

    async def stop(self, timeout_s: float) -> None: ...
