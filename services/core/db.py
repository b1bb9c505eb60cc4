"""PostgreSQL helpers shared by the services' stores.

A service runs its idempotent DDL (``CREATE … IF NOT EXISTS``) at startup. With the stack's roles
(docs/adr/0025-postgresql-roles.md) a service owns its own schema but may not create schemas, and it only
reads the shared ``partners`` schema, whose tables the operator makes; PostgreSQL checks the privilege
to create before it looks whether the object exists, so :func:`run_ddl` leaves out what is not the
caller's to do: ``CREATE SCHEMA`` of a schema that exists, and every statement for a schema the caller
may not create in (its owner has made the tables).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import asyncpg

_CREATE_SCHEMA = re.compile(r"\s*CREATE\s+SCHEMA\b", re.IGNORECASE)


async def run_ddl(conn: asyncpg.Connection, schema: str, statements: Iterable[str]) -> bool:
    """Run ``statements`` for ``schema`` on ``conn`` (inside the caller's transaction), skipping what
    the current role may not do to an existing schema. False when the schema is not the caller's to
    manage (it exists and the role has no CREATE there): nothing was run."""
    row = await conn.fetchrow(
        "SELECT has_schema_privilege(oid, 'CREATE') AS may_create FROM pg_namespace WHERE nspname = $1",
        schema,
    )
    if row is not None and not row["may_create"]:
        return False
    for statement in statements:
        if row is not None and _CREATE_SCHEMA.match(statement):
            continue
        await conn.execute(statement)
    return True


async def apply_ddl(pool: asyncpg.Pool, schema: str, statements: Iterable[str]) -> None:
    """Run idempotent DDL (``CREATE … IF NOT EXISTS``) for ``schema`` in one transaction, under that
    schema's advisory lock, so several processes starting at once do not race on the catalog."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"corridor:{schema}:ddl")
        await run_ddl(conn, schema, statements)


async def delete_older(
    pool: asyncpg.Pool, table: str, where: str, older_than_s: float, batch: int = 5_000
) -> int:
    """Delete the rows of ``table`` (a quoted, trusted name) that match ``where`` (trusted SQL in which
    ``$1`` is ``older_than_s`` seconds), ``batch`` rows per statement so no statement holds many locks;
    how many went. The retention deletes of the stores (gateway idempotency, webhook deliveries)."""
    removed = 0
    while True:
        status = await pool.execute(
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {where} LIMIT $2))",
            older_than_s,
            batch,
        )
        count = int(status.split()[-1])
        removed += count
        if count < batch:
            return removed
