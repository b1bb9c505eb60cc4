"""Per-partner rate limit of the gateway: a token bucket per authenticated partner, in process.

Each partner has a bucket of ``burst`` tokens refilled at ``rate_per_s`` tokens a second. A request
costs one token per event (a batch of 200 costs 200) and is answered 429 with ``Retry-After`` when the
bucket holds fewer tokens than it costs; a refused request takes nothing from the bucket. A request
costing more than ``burst`` is admitted when the bucket is full (and empties it), so a batch as large as
the gateway accepts is never refused forever. ``rate_per_s = 0`` switches the limit off.

``RateLimiter`` keeps the buckets in the process: alone it gives N gateway processes behind a load
balancer N times the rate. ``SharedRateLimiter`` (the default, ADR 0037) makes the budget global: the
bucket is one row per partner in PostgreSQL (``corridor.gateway.rate_buckets``), and each process leases
tokens from it a chunk at a time (``lease`` tokens, a twentieth of the burst by default) and spends them
locally, so a request costs no database round trip until its process's lease is spent. Tokens are
taken from the shared bucket before they are spent, so all processes together never admit more than
``burst + rate_per_s × t`` events; a process may hold up to one chunk its partner does not use. When
PostgreSQL does not answer a lease, that process falls back to its own in-process bucket (logged)
rather than refusing every request. Only authenticated partners get a bucket, so the tables are bounded
by the partner registry. Pure apart from the clock and the lease source (both injectable for tests).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from corridor.core.logging import get_logger
from corridor.gateway.problems import Problem, typed

log = get_logger("corridor.gateway.limits")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets by partner id; ``take`` raises a 429 problem when the partner is over its rate."""

    def __init__(self, rate_per_s: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s < 0 or burst < 1:
            raise ValueError("the rate must be >= 0 events/s and the burst >= 1 event")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def _bucket(self, partner_id: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(partner_id)
        if bucket is None:
            bucket = self._buckets[partner_id] = _Bucket(float(self.burst), now)
        elif now > bucket.updated:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate_per_s)
            bucket.updated = now
        return bucket

    def wait_s(self, partner_id: str, cost: int) -> float:
        """Seconds until ``cost`` tokens are available (0: now); does not take them."""
        if not self.enabled or cost <= 0:
            return 0.0
        bucket = self._bucket(partner_id)
        need = min(float(cost), float(self.burst))
        return 0.0 if bucket.tokens >= need else (need - bucket.tokens) / self.rate_per_s

    def take(self, partner_id: str, cost: int = 1) -> None:
        """Take ``cost`` tokens of the partner's bucket, or raise the 429 problem (taking nothing)."""
        if not self.enabled or cost <= 0:
            return
        wait = self.wait_s(partner_id, cost)
        if wait > 0:
            raise too_many_requests(partner_id, cost, self.rate_per_s, self.burst, wait)
        bucket = self._buckets[partner_id]
        bucket.tokens = max(bucket.tokens - cost, 0.0)


@dataclass(frozen=True)
class Lease:
    """Tokens granted from the shared bucket (0 when it holds fewer than needed), and the seconds until
    the needed tokens will be there (0 when granted)."""

    granted: float
    wait_s: float


class LeaseSource(Protocol):
    async def lease(
        self, partner_id: str, *, want: float, need: float, rate_per_s: float, burst: int
    ) -> Lease: ...


class SharedRateLimiter:
    """One budget per partner for every gateway process, leased from ``source`` a chunk at a time."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        source: LeaseSource,
        *,
        lease: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fallback = RateLimiter(rate_per_s, burst)  # validates the figures, and serves when PG does not
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.chunk = float(lease if lease is not None else max(1, burst // 20))
        self.source = source
        self._clock = clock
        self._held: dict[str, float] = {}
        # after a refusal, (when, how many tokens the shared bucket held at most then): it refills at a
        # known rate and nobody gives tokens back, so until it can hold a request's tokens that request is
        # refused here, and a partner flooding over its limit costs no round trips
        self._dry: dict[str, tuple[float, float]] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def _spend(self, partner_id: str, cost: int, need: float) -> bool:
        held = self._held.get(partner_id, 0.0)
        if held < need:
            return False
        self._held[partner_id] = max(held - cost, 0.0)
        return True

    async def acquire(self, partner_id: str, cost: int = 1) -> None:
        """Spend ``cost`` tokens of the partner's global budget, or raise the 429 problem (a refused
        request spends nothing; tokens leased for it stay with this process for the next one)."""
        if not self.enabled or cost <= 0:
            return
        need = min(float(cost), float(self.burst))  # a batch above the burst passes on a full bucket
        if self._spend(partner_id, cost, need):
            return
        async with self._locks[partner_id]:  # one lease at a time per partner in this process
            if self._spend(partner_id, cost, need):
                return
            held = self._held.get(partner_id, 0.0)
            dry = self._dry.get(partner_id)
            if dry is not None:
                counted_at, at_most = dry
                there = min(float(self.burst), at_most + (self._clock() - counted_at) * self.rate_per_s)
                if held + there < need:
                    wait = (need - held - there) / self.rate_per_s
                    raise too_many_requests(partner_id, cost, self.rate_per_s, self.burst, wait)
            want = min(float(self.burst), max(need - held, self.chunk))
            try:
                granted = await self.source.lease(
                    partner_id, want=want, need=need - held, rate_per_s=self.rate_per_s, burst=self.burst
                )
            except Exception as exc:
                log.warning("rate_limit_shared_unavailable", error=f"{type(exc).__name__}: {exc}")
                self.fallback.take(partner_id, cost)
                return
            self._held[partner_id] = held + granted.granted
            if not self._spend(partner_id, cost, need):
                # the bucket held ``need - held - wait × rate`` tokens: from now on at most that plus refills
                self._dry[partner_id] = (self._clock(), need - held - granted.wait_s * self.rate_per_s)
                raise too_many_requests(partner_id, cost, self.rate_per_s, self.burst, granted.wait_s)
            self._dry.pop(partner_id, None)


def retry_after(wait_s: float) -> int:
    """``Retry-After`` in whole seconds (at least 1: a client retrying sooner is refused again)."""
    return max(1, math.ceil(wait_s))


def too_many_requests(partner_id: str, cost: int, rate_per_s: float, burst: int, wait_s: float) -> Problem:
    seconds = retry_after(wait_s)
    what = "this event" if cost == 1 else f"these {cost} events"
    return typed(
        429,
        "rate-limited",
        "Too many events",
        f"partner {partner_id!r} may publish {rate_per_s:g} events/s (bursts of up to {burst}); "
        f"{what} would exceed it: retry after {seconds} s (nothing was produced)",
        headers={"Retry-After": str(seconds)},
    )


async def charge(state: object, partner_id: str, cost: int) -> None:
    """Take ``cost`` tokens of the app's limiter (``app.state.rate_limiter``, if it has one) or raise 429."""
    limiter = getattr(state, "rate_limiter", None)
    if isinstance(limiter, SharedRateLimiter):
        await limiter.acquire(partner_id, cost)
    elif isinstance(limiter, RateLimiter):
        limiter.take(partner_id, cost)
