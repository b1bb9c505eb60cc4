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
from corridor.bench.ledger_bytes import measure
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.lifecycle import TradeState, apply
from corridor.demo.story import chromite_story, explosives_story
from corridor.ledger.store import (
    PARTITIONS_CHECKED_EVERY_S,
    SNAPSHOT_EVERY,
    LedgerStore,
    StaleState,
    TradeWrite,
)

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
    a trade per write (crossing a snapshot): every state read back equals the state written, folded by
    the store (fold_state) and by PostgreSQL (the trade_states view) alike."""
    offset = 0
    for events in _stories():
        state: TradeState | None = None
        for n, event in enumerate(events):
            previous, state = state, apply(state, event)
            offset += 1
            await store.write_batch([stored_event(event, offset)], [TradeWrite(state, previous)])
            loaded = await store.load_states([event.trade_id])
            assert loaded[event.trade_id] == state, f"event {n} ({event.avro_name})"
            # the same fold in SQL (the trade_states view: SQL readers, the rebuild's comparison)
            in_sql = await store.pool.fetchval(
                f'SELECT state::text FROM "{store.schema}".trade_states WHERE trade_id = $1', state.trade_id
            )
            assert TradeState.model_validate_json(in_sql) == state, f"event {n} ({event.avro_name}) in SQL"
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


async def _partition_of(store: LedgerStore, event_id: uuid.UUID) -> str:
    return str(
        await store.pool.fetchval(
            f'SELECT (SELECT relname FROM pg_class WHERE oid = e.tableoid) FROM "{store.schema}".events e '
            "WHERE event_id = $1",
            event_id,
        )
    )


async def _refused(store: LedgerStore, statement: str) -> None:
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await store.pool.execute(statement.format(s=f'"{store.schema}"'))


async def test_events_are_partitioned_by_month_and_an_event_is_stored_once(store: LedgerStore) -> None:
    s = store.schema
    now = dt.datetime.now(dt.UTC)
    months = [(now.year + (now.month - 1 + i) // 12, (now.month - 1 + i) % 12 + 1) for i in range(3)]
    partitions = {
        r["name"]
        for r in await store.pool.fetch(
            "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = $1::regclass",
            f'"{s}".events',
        )
    }
    assert partitions == {f"events_{y}_{m:02d}" for y, m in months} | {"events_default"}

    events = chromite_story(uuid.uuid4()).events[:2]
    first, second = stored_event(events[0], 1), stored_event(events[1], 2)
    # the same event twice in one batch, then again in a later one (a redelivery): stored once
    assert await store.write_batch([first, first, second], []) == 2
    assert await store.write_batch([first], []) == 0
    assert await store.count_events() == 2
    assert await store.pool.fetchval(f'SELECT count(*) FROM "{s}".event_ids') == 2
    assert await store.pool.fetchval(f'SELECT count(*) FROM "{s}".outbox') == 2
    assert await _partition_of(store, first.event_id) == f"events_{months[0][0]}_{months[0][1]:02d}"

    for statement in (
        "UPDATE {s}.events SET attempts = 2",
        "DELETE FROM {s}.events",
        f"DELETE FROM {{s}}.events_{months[0][0]}_{months[0][1]:02d}",
        "UPDATE {s}.event_ids SET ingested_at = now()",
        "DELETE FROM {s}.event_ids",
    ):
        await _refused(store, statement)

    await store.ensure_partitions()  # idempotent
    await store.migrate()
    assert await store.count_events() == 2


#: ``events`` as the ledger made it before ADR 0044 (unpartitioned, keyed by event id)
_UNPARTITIONED = """
    CREATE TABLE {s}.events (
        event_id uuid PRIMARY KEY, trade_id uuid NOT NULL, type text NOT NULL, topic text NOT NULL,
        partition integer NOT NULL, "offset" bigint NOT NULL, occurred_at timestamptz NOT NULL,
        ingested_at timestamptz NOT NULL DEFAULT now(), sender text NOT NULL, subject text NOT NULL,
        schema_id integer, trace_id text, attempts integer NOT NULL DEFAULT 1, payload jsonb NOT NULL,
        published_at timestamptz);
    CREATE INDEX events_trade_time ON {s}.events (trade_id, occurred_at);
    CREATE FUNCTION {s}.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the ledger''s events are append-only (% refused)', TG_OP; END $$;
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON {s}.events
        FOR EACH ROW EXECUTE FUNCTION {s}.append_only();
