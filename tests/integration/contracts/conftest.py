"""Fixtures of the contract checks against a running stack: the session's stack with the partner
listener (shared with tests/integration/partners and relay)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import asyncpg
import pytest

from corridor.core import partners
from corridor.core.contracts import load_examples
from tests.integration.relay.relay_helpers import SecureStack, secure_stack


@pytest.fixture(scope="session")
def partner_stack(request: pytest.FixtureRequest) -> SecureStack:
    return secure_stack(request)


@pytest.fixture(scope="module")
def buyer(stack: Any, database_url: str) -> tuple[str, str]:
    """A fresh BUYER partner of the stack's gateway and ledger: (partner id, API key)."""
    import asyncio

    partner_id = f"gen-client-{uuid.uuid4().hex[:8]}"

    async def add() -> str:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            await partners.ensure_schema(pool)
            _, key = await partners.add_partner(pool, partner_id, "BUYER", "Generated client check")
            return key
        finally:
            await pool.close()

    return partner_id, asyncio.run(add())


def order_placed(partner_id: str) -> dict[str, Any]:
    """The OrderPlaced example as a structured CloudEvent of ``partner_id``, with fresh ids."""
    example = next(e for e in load_examples("valid") if e.type.endswith(".OrderPlaced"))
    data = copy.deepcopy(example.data)
    event_id = str(uuid.uuid4())
    data.update(
        event_id=event_id, trade_id=str(uuid.uuid4()), sender=partner_id, order_id=f"GEN-{event_id[:8]}"
    )
    data["buyer"]["party_id"] = partner_id
    return {"specversion": "1.0", "id": event_id, "source": "/erp", "type": example.type, "data": data}
