"""``kill -9`` of the ledger process in the middle of a stream of thousands of events, then a restart:
every event is stored exactly once and every trade ends in the state of its story."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from corridor.demo.story import chromite_story
from corridor.ledger.topics import DLQ_TOPIC
from tests.integration.ledger.ledger_helpers import (
    LedgerSetup,
    drop_schemas,
    eventually,
    free_port,
    headers_of,
    wait_ready,
)

pytestmark = pytest.mark.integration

TRADES = 200  # × 22 events = 4,400 events


async def test_kill_9_mid_stream_then_restart_stores_every_event_exactly_once(
    stack: Any,
    ledger_setup: LedgerSetup,
    launch_ledger: Any,
    publish: Any,
    tail: Any,
    db: asyncpg.Pool,
) -> None:
    await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)
    stories = [chromite_story() for _ in range(TRADES)]
    trade_ids = [s.trade_id for s in stories]
    produced = {e.event_id for s in stories for e in s.events}
    total = len(produced)
    s = ledger_setup.db_schema
    dlq = await tail(DLQ_TOPIC)

    async def stored() -> int:
        try:
            return int(
                await db.fetchval(
                    f'SELECT count(*) FROM "{s}".events WHERE trade_id = ANY($1::uuid[])', trade_ids
                )
            )
        except asyncpg.UndefinedTableError:
            return 0

    launched: list[Any] = []
    try:
        port = free_port()
        first = launch_ledger(ledger_setup, port)
        launched.append(first)
        await wait_ready(f"http://127.0.0.1:{port}", process=first)

        async def stream() -> None:
            for i in range(0, TRADES, 10):  # ten trades at a time, as partners publish them
                await publish(*[e for story in stories[i : i + 10] for e in story.events])
                await asyncio.sleep(0.1)

        producing = asyncio.create_task(stream())
        at_kill = await eventually(lambda: _at_least(stored, total // 5), within=120, interval=0.05)
        first.kill()  # SIGKILL: no shutdown, no commit, a transaction possibly half-way
        first.wait()
        await producing
        assert at_kill < total, "the ledger caught up before it could be killed mid-stream"

        port = free_port()
        second = launch_ledger(ledger_setup, port)
        launched.append(second)
        await wait_ready(f"http://127.0.0.1:{port}", process=second)
        resumed_at, resumed_from = time.monotonic(), await stored()
        await eventually(lambda: _at_least(stored, total), within=240, interval=0.2)
        elapsed = time.monotonic() - resumed_at
        print(
            f"\nkilled at {at_kill}/{total} stored; after restart {total - resumed_from} events "
            f"in {elapsed:.1f}s ({(total - resumed_from) / elapsed:,.0f} events/s incl. duplicates replayed)"
        )

        rows = await db.fetch(
            f'SELECT event_id FROM "{s}".events WHERE trade_id = ANY($1::uuid[])', trade_ids
        )
        assert len(rows) == total  # no duplicates …
        assert {r["event_id"] for r in rows} == produced  # … and nothing missing
        states = await db.fetch(
            f'SELECT status, version FROM "{s}".trades WHERE trade_id = ANY($1::uuid[])', trade_ids
        )
        assert len(states) == TRADES
        assert {(r["status"], r["version"]) for r in states} == {("CLOSED", len(stories[0].events))}
        shipments = await db.fetch(
            f'SELECT status FROM "{s}".shipments WHERE trade_id = ANY($1::uuid[])', trade_ids
        )
        assert [r["status"] for r in shipments] == ["DELIVERED"] * TRADES
        keys = {str(t).encode() for t in trade_ids}
        dead = [
            r
            for r in await dlq.poll()
            if r.key in keys and headers_of(r).get("dlq_consumer_group") == ledger_setup.group_id
        ]
        assert dead == []
    finally:
        for process in launched:
            if process.poll() is None:
                process.kill()
                process.wait()
        await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)


async def _at_least(count: Any, n: int) -> int | None:
    value = int(await count())
    return value if value >= n else None
