"""The global rate limit on the real PostgreSQL table (ADR 0037): two gateway processes, one budget.

Each "process" is a ``SharedRateLimiter`` with its own connection pool on one ``RateBuckets`` table, both
driven at once well over the partner's rate; together they admit no more than ``burst + rate × t`` (t
measured around the whole run, so PostgreSQL's clock can only make the bound looser), and each admits
some. The unit tests (tests/unit/gateway/test_gateway_rate_limit.py) check the same on the in-memory
fake of the table.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import pytest

from corridor.gateway.limits import SharedRateLimiter
from corridor.gateway.problems import Problem
from corridor.gateway.rate_buckets import RateBuckets
from tests.integration.ledger.ledger_helpers import drop_schemas

pytestmark = pytest.mark.integration

RATE, BURST, LEASE = 40.0, 20, 2


async def test_two_processes_admit_one_budget_between_them(database_url: str) -> None:
    schema = f"it_rate_{uuid.uuid4().hex[:8]}"
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=4) for _ in range(2)]
    try:
        tables = [RateBuckets(pool, schema) for pool in pools]
        await asyncio.gather(*(table.ensure_schema() for table in tables))  # both start at once
        gateways = [SharedRateLimiter(RATE, BURST, table, lease=LEASE) for table in tables]
        admitted = [0, 0]
        refused = [0, 0]

        async def offer(index: int, seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    await gateways[index].acquire("hostile-buyer")
                    admitted[index] += 1
                except Problem as problem:
                    assert problem.status == 429
                    refused[index] += 1
                await asyncio.sleep(0.002)  # ~500 offers a second per process, far over the rate

        began = time.monotonic()
        await asyncio.gather(offer(0, 3.0), offer(1, 3.0))
        elapsed = time.monotonic() - began
        total = sum(admitted)
        assert total <= BURST + RATE * elapsed, (admitted, elapsed)
        assert total >= BURST + RATE * 3.0 * 0.5 - 2 * LEASE, (admitted, elapsed)  # the budget is used
        assert all(admitted) and all(refused), (admitted, refused)
        # another partner's bucket is untouched by the first one's flood
        await gateways[0].acquire("quiet-supplier", BURST)
        rows = await pools[0].fetch(f'SELECT partner_id FROM "{schema}".rate_buckets ORDER BY 1')
        assert [r["partner_id"] for r in rows] == ["hostile-buyer", "quiet-supplier"]
    finally:
        for pool in pools:
            await pool.close()
        await drop_schemas(database_url, schema)
