"""``corridor rebuild`` on the real stack: a ledger takes in two trades, a second order (refused) and a
booking of a trade nobody ordered (parked, then refused); its tables are rebuilt from the trade topics by
the ledger's own consumer and found identical trade by trade. A switch is refused while a ledger runs on
the schema; a tampered trade is reported by its id and nothing is switched; otherwise the switch keeps
every accepted event's position, and the restarted ledger publishes nothing twice and goes on from
where it was. Then the schema is dropped altogether: the rebuild, compared with the accepted
stream, brings back every trade identical with its positions read back from the stream."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition

from corridor.core.domain.events import OrderPlaced, ShipmentBooked
from corridor.demo.story import chromite_story, explosives_story
from corridor.deploy.database import _hand_tables_to
from corridor.ops.kafka_io import reader, scan
from corridor.ops.rebuild import rebuild, workspace_of
from tests.integration.ledger.ledger_helpers import delete_topics, eventually, headers_of
from tests.integration.ops.ops_helpers import Isolation, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


async def _trades(db: asyncpg.Pool, schema: str) -> dict[str, tuple[Any, ...]]:
    rows = await db.fetch(
        f"""SELECT trade_id::text, version, status, (state - 'applied')::text AS state,
                   (SELECT array_agg(a ORDER BY a) FROM jsonb_array_elements_text(state->'applied') a)
            FROM "{schema}".trade_states"""
    )
    return {r["trade_id"]: tuple(r)[1:] for r in rows}


async def _positions(db: asyncpg.Pool, schema: str) -> dict[str, tuple[int, bool]]:
    rows = await db.fetch(
        f'SELECT event_id::text, seq, published_at IS NOT NULL AS published FROM "{schema}".outbox'
    )
    return {r["event_id"]: (r["seq"], r["published"]) for r in rows}


async def _copies_on(bootstrap: str, topic: str) -> Counter[str]:
    from corridor.ledger.topics import partitions_of

    found: Counter[str] = Counter()
    async with reader(bootstrap) as consumer:
        tps: list[TopicPartition] = await partitions_of(bootstrap, (topic,))
        async for record in scan(consumer, tps):
            found[headers_of(record)["ce_id"]] += 1
    return found


async def test_rebuild_finds_every_trade_identical_and_switches_without_publishing_twice(
    ops_stack: Any, iso: Isolation, services: Any, publish: Any, db: asyncpg.Pool
) -> None:
    live = iso.ledger_schema
    accepted = f"{iso.group_id}.accepted"
    env = {"CORRIDOR_LEDGER_ACCEPTED_TOPIC": accepted}
    ledger = await services("ledger", iso, **env).ready()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # the ledger pinned its start before this
    try:
        chromite, explosives = chromite_story(), explosives_story()
        order = next(e for e in chromite.events if isinstance(e, OrderPlaced))
        second_order = order.model_copy(update={"event_id": uuid.uuid4()})
        orphan = next(e for e in chromite_story().events if isinstance(e, ShipmentBooked))
        await publish(*chromite.events, *explosives.events, second_order, orphan)
        accepted_ids = {str(e.event_id) for e in (*chromite.events, *explosives.events)}

        async def decided() -> bool:
            rejected = await db.fetchval(
                f'SELECT count(*) FROM "{live}".receipts WHERE status = $1', "rejected"
            )
            published = await db.fetchval(
                f'SELECT count(*) FROM "{live}".outbox WHERE published_at IS NOT NULL'
            )
            return bool(rejected == 2 and published == len(accepted_ids))

        assert await eventually(decided, within=90), "the ledger did not decide on every event"
        trades = await _trades(db, live)
        positions = await _positions(db, live)
        assert set(positions) == accepted_ids and len(trades) == 2

        # a ledger runs on the schema: a switch is refused at once, before anything is read
        cli = ("rebuild", "--schema", live, "--partners-schema", iso.partners_schema)
        cli += ("--since", since.isoformat())
        code, out, err = await run_cli(ops_stack, *cli, "--switch", within=60)
        assert code == 1 and "a ledger process is running" in err, out + err
        ledger.stop()

        # a tampered trade is named, and nothing is switched
        tampered = str(explosives.trade_id)
        status = trades[tampered][1]
        await db.execute(
            f'UPDATE "{live}".trades SET status = $1 WHERE trade_id = $2', "CLOSED", uuid.UUID(tampered)
        )
        args = dict(
            database_url=ops_stack.database_url,
            bootstrap_servers=ops_stack.bootstrap_servers,
            registry_url=ops_stack.schema_registry_url,
            live=live,
            partners_schema=iso.partners_schema,
            since=since,
            accepted_topic=accepted,
            within_s=180,
        )
        result = await rebuild(**args, switch=True)
        assert not result.switched and result.trades == 2 and result.events == len(accepted_ids)
        assert [(d.trade_id, d.kind, d.detail) for d in result.differences] == [(tampered, "trade", "status")]
        assert (
            await db.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname LIKE $1", f"{live}\\_prev%")
            == 0
        )
        await db.execute(
            f'UPDATE "{live}".trades SET status = $1 WHERE trade_id = $2', status, uuid.UUID(tampered)
        )
        assert await _trades(db, live) == trades

        # as on the stack: the schema is the ledger role's, the monitor reads it (ADR 25); the rebuild
        # takes both over
        await db.execute(f'ALTER SCHEMA "{live}" OWNER TO corridor_ledger')
        await db.execute(_hand_tables_to(live, "corridor_ledger"))
        await db.execute(f'GRANT USAGE ON SCHEMA "{live}" TO corridor_monitor')
        await db.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{live}" TO corridor_monitor')
        await db.execute(
            f'ALTER DEFAULT PRIVILEGES FOR ROLE corridor_ledger IN SCHEMA "{live}" '
            "GRANT SELECT ON TABLES TO corridor_monitor"
        )
        code, out, err = await run_cli(ops_stack, *cli, "--switch", "--json")
        assert code == 0, out + err
        report = json.loads(out)
        assert report["identical"] and report["switched"], report
        assert report["positions_kept"] == len(accepted_ids) and report["to_publish"] == 0
        # the rebuilt tables are the live ones now, every trade identical, every position kept
        assert await _trades(db, live) == trades
        assert await _positions(db, live) == positions
        assert await _trades(db, report["previous"]) == trades
        assert (
            await db.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", workspace_of(live)) == 0
        )
        owners = await db.fetch(
            "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class "
            "WHERE relnamespace = $1::regnamespace",
            live,
        )
        assert [r["owner"] for r in owners] == ["corridor_ledger"]
        for table in ("trades", "events", "receipts", "outbox", "orders", "shipments", "certificates"):
            assert await db.fetchval(
                "SELECT has_table_privilege('corridor_monitor', $1, 'SELECT')", f'"{live}".{table}'
            ), table
        assert (
            await db.fetchval(
                "SELECT count(*) FROM pg_default_acl WHERE defaclnamespace = $1::regnamespace", live
            )
            == 1
        )

        # the ledger, started again, goes on: it publishes nothing twice and takes in a new trade
        ledger = await services("ledger", iso, **env).ready()
        later = chromite_story()
        await publish(*later.events)
        accepted_ids |= {str(e.event_id) for e in later.events}

        async def all_published() -> bool:
            copies = await _copies_on(ops_stack.bootstrap_servers, accepted)
            return set(copies) == accepted_ids

        assert await eventually(all_published, within=60)
        copies = await _copies_on(ops_stack.bootstrap_servers, accepted)
        assert [i for i, n in copies.items() if n > 1] == []
        new_positions = await _positions(db, live)
        assert {k: v for k, v in new_positions.items() if k in positions} == positions
        assert min(seq for k, (seq, _) in new_positions.items() if k not in positions) > max(
            seq for seq, _ in positions.values()
        )
        trades = await _trades(db, live)
        positions = new_positions
        assert len(trades) == 3
        ledger.stop()

        # the ledger's schema is lost: rebuilt from the topics, compared with the accepted stream
        await db.execute(f'DROP SCHEMA "{live}" CASCADE')
        result = await rebuild(**args, switch=True)
        assert result.compared_with == f"accepted stream {accepted}"
        assert result.identical and result.switched and result.unannounced == 0, result.differences
        assert await _trades(db, live) == trades
        assert await _positions(db, live) == positions
        rejected = await db.fetch(
            f'SELECT event_id::text, error_class FROM "{live}".receipts WHERE status = $1', "rejected"
        )
        assert {r["event_id"] for r in rejected} == {str(second_order.event_id), str(orphan.event_id)}
    finally:
        ledger.stop()
        names = await db.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", f"{live}\\_%")
        for row in names:
            await db.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
        await delete_topics(ops_stack.bootstrap_servers, [accepted])
