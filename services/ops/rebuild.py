"""``corridor rebuild``: the ledger's tables rebuilt from the trade topics into a fresh PostgreSQL schema,
compared trade by trade with the live schema, and switched in (docs/adr/0031-ledger-rebuild.md).

How:

1. The rebuild's workspace is the schema ``<live>_rebuild`` (dropped and made afresh each time, with the
   ledger's own DDL, ``LedgerStore.migrate``).
2. The ledger's own consumer (``corridor.ledger.consumer.Ledger``, the one code path that applies
   events) reads the trade topics from the beginning (or from ``since``) with a consumer group of its
   own, ``corridor-ledger-rebuild-<id>``, until it has read every record there was when it started and
   holds nothing back; the group is deleted afterwards. It writes events, trade states, projections,
   receipts and outbox rows into the workspace exactly as the live ledger does. Retry topics: the live
   ledger's parked copies are skipped (another group's); what the rebuild itself parks it retries after
   ``retry_delays`` and finally refuses, like the live ledger.
3. Nothing is announced twice. The rebuild has no publisher, so its outbox rows reach no topic, and it
   dead-letters nothing (the live ledger did when it refused the record; the refusal is in the rebuilt
   receipt). At the switch the outbox takes the **positions of the live outbox** (its ``seq`` and
   ``published_at``): every event already on ``trade.accepted.v1`` keeps its position and is not
   published again; an event accepted by the rebuild and not by the live ledger (one the live ledger
   had not read yet) gets the next position and is published by the ledger after the switch. When the
   live schema is gone, the positions are read back from the accepted stream itself (its
   ``corridor_ledger_seq`` header per ``ce_id``), and the stream is compared with the rebuild.
4. Compared: every trade's state (the set of applied events, not the order it was serialised in), its
   events (type, sender, subject, time, payload), the receipts (status and error class of every event
   not accepted), and the order, shipment and certificate projections (with the signature verdicts).
   Differences are reported by trade id.
5. The switch (only when nothing differs, and only while no ledger process runs on the live schema:
   the publisher's advisory lock is taken) is ONE transaction: the live tables are locked, compared
   once more, the outbox positions carried over, the live schema renamed ``<live>_prev_<unix time>``
   (kept for a rollback) and the workspace renamed to the live name, with the live schema's owner and
   grants. The ledger's next start opens the rebuilt tables under the name it always uses; its consumer
   group resumes from its committed offsets, and what it reads again is already applied (skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from corridor.core.codec import Codec
from corridor.core.kafka import client_security
from corridor.core.registry_client import RegistryClient
from corridor.core.signatures import KeyringCache
from corridor.core.topics import ACCEPTED, TRADE_TOPICS
from corridor.ledger.consumer import Ledger
from corridor.ledger.publisher import SEQ_HEADER
from corridor.ledger.store import LedgerStore
from corridor.ledger.topics import RETRY_TOPICS, partitions_of

__all__ = [
    "Difference",
    "RebuildError",
    "RebuildResult",
    "compare",
    "rebuild",
    "workspace_of",
]

#: ``<live>_prev_<10-digit unix time>`` must fit PostgreSQL's 63 characters.
_MAX_LIVE_NAME = 63 - len("_prev_0000000000")
#: Seconds the rebuild's consumer may fail every batch (an outage) before the rebuild gives up.
UNHEALTHY_S = 60.0
#: Differences listed per kind (the count is exact; a rebuild that differs everywhere says so quickly).
_MAX_LISTED = 10_000


class RebuildError(RuntimeError):
    """The rebuild was refused or failed (the message says why)."""


@dataclass(frozen=True)
class Difference:
    """One thing the live ledger and the rebuild disagree on."""

    trade_id: str
    kind: str  # trade, event, receipt, order, shipment, certificate, accepted
    key: str  # the row's key (event id, shipment id …)
    detail: str  # only_live | only_rebuilt | the columns that differ


@dataclass
class RebuildResult:
    live: str
    workspace: str
    events: int = 0
    trades: int = 0
    records_read: int = 0
    seconds: float = 0.0
    compared_with: str = ""  # "live schema <name>" | "accepted stream <topic>" | ""
    differences: list[Difference] = field(default_factory=list)
    switched: bool = False
    previous: str | None = None  # the old live schema's new name after the switch
    positions_kept: int = 0  # outbox positions carried over (not published again)
    to_publish: int = 0  # accepted by the rebuild only: published by the ledger after the switch
    unannounced: int = 0  # no live schema: accepted by the rebuild, not on the accepted stream

    @property
    def identical(self) -> bool:
        return not self.differences

    def trades_differing(self) -> list[str]:
        return sorted({d.trade_id for d in self.differences})

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["identical"] = self.identical
        out["trades_differing"] = self.trades_differing()
        return out


def workspace_of(live: str) -> str:
    """The rebuild's schema for the live schema ``live``."""
    return f"{live}_rebuild"


