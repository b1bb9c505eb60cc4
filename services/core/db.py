"""PostgreSQL helpers shared by the services' stores."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg


async def apply_ddl(pool: asyncpg.Pool, schema: str, statements: Iterable[str]) -> None:
    """Run idempotent DDL (``CREATE … IF NOT EXISTS``) for ``schema`` in one transaction, under that
    schema's advisory lock, so several processes starting at once do not race on the catalog."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"corridor:{schema}:ddl")
        for statement in statements:
            await conn.execute(statement)
