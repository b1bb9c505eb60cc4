"""``Store`` on a real PostgreSQL keeps the contract of ``ports.RegistryStore`` that the unit tests'
in-memory fake keeps too (the shared function in tests/support/registry_store_contract.py; ADR 0036).
Only PostgreSQL is needed; the store gets a throwaway schema."""

from __future__ import annotations

import uuid

import pytest

from corridor.registry.store import Store
from tests.support.registry_store_contract import check_registry_store

pytestmark = pytest.mark.integration


async def test_the_postgresql_store_keeps_the_registry_store_contract(database_url: str) -> None:
    schema = f"registry_contract_{uuid.uuid4().hex[:10]}"
    store = await Store.open(database_url, db_schema=schema, max_size=2)
    try:
        await check_registry_store(store)
    finally:
        await store.pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await store.close()