def _check_name(live: str) -> None:
    if not live.replace("_", "a").isalnum() or not live.islower() or live[0].isdigit():
        raise RebuildError(f"invalid ledger schema name {live!r} (lower-case letters, digits and _)")
    if len(live) > _MAX_LIVE_NAME:
        raise RebuildError(f"ledger schema name {live!r} is longer than {_MAX_LIVE_NAME} characters")


# -- the comparison ---------------------------------------------------------------------------------------

#: (kind, table, key columns, compared columns); each compared column is an SQL expression over the
#: row alias ``x`` (the trade state's ``applied`` set is compared as a set: its JSON array has no order)
_COMPARED: tuple[tuple[str, str, tuple[str, ...], tuple[tuple[str, str], ...]], ...] = (
    (
        "trade",
        "trade_states",  # the whole state (a snapshot folded with its deltas, ADR 0044): where the
        ("trade_id",),  # snapshots fall depends on how events were batched, the state does not
        (
            ("version", "x.version"),
            ("status", "x.status"),
            ("state", "x.state - 'applied'"),
            (
                "applied",
                "(SELECT array_agg(a ORDER BY a) FROM jsonb_array_elements_text(x.state->'applied') a)",
            ),
        ),
    ),
    (
        "event",
        "events",
        ("event_id",),
        (
            ("trade_id", "x.trade_id"),
            ("type", "x.type"),
            ("sender", "x.sender"),
            ("subject", "x.subject"),
            ("occurred_at", "x.occurred_at"),
            ("payload", "x.payload"),
        ),
    ),
    (
        "receipt",
        "receipts",
        ("event_id", "sender"),
        (("status", "x.status"), ("error_class", "x.error_class"), ("type", "x.type")),
    ),
    (
        "order",
        "orders",
        ("trade_id",),
        (("status", "x.status"), ("revision", "x.revision"), ("state", "x.state")),
    ),
    (
        "shipment",
        "shipments",
        ("trade_id", "shipment_id"),
        (("status", "x.status"), ("customs_status", "x.customs_status"), ("state", "x.state")),
    ),
    (
        "certificate",
        "certificates",
        ("trade_id", "issuer", "certificate_number"),  # a certificate is its issuer's number (ADR 33)
        (
            ("status", "x.status"),
            ("state", "x.state"),
            ("signature_verdict", "x.signature_verdict"),
            ("signature_key_id", "x.signature_key_id"),
        ),
    ),
)


def _comparison_sql(
    live: str, rebuilt: str, table: str, keys: Sequence[str], columns: Sequence[tuple[str, str]]
) -> str:
    def side(schema: str) -> str:
        selected = ", ".join([*(f"x.{k}" for k in keys), *(f"{expr} AS c_{name}" for name, expr in columns)])
        trade = ", x.trade_id AS c_trade" if "trade_id" not in keys else ""
        return f'SELECT {selected}{trade} FROM "{schema}".{table} x'

    join = " AND ".join(f"a.{k} = b.{k}" for k in keys)
    differing = ", ".join(f"CASE WHEN a.c_{n} IS DISTINCT FROM b.c_{n} THEN '{n}' END" for n, _ in columns)
    trade = "coalesce(a.trade_id, b.trade_id)" if "trade_id" in keys else "coalesce(a.c_trade, b.c_trade)"
    key = " || '/' || ".join(f"coalesce(a.{k}, b.{k})::text" for k in keys)
    left = ", ".join(f"a.c_{n}" for n, _ in columns)
    right = ", ".join(f"b.c_{n}" for n, _ in columns)
    return f"""
        SELECT {trade}::text AS trade_id, {key} AS key, a.{keys[0]} IS NULL AS only_rebuilt,
               b.{keys[0]} IS NULL AS only_live, array_remove(ARRAY[{differing}], NULL) AS columns
        FROM ({side(live)}) a FULL JOIN ({side(rebuilt)}) b ON {join}
        WHERE a.{keys[0]} IS NULL OR b.{keys[0]} IS NULL
           OR ({left}) IS DISTINCT FROM ({right})
        ORDER BY 1, 2
        LIMIT {_MAX_LISTED}"""


