"""Ingest rate of ``python -m corridor.ledger`` catching up a backlog (the rate is printed; the assertion is
only a floor far below it, so a busy shared machine does not fail the suite)."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import asyncpg
import httpx
import pytest

from corridor.demo.story import chromite_story
from tests.integration.ledger.ledger_helpers import (
    LedgerSetup,
    drop_schemas,
    eventually,
    free_port,
    wait_ready,
)

pytestmark = pytest.mark.integration

TRADES = 500  # × 22 events = 11,000 events
FLOOR_EVENTS_PER_S = 300


async def test_backlog_ingest_rate(
    stack: Any, ledger_setup: LedgerSetup, launch_ledger: Any, publish: Any, db: asyncpg.Pool
) -> None:
    await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)
    launched = []
    try:
        port = free_port()
        first = launch_ledger(ledger_setup, port)  # pins the group's offsets at the end, then stops
        launched.append(first)
        await wait_ready(f"http://127.0.0.1:{port}", process=first)
        first.send_signal(signal.SIGTERM)
        await asyncio.to_thread(first.wait, 30)

        stories = [chromite_story() for _ in range(TRADES)]
        trade_ids = [s.trade_id for s in stories]
        total = sum(len(s.events) for s in stories)
        await publish(*[e for s in stories for e in s.events])

        port = free_port()
        second = launch_ledger(ledger_setup, port)
        launched.append(second)
        started = time.monotonic()
        await wait_ready(f"http://127.0.0.1:{port}", process=second)
        ready = time.monotonic()

        async def stored() -> int:
            return int(
                await db.fetchval(
                    f'SELECT count(*) FROM "{ledger_setup.db_schema}".events '
                    "WHERE trade_id = ANY($1::uuid[])",
                    trade_ids,
                )
            )

        async def all_stored() -> bool:
            return await stored() >= total

        await eventually(all_stored, within=300, interval=0.1)
        done = time.monotonic()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            stats = (await http.get("/readyz")).json()["stats"]
        rate = total / (done - ready)
        print(
            f"\n{total} events of {TRADES} trades: ready after {ready - started:.1f}s, all stored "
            f"{done - ready:.1f}s later = {rate:,.0f} events/s (parked {stats['parked']}, "
            f"batches {stats['batches']})"
        )
        assert await stored() == total
        closed = await db.fetchval(
            f'SELECT count(*) FROM "{ledger_setup.db_schema}".trades WHERE trade_id = ANY($1::uuid[]) '
            "AND status = 'CLOSED'",
            trade_ids,
        )
        assert closed == TRADES
        assert rate >= FLOOR_EVENTS_PER_S
    finally:
        for process in launched:
            if process.poll() is None:
                process.kill()
                process.wait()
        await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)
