"""The ledger's storage on a real PostgreSQL (ADR 0044): trade states written compact (a snapshot and
deltas) read back exactly, ``ledger.events`` partitioned by month with its event-id dedup exact, and an
unpartitioned ``events`` table of an older version migrated in place with its rows.

Only PostgreSQL (``database_url``): the store is driven directly with the stories' events, as the
ledger's consumer drives it, in a schema of this test (dropped afterwards).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from corridor.bench.ledger_bytes import _stored as stored_event
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.lifecycle import TradeState, apply
from corridor.demo.story import chromite_story, explosives_story
from corridor.ledger.store import SNAPSHOT_EVERY, LedgerStore, StaleState, TradeWrite

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[LedgerStore]:
    schema = f"ledger_storage_{uuid.uuid4().hex[:8]}"
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    store = LedgerStore(pool, schema)
    try:
        await store.migrate()
        yield store
    finally:
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()


def _stories() -> list[list[TradeEvent]]:
    return [chromite_story(uuid.uuid4()).events, explosives_story(uuid.uuid4()).events]


async def test_compact_states_read_back_whole_after_every_write(store: LedgerStore) -> None:
    """One event per write (deltas, a snapshot every SNAPSHOT_EVERY versions) and then several events of
    a trade per write (crossing a snapshot): every state read back equals the state written."""
    offset = 0
    for events in _stories():
        state: TradeState | None = None
        for n, event in enumerate(events):
            previous, state = state, apply(state, event)
            offset += 1
            await store.write_batch([stored_event(event, offset)], [TradeWrite(state, previous)])
            loaded = await store.load_states([event.trade_id])
            assert loaded[event.trade_id] == state, f"event {n} ({event.avro_name})"
        assert state is not None
        deltas = await store.pool.fetchval(
            f'SELECT count(*) FROM "{store.schema}".trade_deltas WHERE trade_id = $1', state.trade_id
        )
        assert deltas == state.version % SNAPSHOT_EVERY  # the deltas since the last snapshot, no more
        read = await store.trade(state.trade_id)
        assert read is not None and read[0] == state

    # three events per write: versions jump across multiples of SNAPSHOT_EVERY
    events = chromite_story(uuid.uuid4()).events
    state = None
    for i in range(0, len(events), 3):
        previous = state
        for event in events[i : i + 3]:
            state = apply(state, event)
        assert state is not None
        stored = [stored_event(e, 1000 + i + k) for k, e in enumerate(events[i : i + 3])]
        await store.write_batch(stored, [TradeWrite(state, previous)])
        assert (await store.load_states([state.trade_id]))[state.trade_id] == state


async def test_a_stale_delta_writes_nothing(store: LedgerStore) -> None:
    """Two writers computed the next state from the same version: the second raises StaleState and its
    delta is not stored (the optimistic check is on the trade's row, before any delta)."""
    events = chromite_story(uuid.uuid4()).events
    first = apply(None, events[0])
    await store.write_batch([stored_event(events[0], 1)], [TradeWrite(first, None)])
    mine, theirs = apply(first, events[1]), apply(first, events[2])
    await store.write_batch([stored_event(events[1], 2)], [TradeWrite(mine, first)])
    with pytest.raises(StaleState):
        await store.write_batch([stored_event(events[2], 3)], [TradeWrite(theirs, first)])
    assert (await store.load_states([first.trade_id]))[first.trade_id] == mine
    assert await store.count_events() == 2


async def test_trade_states_view_is_the_whole_state_for_sql_readers(store: LedgerStore) -> None:
    events = chromite_story(uuid.uuid4()).events[:5]
    state = None
    for n, event in enumerate(events):
        previous, state = state, apply(state, event)
        await store.write_batch([stored_event(event, n)], [TradeWrite(state, previous)])
    assert state is not None
    row = await store.pool.fetchrow(
        f"""SELECT version, status, state::text AS state FROM "{store.schema}".trade_states
            WHERE trade_id = $1""",
        state.trade_id,
    )
    assert row["version"] == 5 and row["status"] == state.status
    assert TradeState.model_validate_json(row["state"]) == state
    # the row itself holds the snapshot of version 1 only: the rest is in four deltas
    snapshot = await store.pool.fetchval(
        f'SELECT state_version FROM "{store.schema}".trades WHERE trade_id = $1', state.trade_id
    )
    assert snapshot == 1


def _utc(year: int, month: int, day: int = 1) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)
