"""The partners' token buckets in PostgreSQL, shared by every gateway process (ADR 0037).

One row per partner: ``tokens`` left and when they were last counted. ``lease`` refills the bucket by the
time passed since (PostgreSQL's clock, the same for every gateway), then grants the caller up to ``want``
tokens when at least ``need`` are there, or none and how long until ``need`` will be. The row is locked
for the two statements of one transaction, so concurrent gateways never grant one token twice.
"""

from __future__ import annotations

import asyncpg

from corridor.core.db import apply_ddl
from corridor.gateway.limits import Lease


class RateBuckets:
    """``db_schema`` is the gateway's own schema, already checked as an identifier (``GatewayStore``)."""

    def __init__(self, pool: asyncpg.Pool, db_schema: str) -> None:
        self.pool = pool
        self.db_schema = db_schema
        self.table = f'"{db_schema}".rate_buckets'

    async def ensure_schema(self) -> None:
        await apply_ddl(
            self.pool,
            self.db_schema,
            [
                f'CREATE SCHEMA IF NOT EXISTS "{self.db_schema}"',
                f"""CREATE TABLE IF NOT EXISTS {self.table} (
                        partner_id text PRIMARY KEY,
                        tokens     double precision NOT NULL,
                        counted_at timestamptz NOT NULL
                    )""",
            ],
        )

    async def lease(
        self, partner_id: str, *, want: float, need: float, rate_per_s: float, burst: int
    ) -> Lease:
        async with self.pool.acquire() as conn, conn.transaction():
            tokens: float = await conn.fetchval(
                f"""INSERT INTO {self.table} AS b (partner_id, tokens, counted_at)
                    VALUES ($1, $2::float8, clock_timestamp())
                    ON CONFLICT (partner_id) DO UPDATE SET
                        tokens = least($2::float8, b.tokens + $3::float8 * greatest(0.0,
                            extract(epoch FROM clock_timestamp() - b.counted_at)::float8)),
                        counted_at = clock_timestamp()
                    RETURNING tokens""",
                partner_id,
                float(burst),
                rate_per_s,
            )
            if tokens < need:
                return Lease(0.0, (need - tokens) / rate_per_s)
            granted = min(want, tokens)
            await conn.execute(
                f"UPDATE {self.table} SET tokens = tokens - $2::float8 WHERE partner_id = $1",
                partner_id,
                granted,
            )
            return Lease(granted, 0.0)
