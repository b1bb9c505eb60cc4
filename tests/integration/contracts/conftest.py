"""Fixtures of the contract checks against a running stack: the session's stack with the partner
listener (shared with tests/integration/partners and relay)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from corridor.core import partners
from tests.integration.contracts.contract_helpers import supplier_of
from tests.integration.relay.relay_helpers import SecureStack, secure_stack


@pytest.fixture(scope="session")
def partner_stack(request: pytest.FixtureRequest) -> SecureStack:
    return secure_stack(request)


@pytest.fixture(scope="module")
def buyer(stack: Any, database_url: str) -> tuple[str, str]:
    """A fresh BUYER partner of the stack's gateway and ledger: (partner id, API key); its order's
    supplier (``supplier_of``) is registered too."""
    import asyncio

    partner_id = f"gen-client-{uuid.uuid4().hex[:8]}"

    async def add() -> str:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            await partners.ensure_schema(pool)
            _, key = await partners.add_partner(pool, partner_id, "BUYER", "Generated client check")
            await partners.add_partner(pool, supplier_of(partner_id), "SUPPLIER", "Generated client check")
            return key
        finally:
            await pool.close()

    return partner_id, asyncio.run(add())
