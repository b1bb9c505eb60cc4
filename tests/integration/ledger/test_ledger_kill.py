"""``kill -9`` of the ledger process in the middle of a stream of thousands of events, then a restart:
every event is stored exactly once and every trade ends in the state of its story, and the accepted
stream (ADR 0027) carries every stored event, each trade's in the ledger's order. A second test kills
the ledger between its commit and the publication of what it accepted: after the restart every
accepted event is on the stream exactly once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from corridor.demo.story import chromite_story
from corridor.ledger.publisher import SEQ_HEADER
from corridor.ledger.topics import DLQ_TOPIC
from tests.integration.ledger.ledger_helpers import (
    LedgerSetup,
    drop_schemas,
    eventually,
    free_port,
    headers_of,
    wait_ready,
)
from tests.integration.relay.relay_helpers import header, read_topic

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
        per_trade = len({e.shipment_id for e in stories[0].events if type(e).__name__ == "ShipmentBooked"})
        assert [r["status"] for r in shipments] == ["DELIVERED"] * (TRADES * per_trade)  # two vessels each
        keys = {str(t).encode() for t in trade_ids}
        dead = [
            r
            for r in await dlq.poll()
            if r.key in keys and headers_of(r).get("dlq_consumer_group") == ledger_setup.group_id
        ]
        assert dead == []

        # the accepted stream: every stored event, each trade's in increasing ledger position; a
        # record published again (a crash between the broker's ack and the outbox mark) is the only
        # duplicate allowed, and readers drop it by ce_id
        records = await eventually(
            lambda: _on_stream(stack, ledger_setup, {str(e) for e in produced}), within=120, interval=1
        )
        first_seen: dict[str, list[int]] = {}
        ids: set[str] = set()
        for record in records:
            event_id = header(record, "ce_id") or ""
            if event_id in ids:
                continue
            ids.add(event_id)
            first_seen.setdefault(record.key.decode(), []).append(int(header(record, SEQ_HEADER) or 0))
        assert all(p == sorted(p) for p in first_seen.values())
        print(f"accepted stream: {len(records)} records, {len(records) - len(ids)} published twice")
    finally:
        for process in launched:
            if process.poll() is None:
                process.kill()
                process.wait()
        await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)


async def _on_stream(stack: Any, setup: LedgerSetup, wanted: set[str]) -> list[Any] | None:
    records = await read_topic(stack.bootstrap_servers, f"{setup.group_id}.accepted")
    return records if wanted <= {header(r, "ce_id") for r in records} else None


async def test_a_crash_between_commit_and_publication_loses_and_repeats_nothing(
    stack: Any, ledger_setup: LedgerSetup, launch_ledger: Any, publish: Any, db: asyncpg.Pool
) -> None:
    """The publisher pauses (test-only setting) between reading accepted events from the outbox and
    producing them; the ledger is killed in that window, with its PostgreSQL commit done and nothing of
    it published. The restarted ledger publishes each accepted event exactly once, in its order."""
    await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)
    story = chromite_story()
    wanted = [str(e.event_id) for e in story.events]
    key = str(story.trade_id).encode()
    s = ledger_setup.db_schema

    async def unpublished() -> int | None:
        try:
            stored = await db.fetchval(
                f'SELECT count(*) FROM "{s}".events WHERE trade_id = $1', story.trade_id
            )
            waiting = await db.fetchval(
                f'SELECT count(*) FROM "{s}".outbox WHERE trade_id = $1 AND published_at IS NULL',
                story.trade_id,
            )
        except asyncpg.UndefinedTableError:
            return None
        return int(waiting) if stored == len(wanted) and waiting else None

    port = free_port()
    first = launch_ledger(ledger_setup, port, CORRIDOR_LEDGER_PUBLISH_PAUSE_MS="4000")
    try:
        await wait_ready(f"http://127.0.0.1:{port}", process=first)
        await publish(*story.events)
        waiting = await eventually(unpublished, within=60, interval=0.05)
        first.kill()  # SIGKILL while the publisher pauses: accepted and committed, not published
        first.wait()
        before = await read_topic(stack.bootstrap_servers, f"{ledger_setup.group_id}.accepted")
        assert len([r for r in before if r.key == key]) + waiting == len(wanted)

        port = free_port()
        second = launch_ledger(ledger_setup, port)
        try:
            await wait_ready(f"http://127.0.0.1:{port}", process=second)
            found = await eventually(lambda: _on_stream(stack, ledger_setup, set(wanted)), within=60)
        finally:
            second.kill()
            second.wait()
        records = [r for r in found if r.key == key]  # (the ledger also took other tests' trades)
        ids = [header(r, "ce_id") for r in records]
        assert sorted(ids) == sorted(wanted)  # exactly once
        positions = [int(header(r, SEQ_HEADER) or 0) for r in records]
        assert positions == sorted(positions)  # one trade: one partition, the ledger's order
        assert header(records[0], "ce_type") == story.events[0].avro_name
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)


async def _at_least(count: Any, n: int) -> int | None:
    value = int(await count())
    return value if value >= n else None