async def compare(conn: asyncpg.Connection, live: str, rebuilt: str) -> list[Difference]:
    """Every difference between the ledger tables of schemas ``live`` and ``rebuilt``, by trade id."""
    out: list[Difference] = []
    for kind, table, keys, columns in _COMPARED:
        for row in await conn.fetch(_comparison_sql(live, rebuilt, table, keys, columns)):
            detail = (
                "only_live"
                if row["only_live"]
                else "only_rebuilt"
                if row["only_rebuilt"]
                else ",".join(row["columns"])
            )
            out.append(Difference(row["trade_id"] or "", kind, row["key"], detail))
    return out


# -- reading the topics with the ledger's consumer ----------------------------------------------------------


async def _start_group_at(
    bootstrap_servers: str, group: str, tps: list[TopicPartition], since: dt.datetime
) -> None:
    """Commit, for the new group ``group``, the first offset of each partition at or after ``since``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, **client_security(), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        ms = int(since.timestamp() * 1000)
        found = await consumer.offsets_for_times({tp: ms for tp in tps})
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in tps})
    finally:
        await consumer.stop()


async def _end_offsets(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    return ends


async def _read_to_the_end(
    ledger: Ledger,
    running: asyncio.Task[None],
    bootstrap_servers: str,
    within_s: float,
    say: Callable[[str], None],
) -> None:
    """Until the ledger has read every trade-topic record there was when this started, holds nothing
    back, and has read what it parked itself (its retry topics' ends as they are now)."""
    trade_tps = await partitions_of(bootstrap_servers, TRADE_TOPICS)
    retry_tps = await partitions_of(bootstrap_servers, RETRY_TOPICS)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **client_security())
    await probe.start()
    try:
        trade_ends = await _end_offsets(probe, trade_tps)
        deadline = time.monotonic() + within_s
        settled = 0
        last_stored = -1
        said = 0.0
        failing_since: float | None = None
        # the ledger moves its positions when it reads a batch, and its held records when it has stored
        # it: records read since the last batch was done are a batch in flight (it may hold some back)
        batches_seen, records_seen = 0, 0
        while True:
            if running.done():
                running.result()  # raises what stopped it
                raise RebuildError("the rebuild's consumer stopped before it read the topics")
            if time.monotonic() > deadline:
                raise RebuildError(f"the rebuild did not read the trade topics within {within_s:.0f} s")
            # a batch that fails is retried (nothing is skipped), but an operator waits for no outage
            if ledger.healthy:
                failing_since = None
            elif failing_since is None:
                failing_since = time.monotonic()
            elif time.monotonic() - failing_since > UNHEALTHY_S:
                raise RebuildError(
                    f"the rebuild's consumer has failed every batch for {UNHEALTHY_S:.0f} s (the errors "
                    "above say why: the schema registry, PostgreSQL or Kafka unreachable): nothing switched"
                )
            positions = dict(ledger.positions)
            behind = sum(max(0, end - positions.get(tp, 0)) for tp, end in trade_ends.items())
            unread = [tp for tp, end in trade_ends.items() if end > 0 and tp not in positions]
            retry_ends = await _end_offsets(probe, retry_tps)
            retries_left = sum(max(0, end - positions.get(tp, 0)) for tp, end in retry_ends.items())
            if ledger.stats.batches != batches_seen:
                batches_seen, records_seen = ledger.stats.batches, ledger.stats.records
            in_flight = ledger.stats.records != records_seen
            done = (
                not behind
                and not unread
                and not in_flight
                and not ledger.pending
                and not ledger.paused
                and not retries_left
            )
            settled = settled + 1 if done and ledger.stats.stored == last_stored else 0
            last_stored = ledger.stats.stored
            if settled >= 2:
                return
            if time.monotonic() - said > 5:
                said = time.monotonic()
                say(
                    f"rebuild: {ledger.stats.records:,} record(s) read, "
                    f"{ledger.stats.stored:,} event(s) stored, "
                    f"{behind:,} to read, {len(ledger.pending)} held, {retries_left} parked"
                )
            await asyncio.sleep(0.5)
    finally:
        await probe.stop()


