"""``GatewayStore`` on a real PostgreSQL keeps the contract of ``ports.IdempotencyStore`` that the unit
tests' in-memory fake keeps too (the shared function in tests/support/gateway_store_contract.py; ADR
0036). Only PostgreSQL is needed (no Kafka); the store gets a throwaway schema."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from corridor.gateway.store import GatewayStore
from tests.support.gateway_store_contract import STALE_AFTER_S, check_idempotency_store

pytestmark = pytest.mark.integration


async def test_the_postgresql_store_keeps_the_idempotency_contract(database_url: str) -> None:
    schema = f"gateway_contract_{uuid.uuid4().hex[:10]}"
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        store = GatewayStore(pool, schema, stale_after_s=STALE_AFTER_S)
        await store.ensure_schema()
        await check_idempotency_store(store)
    finally:
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()
