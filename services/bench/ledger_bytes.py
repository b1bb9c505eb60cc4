"""Bytes the ledger writes to PostgreSQL per event (issue 23 item 3, ADR 0044).

``measure`` applies whole trades (the chromite and the explosives stories, each under fresh trade ids)
through the ledger's own store into a fresh PostgreSQL schema, the way the ledger stores them: one
``write_batch`` per event (the live ledger at a modest rate applies one event of a trade per batch),
each followed by the publisher's ``mark_published`` of its outbox row. It reads the WAL position
(``pg_current_wal_lsn()``) before and after: the difference divided by the events applied is the WAL
bytes per event, the measure of what each event costs the disk, the replicas and the backups. It also
reports the size of each of the schema's tables (heap, TOAST and indexes) per event.

The WAL position is the cluster's: run it on a PostgreSQL nothing else writes to meanwhile (the
stack's own, with its services stopped, or the tests' ``database_url``). A ``CHECKPOINT`` first (when
the role may) makes full-page images as rare in every run, so runs compare.

``python -m corridor.bench.ledger_bytes --database-url postgresql://… [--trades 20]`` prints the
figures; the schema it made is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import re
import time
import uuid
from typing import Any

import asyncpg
from fastavro import schemaless_writer

from corridor.core.domain.base import TradeEvent, subject_of
from corridor.core.domain.lifecycle import TradeState, apply
from corridor.core.envelope import CloudEvent
from corridor.core.schemas import catalog
from corridor.demo.story import chromite_story, explosives_story
from corridor.ledger.publisher import encode_headers
from corridor.ledger.store import LedgerStore, StoredEvent, TradeWrite

_BLOCK = re.compile(r"rel \d+/\d+/(\d+)")


def _stories(trades: int) -> list[list[TradeEvent]]:
    base = dt.datetime(2026, 2, 10, 1, 30, tzinfo=dt.UTC)
    out = []
    for n in range(trades):
        story = chromite_story if n % 2 == 0 else explosives_story
        out.append(story(uuid.uuid4(), base + dt.timedelta(hours=n), numbers_suffix=f"B{n}").events)
    return out


def _avro(event: TradeEvent) -> bytes:
    buf = io.BytesIO()
    buf.write(b"\x00\x00\x00\x00\x01")  # the wire format's header (magic byte, a schema id)
    schemaless_writer(buf, catalog().event(event.avro_name).parsed, event.to_avro())
    return buf.getvalue()


def _stored(event: TradeEvent, offset: int) -> StoredEvent:
    return StoredEvent(
        event_id=event.event_id,
        trade_id=event.trade_id,
        type=event.avro_name,
        topic=event.topic,
        partition=0,
        offset=offset,
        occurred_at=event.occurred_at,
        sender=event.sender,
        subject=subject_of(event),
        schema_id=1,
        trace_id=uuid.uuid4().hex,
        attempts=1,
        payload=event.model_dump_json(),
        published_at=dt.datetime.now(dt.UTC),
        record_key=str(event.trade_id).encode(),
        record_value=_avro(event),
        record_headers=encode_headers(CloudEvent.for_event(event).to_headers()),
    )


async def _wal_lsn(conn: asyncpg.Connection) -> tuple[int, str]:
    row = await conn.fetchrow(
        "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn AS n, pg_current_wal_lsn()::text AS lsn"
    )
    return int(row["n"]), row["lsn"]


async def _wal_by_relation(
    conn: asyncpg.Connection, schema: str, start: str, end: str
) -> dict[str, int] | None:
    """WAL bytes between ``start`` and ``end`` by relation of ``schema`` (a TOAST table as ``toast:<its
    table>``); None when pg_walinspect is not available to this role."""
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        rows = await conn.fetch(
            "SELECT record_length, block_ref "
            "FROM pg_get_wal_records_info($1::text::pg_lsn, $2::text::pg_lsn)",
            start,
            end,
        )
    except asyncpg.PostgresError:
        return None
    names: dict[str, str] = {}
    for r in await conn.fetch(
        """SELECT pg_relation_filenode(c.oid)::text AS node, c.relname AS name,
                  pg_relation_filenode(nullif(c.reltoastrelid, 0))::text AS toast
           FROM pg_class c WHERE c.relnamespace = $1::regnamespace""",
        schema,
    ):
        if r["node"]:
            names[r["node"]] = r["name"]
        if r["toast"]:
            names[r["toast"]] = f"toast:{r['name']}"
    out: dict[str, int] = {}
    for r in rows:
        found = _BLOCK.search(r["block_ref"] or "")
        if found and (name := names.get(found.group(1))):
            out[name] = out.get(name, 0) + int(r["record_length"])
    return out


async def measure(
    database_url: str, *, trades: int = 20, db_schema: str | None = None, keep: bool = False
) -> dict[str, Any]:
    """Apply ``trades`` whole trades through the ledger's store; WAL and table bytes per event (``keep``:
    leave the schema for a look, e.g. with pg_walinspect)."""
    stories = _stories(trades)
    schema = db_schema or f"bench_bytes_{uuid.uuid4().hex[:8]}"
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        store = LedgerStore(pool, schema)
        await store.migrate()
        async with pool.acquire() as conn:
            try:
                await conn.execute("CHECKPOINT")
            except asyncpg.InsufficientPrivilegeError:
                pass
            start = await _wal_lsn(conn)
        states: dict[uuid.UUID, TradeState] = {}
        applied = offset = 0
        began = time.perf_counter()
        # round-robin over the trades, as live traffic interleaves them
        for step in range(max(len(s) for s in stories)):
            for events in stories:
                if step >= len(events):
                    continue
                event = events[step]
                previous = states.get(event.trade_id)
                state = apply(previous, event)
                offset += 1
                await store.write_batch([_stored(event, offset)], [TradeWrite(state, previous)])
                states[event.trade_id] = state
                waiting = await store.unpublished(10)
                await store.mark_published([r.seq for r in waiting])
                applied += 1
        seconds = time.perf_counter() - began
        async with pool.acquire() as conn:
            end = await _wal_lsn(conn)
            sizes = {
                r["name"]: int(r["bytes"])
                for r in await conn.fetch(
                    """SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes FROM pg_class c
                       WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r'""",
                    schema,
                )
            }
            by_relation = await _wal_by_relation(conn, schema, start[1], end[1])
            state_bytes = await conn.fetchval(
                f'SELECT coalesce(sum(pg_column_size(state)), 0) FROM "{schema}".trades'
            )
    finally:
        if not keep:
            await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()
    wal = end[0] - start[0]
    return {
        "wal_from": start[1],
        "wal_to": end[1],
        "trades": trades,
        "events": applied,
        "wal_bytes": wal,
        "wal_bytes_per_event": round(wal / applied),
        "table_bytes_per_event": {k: round(v / applied) for k, v in sorted(sizes.items()) if v},
        "stored_state_bytes_per_trade": round(int(state_bytes) / trades),
        # the WAL records of the schema's own tables, TOAST and indexes (pg_walinspect, when the role
        # may use it): without what other sessions and autovacuum's catalog updates wrote meanwhile
        "ledger_wal_bytes_per_event": (
            round(sum(by_relation.values()) / applied) if by_relation is not None else None
        ),
        "ledger_wal_bytes_per_event_by_relation": (
            {k: round(v / applied) for k, v in sorted(by_relation.items(), key=lambda kv: -kv[1])}
            if by_relation is not None
            else None
        ),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--trades", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.database_url, trades=args.trades)), indent=2))


if __name__ == "__main__":
    main()