#: ``ce_id`` → (the ledger's position, publication time, trade id) on the accepted stream
Positions = dict[uuid.UUID, tuple[int, dt.datetime, str]]


async def _accepted_positions(bootstrap_servers: str, topic: str, since: dt.datetime | None) -> Positions:
    """Where each event is on the accepted stream (the first copy where the publisher sent one twice)."""
    from corridor.ops.kafka_io import scan

    tps = await partitions_of(bootstrap_servers, (topic,))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, **client_security(), isolation_level="read_committed"
    )
    await consumer.start()
    positions: Positions = {}
    try:
        start = None
        if since is not None:
            ms = int(since.timestamp() * 1000)
            found = await consumer.offsets_for_times({tp: ms for tp in tps})
            ends = await consumer.end_offsets(tps)
            start = {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in tps}
        async for record in scan(consumer, tps, start=start):
            headers = {name: value for name, value in record.headers or ()}
            try:
                event_id = uuid.UUID(headers["ce_id"].decode())
                seq = int(headers[SEQ_HEADER])
            except (KeyError, ValueError):
                continue
            at = dt.datetime.fromtimestamp(record.timestamp / 1000, dt.UTC)
            if event_id not in positions or seq < positions[event_id][0]:
                positions[event_id] = (seq, at, (record.key or b"").decode("utf-8", "replace"))
    finally:
        await consumer.stop()
    return positions


# -- the switch -------------------------------------------------------------------------------------------


