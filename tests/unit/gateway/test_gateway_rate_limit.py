"""The gateway's global rate limit (ADR 0037) through an in-memory bucket with the SQL's semantics.

``FakeBuckets`` is the PostgreSQL table's contract in memory: refill by the elapsed time up to the burst,
grant up to ``want`` when ``need`` is there, else nothing and the wait. Several ``SharedRateLimiter``s on
one fake are several gateway processes; ``tests/integration/gateway/test_gateway_rate_limit_shared.py``
runs the same checks on the real table.
"""

from __future__ import annotations

import asyncio

import pytest

from corridor.gateway.limits import Lease, SharedRateLimiter
from corridor.gateway.problems import Problem


class FakeBuckets:
    def __init__(self) -> None:
        self.now = 0.0
        self.rows: dict[str, tuple[float, float]] = {}
        self.leases = 0
        self.down = False

    async def lease(
        self, partner_id: str, *, want: float, need: float, rate_per_s: float, burst: int
    ) -> Lease:
        if self.down:
            raise ConnectionError("PostgreSQL does not answer")
        self.leases += 1
        tokens, counted = self.rows.get(partner_id, (float(burst), self.now))
        tokens = min(float(burst), tokens + rate_per_s * max(0.0, self.now - counted))
        if tokens < need:
            self.rows[partner_id] = (tokens, self.now)
            return Lease(0.0, (need - tokens) / rate_per_s)
        granted = min(want, tokens)
        self.rows[partner_id] = (tokens - granted, self.now)
        return Lease(granted, 0.0)


async def admitted(limiter: SharedRateLimiter, partner: str, cost: int = 1) -> bool:
    try:
        await limiter.acquire(partner, cost)
    except Problem as refused:
        assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
        return False
    return True


async def test_three_processes_share_one_budget() -> None:
    buckets = FakeBuckets()
    gateways = [SharedRateLimiter(10.0, 100, buckets, lease=5, clock=lambda: buckets.now) for _ in range(3)]
    total = 0
    for second in range(20):
        buckets.now = float(second)
        for _ in range(40):  # 120 requests a second offered across the three processes
            for gateway in gateways:
                total += await admitted(gateway, "buyer")
    # a process-local limit would have admitted 3 × (100 + 10 × 19); the shared one at most once that
    assert 100 + 10 * 19 - 3 * 5 <= total <= 100 + 10 * 19
    # leased a chunk at a time, and a refusal is remembered until the bucket can hold that much again:
    # 2,400 requests offered cost about one round trip per 5 admitted plus one per process and second
    assert buckets.leases <= total / 5 + 3 * 20 + 3


async def test_partners_have_budgets_of_their_own_and_a_batch_above_the_burst_passes_on_a_full_bucket() -> (
    None
):
    buckets = FakeBuckets()
    limiter = SharedRateLimiter(2.0, 10, buckets, clock=lambda: buckets.now)
    assert await admitted(limiter, "a", 10)
    assert not await admitted(limiter, "a", 1)
    assert await admitted(limiter, "b", 10)
    buckets.now = 100.0
    assert await admitted(limiter, "a", 50)  # more than the burst, on a full bucket
    assert not await admitted(limiter, "a", 1)


async def test_a_refused_request_spends_nothing_and_says_how_long_to_wait() -> None:
    buckets = FakeBuckets()
    limiter = SharedRateLimiter(0.5, 4, buckets, lease=1, clock=lambda: buckets.now)
    assert await admitted(limiter, "a", 4)
    with pytest.raises(Problem) as refused:
        await limiter.acquire("a", 2)
    assert refused.value.headers["Retry-After"] == "4"  # 2 tokens at 0.5/s
    leases = buckets.leases
    with pytest.raises(Problem) as bigger:
        await limiter.acquire("a", 4)  # refused here, with its own wait, without asking the table
    assert bigger.value.headers["Retry-After"] == "8" and buckets.leases == leases
    buckets.now = 2.0  # one token back: still not two
    assert not await admitted(limiter, "a", 2)
    assert await admitted(limiter, "a", 1)  # a smaller request asks the shared bucket again


async def test_postgresql_down_falls_back_to_the_process_budget() -> None:
    buckets = FakeBuckets()
    buckets.down = True
    limiter = SharedRateLimiter(1.0, 3, buckets)
    results = [await admitted(limiter, "a") for _ in range(5)]
    assert results == [True, True, True, False, False]  # the in-process bucket still limits


async def test_concurrent_requests_of_one_process_lease_once() -> None:
    buckets = FakeBuckets()
    limiter = SharedRateLimiter(1.0, 100, buckets, lease=50)
    results = await asyncio.gather(*(admitted(limiter, "a") for _ in range(50)))
    assert all(results) and buckets.leases == 1


async def test_off_and_bad_figures() -> None:
    buckets = FakeBuckets()
    off = SharedRateLimiter(0, 1, buckets)
    for _ in range(100):
        await off.acquire("a", 1000)
    assert buckets.leases == 0
    with pytest.raises(ValueError):
        SharedRateLimiter(-1, 1, buckets)