"""


async def test_an_unpartitioned_events_table_is_attached_in_place_with_its_rows(database_url: str) -> None:
    schema = f"ledger_legacy_{uuid.uuid4().hex[:8]}"
    s = f'"{schema}"'
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await pool.execute(f"CREATE SCHEMA {s}")
        await pool.execute(_UNPARTITIONED.format(s=s))
        events = chromite_story(uuid.uuid4()).events[:4]
        old = [stored_event(e, n) for n, e in enumerate(events[:3])]
        at = [dt.datetime(2025, 11, 3, tzinfo=dt.UTC), dt.datetime(2026, 6, 30, tzinfo=dt.UTC), None]
        for event, ingested in zip(old, at, strict=True):
            await pool.execute(
                f"""INSERT INTO {s}.events (event_id, trade_id, type, topic, partition, "offset",
                        occurred_at, ingested_at, sender, subject, payload)
                    VALUES ($1, $2, $3, $4, 0, $5, $6, coalesce($7, now()), $8, $9, $10::jsonb)""",
                event.event_id, event.trade_id, event.type, event.topic, event.offset, event.occurred_at,
                ingested, event.sender, event.subject, event.payload,
            )  # fmt: skip
        before = await pool.fetch(f"SELECT * FROM {s}.events ORDER BY event_id")

        store = LedgerStore(pool, schema)
        await store.migrate()
        await store.migrate()  # a second start (or a second ledger) changes nothing
        assert (
            await pool.fetchval("SELECT relkind::text FROM pg_class WHERE oid = $1::regclass", f"{s}.events")
            == "p"
        )
        assert await pool.fetch(f"SELECT * FROM {s}.events ORDER BY event_id") == before
        assert {await _partition_of(store, e.event_id) for e in old} == {"events_legacy"}
        assert await pool.fetchval(f"SELECT count(*) FROM {s}.event_ids") == 3
        # the old rows' ids still deduplicate; a new event is stored (the legacy partition runs to the
        # end of this month, the monthly ones follow)
        assert await store.write_batch([old[0], stored_event(events[3], 9)], []) == 1
        assert await store.count_events() == 4
        await _refused(store, "DELETE FROM {s}.events_legacy")
        await _refused(store, "UPDATE {s}.events SET attempts = 3")
        receipt = await store.receipt(old[1].event_id, old[1].sender)
        assert receipt is not None and receipt["status"] == "accepted"
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
        await pool.close()


async def test_a_running_ledger_makes_the_coming_months_partitions(store: LedgerStore) -> None:
    """The daily check before a write makes a month's partition that is missing (here: dropped)."""
    now = dt.datetime.now(dt.UTC)
    ahead = (now.year + (now.month + 1) // 12, (now.month + 1) % 12 + 1)  # two months on
    name = f"events_{ahead[0]}_{ahead[1]:02d}"
    await store.pool.execute(f'DROP TABLE "{store.schema}".{name}')
    event = chromite_story(uuid.uuid4()).events[0]
    await store.write_batch([stored_event(event, 1)], [])
    assert await store.pool.fetchval("SELECT to_regclass($1)", f'"{store.schema}".{name}') is None
    store._partitions_checked -= PARTITIONS_CHECKED_EVERY_S + 1  # a day later
    await store.write_batch([stored_event(chromite_story(uuid.uuid4()).events[0], 2)], [])
    assert await store.pool.fetchval("SELECT to_regclass($1)::text", f'"{store.schema}".{name}') is not None


async def test_the_bytes_bench_sees_a_compact_state_per_event(database_url: str) -> None:
    """corridor.bench.ledger_bytes on two trades: the trade state's WAL per event stays a fraction of
    the whole state (it was ~7.3 KB per event when every event rewrote the whole state, ADR 0044)."""
    result = await measure(database_url, trades=2)
    assert result["events"] == sum(len(s) for s in (chromite_story().events, explosives_story().events))
    by_relation = result["ledger_wal_bytes_per_event_by_relation"]
    assert by_relation is not None  # the tests connect as the operator: pg_walinspect is available
    state = sum(v for k, v in by_relation.items() if k in ("trades", "toast:trades", "trade_deltas"))
    assert state < 3_500, by_relation