async def _schema_exists(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", name))


async def _carry_positions(conn: asyncpg.Connection, workspace: str, result: RebuildResult) -> None:
    """Give the workspace's outbox the positions in ``_positions`` (event_id, seq, published_at): those
    events keep their position (and are not published again when published already); the others follow,
    in the order the rebuild accepted them, unpublished."""
    w = f'"{workspace}".outbox'
    await conn.execute(
        f"""CREATE TEMP TABLE _rebuilt ON COMMIT DROP AS
            SELECT o.*, p.seq AS kept_seq, p.published_at AS kept_published_at
            FROM {w} o LEFT JOIN _positions p USING (event_id)"""
    )
    await conn.execute(f"TRUNCATE {w}")
    result.positions_kept = int(
        (
            await conn.execute(
                f"""INSERT INTO {w} (seq, event_id, trade_id, source, record_key, record_value,
                                    record_headers, accepted_at, published_at)
                    SELECT kept_seq, event_id, trade_id, source,
                           CASE WHEN kept_published_at IS NULL THEN record_key END,
                           CASE WHEN kept_published_at IS NULL THEN record_value END,
                           CASE WHEN kept_published_at IS NULL THEN record_headers END,
                           accepted_at, kept_published_at
                    FROM _rebuilt WHERE kept_seq IS NOT NULL"""
            )
        ).split()[-1]
    )
    result.to_publish = int(
        (
            await conn.execute(
                f"""INSERT INTO {w} (seq, event_id, trade_id, source, record_key, record_value,
                                    record_headers, accepted_at)
                    SELECT (SELECT coalesce(max(seq), 0) FROM _positions) + row_number() OVER (ORDER BY seq),
                           event_id, trade_id, source, record_key, record_value, record_headers, accepted_at
                    FROM _rebuilt WHERE kept_seq IS NULL"""
            )
        ).split()[-1]
    )
    await conn.execute(
        f"""SELECT setval(pg_get_serial_sequence('{w}', 'seq'),
                          greatest((SELECT coalesce(max(seq), 0) FROM {w}),
                                   (SELECT coalesce(max(seq), 0) FROM _positions), 1))"""
    )


async def _copy_owner_and_grants(conn: asyncpg.Connection, old: str, new: str) -> None:
    """``new`` (and everything in it) gets ``old``'s owner, and the grants ``old`` and its tables give
    (the monitor's read access, its default privileges)."""
    from corridor.deploy.database import _hand_tables_to

    owner = await conn.fetchval(
        "SELECT r.rolname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = $1", old
    )
    if owner is not None and owner != await conn.fetchval("SELECT current_user"):
        await conn.execute(f'ALTER SCHEMA "{new}" OWNER TO "{owner}"')
        await conn.execute(_hand_tables_to(new, owner))
    grantee = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END"
    statements = [
        f'GRANT {r["privilege"]} ON SCHEMA "{new}" TO {r["grantee"]}'
        for r in await conn.fetch(
            f"""SELECT a.privilege_type AS privilege, {grantee} AS grantee
                FROM pg_namespace n, aclexplode(n.nspacl) a
                WHERE n.nspname = $1 AND a.grantee <> n.nspowner""",
            old,
        )
    ]
    statements += [
        f'GRANT {r["privilege"]} ON {r["what"]} "{new}".{r["name"]} TO {r["grantee"]}'
        for r in await conn.fetch(
            f"""SELECT a.privilege_type AS privilege, {grantee} AS grantee, quote_ident(c.relname) AS name,
                       CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS what
                FROM pg_class c, aclexplode(c.relacl) a
                WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                  AND a.grantee <> c.relowner
                  -- a table only the old schema has (a month partition made before the rebuild, the
                  -- events_legacy of a migrated ledger: ADR 0044) has nothing to carry over
                  AND to_regclass(format('%I.%I', $2::text, c.relname)) IS NOT NULL""",
            old,
            new,
        )
    ]
    kinds = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES"}
    for r in await conn.fetch(
        f"""SELECT quote_ident(pg_get_userbyid(d.defaclrole)) AS role, d.defaclobjtype::text AS kind,
                   a.privilege_type AS privilege, {grantee} AS grantee
            FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE d.defaclnamespace = $1::regnamespace""",
        old,
    ):
        if r["kind"] in kinds:
            statements.append(
                f'ALTER DEFAULT PRIVILEGES FOR ROLE {r["role"]} IN SCHEMA "{new}" '
                f"GRANT {r['privilege']} ON {kinds[r['kind']]} TO {r['grantee']}"
            )
    for statement in statements:
        await conn.execute(statement)


_RUNNING = (
    "a ledger process is running on schema {live!r} (it holds the publisher's lock): stop every ledger "
    "process first, then switch"
)


async def _check_no_ledger_runs(pool: asyncpg.Pool, live: str) -> None:
    """Refuse at once (not after an hour of reading) a switch that a running ledger would refuse."""
    from corridor.ledger.publisher import _LOCK, _UNLOCK

    async with pool.acquire() as conn:
        if not await conn.fetchval(_LOCK, live):
            raise RebuildError(_RUNNING.format(live=live))
        await conn.fetchval(_UNLOCK, live)


async def _switch(
    pool: asyncpg.Pool,
    live: str,
    workspace: str,
    result: RebuildResult,
    stream: Positions | None,
) -> None:
    """Rename the workspace to ``live`` in one transaction (see the module's docstring)."""
    from corridor.ledger.publisher import _LOCK, _UNLOCK

    async with pool.acquire() as conn:
        if not await conn.fetchval(_LOCK, live):
            raise RebuildError(_RUNNING.format(live=live))
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '10s'")
                await conn.execute(
                    "CREATE TEMP TABLE _positions (event_id uuid PRIMARY KEY, seq bigint NOT NULL, "
                    "published_at timestamptz) ON COMMIT DROP"
                )
                if await _schema_exists(conn, live):
                    await conn.execute(
                        f'LOCK TABLE "{live}".events, "{live}".trades, "{live}".outbox, "{live}".receipts '
                        "IN EXCLUSIVE MODE"
                    )
                    again = await compare(conn, live, workspace)
                    if again:
                        result.differences = again
                        raise RebuildError(
                            f"the live ledger changed since the comparison ({len(again)} difference(s)): "
                            "not switched"
                        )
                    await conn.execute(
                        f'INSERT INTO _positions SELECT event_id, seq, published_at FROM "{live}".outbox'
                    )
                else:
                    stream = stream or {}
                    await conn.execute(
                        "INSERT INTO _positions "
                        "SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[])",
                        list(stream),
                        [seq for seq, _, _ in stream.values()],
                        [at for _, at, _ in stream.values()],
                    )
                await _carry_positions(conn, workspace, result)
                if await _schema_exists(conn, live):
                    previous = f"{live}_prev_{int(time.time())}"
                    await conn.execute(f'ALTER SCHEMA "{live}" RENAME TO "{previous}"')
                    await conn.execute(f'ALTER SCHEMA "{workspace}" RENAME TO "{live}"')
                    await _copy_owner_and_grants(conn, previous, live)
                    result.previous = previous
                else:
                    await conn.execute(f'ALTER SCHEMA "{workspace}" RENAME TO "{live}"')
        finally:
            await conn.fetchval(_UNLOCK, live)
    result.switched = True


# -- the command ------------------------------------------------------------------------------------------


async def rebuild(
    *,
    database_url: str,
    bootstrap_servers: str,
    registry_url: str,
    live: str = "ledger",
    partners_schema: str = "partners",
    since: dt.datetime | None = None,
    retry_delays_s: Sequence[float] = (1.0, 1.0, 1.0),
    accepted_topic: str = ACCEPTED,
    switch: bool = False,
    within_s: float = 3600.0,
    say: Callable[[str], None] = lambda _message: None,
) -> RebuildResult:
    """Rebuild ``live`` from the trade topics into ``<live>_rebuild``, compare, and (``switch``) swap."""
    _check_name(live)
    workspace = workspace_of(live)
    result = RebuildResult(live=live, workspace=workspace)
    started = time.monotonic()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        if switch:
            await _check_no_ledger_runs(pool, live)
        await pool.execute(f'DROP SCHEMA IF EXISTS "{workspace}" CASCADE')  # a previous rebuild's
        store = LedgerStore(pool, workspace)
        await store.migrate()
        group = f"corridor-ledger-rebuild-{uuid.uuid4().hex[:12]}"
        if since is not None:
            tps = await partitions_of(bootstrap_servers, (*TRADE_TOPICS, *RETRY_TOPICS))
            await _start_group_at(bootstrap_servers, group, tps, since)
        async with RegistryClient(registry_url) as registry:
            ledger = Ledger(
                bootstrap_servers=bootstrap_servers,
                codec=Codec(registry, auto_register=False),
                store=store,
                group_id=group,
                retry_delays_s=retry_delays_s,
                start_from="earliest",
                keyring=KeyringCache(pool, schema=partners_schema),
                dead_letters=False,
            )
            await ledger.start()
            running = asyncio.create_task(ledger.run())
            try:
                say(f"rebuild: reading the trade topics into schema {workspace} (consumer group {group})")
                await _read_to_the_end(ledger, running, bootstrap_servers, within_s, say)
            finally:
                ledger.request_stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(running, 30)
                await ledger.stop()
                with contextlib.suppress(Exception):
                    from corridor.ops.kafka_io import delete_consumer_groups

                    await delete_consumer_groups(bootstrap_servers, [group])
        result.records_read = ledger.stats.records
        result.events = await store.count_events()
        result.trades = int(await pool.fetchval(f'SELECT count(*) FROM "{workspace}".trades'))
        stream: Positions | None = None
        async with pool.acquire() as conn:
            live_exists = await _schema_exists(conn, live)
            if live_exists:
                result.compared_with = f"live schema {live}"
                result.differences = await compare(conn, live, workspace)
        if not live_exists:
            # the live tables are gone: the accepted stream is the record of what the ledger accepted
            stream = await _accepted_positions(bootstrap_servers, accepted_topic, since)
            result.compared_with = f"accepted stream {accepted_topic}"
            result.differences, result.unannounced = await _compare_with_stream(pool, workspace, stream)
        if switch and result.identical:
            await _switch(pool, live, workspace, result, stream)
    finally:
        await pool.close()
        result.seconds = round(time.monotonic() - started, 1)
    return result


async def _compare_with_stream(
    pool: asyncpg.Pool, workspace: str, stream: Positions
) -> tuple[list[Difference], int]:
    """Events on the accepted stream the rebuild did not accept (differences), and how many events the
    rebuild accepted that are not on it (the lost ledger may have accepted them without announcing
    them yet: they are published after the switch)."""
    rows = await pool.fetch(f'SELECT event_id FROM "{workspace}".events')
    rebuilt = {r["event_id"] for r in rows}
    missing = [
        Difference(trade_id, "accepted", str(event_id), "only_live")
        for event_id, (_, _, trade_id) in stream.items()
        if event_id not in rebuilt
    ]
    return sorted(missing, key=lambda d: (d.trade_id, d.key)), len(rebuilt - set(stream))
