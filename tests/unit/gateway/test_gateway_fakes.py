"""The in-memory fakes of the gateway's ports keep the contract the real adapters keep (ADR 0036): the
shared contract function on ``InMemoryGatewayStore`` (on PostgreSQL: tests/integration/gateway/
test_gateway_store_contract.py)."""

from __future__ import annotations

from corridor.gateway.fakes import InMemoryGatewayStore
from tests.support.gateway_store_contract import STALE_AFTER_S, check_idempotency_store


async def test_the_in_memory_store_keeps_the_idempotency_contract() -> None:
    await check_idempotency_store(InMemoryGatewayStore(stale_after_s=STALE_AFTER_S))
