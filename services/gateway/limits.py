"""Per-partner rate limit of the gateway: a token bucket per authenticated partner, in process.

Each partner has a bucket of ``burst`` tokens refilled at ``rate_per_s`` tokens a second. A request
costs one token per event (a batch of 200 costs 200) and is answered 429 with ``Retry-After`` when the
bucket holds fewer tokens than it costs; a refused request takes nothing from the bucket. A request
costing more than ``burst`` is admitted when the bucket is full (and empties it), so a batch as large as
the gateway accepts is never refused forever. ``rate_per_s = 0`` switches the limit off.

The buckets live in the process (one gateway process = one budget per partner; N processes behind a
load balancer give a partner up to N times the rate). Only authenticated partners get a bucket, so the
table is bounded by the partner registry. Pure apart from the clock (injectable for tests).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from corridor.gateway.problems import Problem


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


def retry_after(wait_s: float) -> int:
    """``Retry-After`` in whole seconds (at least 1: a client retrying sooner is refused again)."""
    return max(1, math.ceil(wait_s))


def too_many_requests(partner_id: str, cost: int, rate_per_s: float, burst: int, wait_s: float) -> Problem:
    seconds = retry_after(wait_s)
    what = "this event" if cost == 1 else f"these {cost} events"
    return Problem(
        429,
        "rate-limited",
        "Too many events",
        f"partner {partner_id!r} may publish {rate_per_s:g} events/s (bursts of up to {burst}); "
        f"{what} would exceed it: retry after {seconds} s (nothing was produced)",
        headers={"Retry-After": str(seconds)},
    )


def limiter_of(state: object) -> RateLimiter | None:
    """The app's limiter (``app.state.rate_limiter``), if the app has one."""
    limiter = getattr(state, "rate_limiter", None)
    return limiter if isinstance(limiter, RateLimiter) else None
