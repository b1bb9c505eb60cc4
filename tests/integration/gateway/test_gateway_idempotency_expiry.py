"""Idempotency records expire after the retention window (ADR 0005), on the real PostgreSQL table.

Rows are made as the gateway makes them, then aged by moving ``claimed_at`` back; ``expire_idempotency``
deletes exactly the old ones (done, and pending ones whose owner never came back), in batches, and
leaves the young ones answering as before.
"""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from corridor.gateway.store import GatewayStore
from tests.integration.ledger.ledger_helpers import drop_schemas

pytestmark = pytest.mark.integration


async def test_old_idempotency_records_go_young_ones_stay(database_url: str) -> None:
    schema = f"it_idem_{uuid.uuid4().hex[:8]}"
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        store = GatewayStore(pool, schema)
        await store.ensure_schema()
        await store.ensure_schema()  # the index too is created once
        rows = [(f"k{i}", "done" if i % 3 else "pending", 10 if i < 25 else 0) for i in range(40)]
        for key, state, days_old in rows:
            await pool.execute(
                f"""INSERT INTO "{schema}".idempotency
                    (partner_id, key, body_hash, state, claim_token, claimed_at, result)
                    VALUES ('buyer', $1::text, '\\x00', $2::text, $3, now() - make_interval(days => $4::int),
                            CASE WHEN $2::text = 'done' THEN jsonb_build_object('event_id', $1::text) END)""",
                key,
                state,
                uuid.uuid4(),
                days_old,
            )
        assert await store.acknowledged("buyer", "k1") is not None
        removed = await store.expire_idempotency(7 * 24 * 3600, batch=10)  # three batches
        assert removed == 25
        left = {r["key"] for r in await pool.fetch(f'SELECT key FROM "{schema}".idempotency')}
        assert left == {f"k{i}" for i in range(25, 40)}
        assert await store.acknowledged("buyer", "k1") is None  # expired: the ledger answers receipts now
        assert await store.acknowledged("buyer", "k26") is not None
        assert await store.expire_idempotency(7 * 24 * 3600) == 0
    finally:
        await pool.close()
        await drop_schemas(database_url, schema)
