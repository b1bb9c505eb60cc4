"""PostgreSQL persistence of the ledger (asyncpg pool, its own PostgreSQL schema, default ``ledger``).

Tables:

* ``events`` — append-only (a trigger refuses UPDATE and DELETE, on every partition): one row per
  applied trade event, with where it was read (topic, partition, offset of its first delivery), its
  times, sender, trace id and the event as JSON (``payload``). Partitioned by month of ``ingested_at``
  (``events_YYYY_MM``, made ahead; ``events_default``; ``events_legacy``: the rows of an unpartitioned
  table of an older version, attached in place), ADR 0044.
* ``event_ids`` — append-only, every stored event's id: its key is the ledger's dedup (a partitioned
  table cannot hold a key without its partition key), kept when a month of events is archived.
* ``trades`` — one row per trade: search columns (status, parties, HS codes, order time), ``version``
  = number of events applied, and the ``TradeState`` written compact: ``state`` is a snapshot as of
  ``state_version`` (every ``SNAPSHOT_EVERY`` versions), ``trade_deltas`` the changes since (one row per
  write, ``state_delta``). The store's reads fold them in Python (``fold_state``); for SQL readers and
  the rebuild's comparison the view ``trade_states`` (``folded_state``) is the whole state. Writers
  check the version they read (optimistic concurrency), so two ledger processes can never lose each
  other's updates.
* ``orders``, ``shipments``, ``certificates`` — projections for SQL readers: current status columns and
  the object's state as JSON. A certificate's row also keeps the verdict on its issuer's signature as
  checked when the ledger took it in (``signature_verdict``, ``signature_key_id``, ``signature_reason``;
  services/ledger/certificates.py).

* ``outbox`` — the transactional outbox of the accepted stream (ADR 0027): one row per event the ledger
  accepted, written in the same transaction as the event, numbered by ``seq`` (the ledger's position,
  in the order the ledger applied the events), holding the original record (key, Avro value, headers)
  until the publisher has put it on ``trade.accepted.v1`` (``published_at``; the bytes are then dropped).
* ``licences`` — one row per explosives licence with terms, keyed by (issuer, certificate number): the
  licence's ONE running total across every trade whose bookings draw on it (ADR 0045), the whole
  ``LicenceState`` as JSON with a ``version``. ``write_batch`` updates a row only at the version the
  batch read (the UPDATE holds the row lock until commit), so two ledgers applying bookings of two trades
  on one licence are serialised by PostgreSQL, not by Kafka: the later one finds the version moved,
  rolls back and plans its batch again on the new total.
* ``receipts`` — the ledger's word on events it has not accepted (yet): ``pending`` (waiting for a
  prerequisite, with the reason and the next attempt) or ``rejected`` (the rule broken and why). An
  accepted event's receipt is its ``events`` and ``outbox`` rows.

``write_batch`` writes one consumed batch in ONE transaction: events (their ids into ``event_ids``
``ON CONFLICT DO NOTHING`` first, so a redelivered batch adds nothing), their outbox rows, trade states
(a delta or a snapshot), projections. Each
table is written with one statement over arrays (``unnest``), so a batch costs a handful of round trips
whatever its size.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from corridor.core.db import apply_ddl
from corridor.core.domain.lifecycle import TradeState
from corridor.core.domain.lifecycle.state import LicenceState, licence_key
from corridor.core.signatures import CERTIFICATE_TYPES as CERTIFICATE_EVENT_TYPES

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class StaleState(Exception):
    """Another writer changed a trade since we read it: reload and apply again."""

    def __init__(self, trade_ids: Iterable[uuid.UUID], *, licences: Iterable[str] = ()) -> None:
        self.trade_ids = set(trade_ids)
        self.licences = set(licences)
        what = f"{len(self.trade_ids)} trade(s)" + (
            f", licences {sorted(self.licences)[:5]}" if self.licences else ""
        )
        super().__init__(f"{what} changed underneath: {sorted(map(str, self.trade_ids))[:5]}")


@dataclass(frozen=True)
class StoredEvent:
    event_id: uuid.UUID
    trade_id: uuid.UUID
    type: str
    topic: str
    partition: int
    offset: int
    occurred_at: dt.datetime
    sender: str
    subject: str
    schema_id: int | None
    trace_id: str | None
    attempts: int
    payload: str  # the event as JSON
    published_at: dt.datetime | None = None  # producer wall clock at send (header corridor_published_ms)
    #: the original record, for the accepted stream: its key, value and headers as [[name, base64]]
    record_key: bytes = b""
    record_value: bytes = b""
    record_headers: str = "[]"


@dataclass(frozen=True)
class Receipt:
    """The ledger's word on an event it has not accepted (yet): ``pending`` or ``rejected``."""

    event_id: uuid.UUID
    trade_id: uuid.UUID | None
    sender: str | None
    type: str | None
    status: str  # pending | rejected
    error_class: str | None
    reason: str
    attempts: int
    retry_at: dt.datetime | None = None


@dataclass(frozen=True)
class OutboxRecord:
    """An accepted event's record waiting for the publisher."""

    seq: int
    event_id: uuid.UUID
    trade_id: uuid.UUID
    key: bytes
    value: bytes
    headers: str  # [[name, base64 value], ...]
    source: str  # topic:partition:offset the ledger read it from


@dataclass(frozen=True)
class TradeWrite:
    """A trade's new state and the one it was computed from (None: the trade is new)."""

    state: TradeState
    previous: TradeState | None


@dataclass(frozen=True)
class LicenceRow:
    """A licence's stored running total and the version it was read at."""

    state: LicenceState
    version: int


@dataclass(frozen=True)
class LicenceWrite:
    """A licence's new state; ``version``: the version read (None: the row is new)."""

    state: LicenceState
    version: int | None


@dataclass(frozen=True)
class SignatureRecord:
    """The verdict on a certificate's signature when the ledger took the certificate in."""

    trade_id: uuid.UUID
    issuer: str
    certificate_number: str
    verdict: str
    key_id: str | None
    reason: str


#: months of ``events`` partitions made ahead of the current one (at every start, and by a running
#: ledger once a day): a month's rows never wait for its partition
MONTHS_AHEAD = 2
PARTITIONS_CHECKED_EVERY_S = 86_400.0


def _partitions_ahead(s: str) -> str:
    """DDL making ``events_YYYY_MM`` for this month (UTC) and the next ``MONTHS_AHEAD``, those missing.
    A month already inside another partition (events_legacy) is skipped; one whose rows fell into
    ``events_default`` is left there with a warning (the operator moves them: docs/operations.md)."""
    return f"""DO $$ DECLARE lo timestamptz; hi timestamptz; month timestamp; BEGIN
            FOR i IN 0..{MONTHS_AHEAD} LOOP
                month := date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i);
                lo := month AT TIME ZONE 'UTC';
                hi := (month + interval '1 month') AT TIME ZONE 'UTC';
                BEGIN
                    EXECUTE format('CREATE TABLE IF NOT EXISTS %I.%I PARTITION OF %I.events '
                                   'FOR VALUES FROM (%L) TO (%L)',
                                   '{s}', 'events_' || to_char(month, 'YYYY_MM'), '{s}', lo, hi);
                EXCEPTION
                    WHEN invalid_object_definition THEN NULL;  -- inside events_legacy's range
                    WHEN check_violation THEN
                        RAISE WARNING 'ledger events of % are in events_default: no partition made', lo;
                END;
            END LOOP;
        END $$"""


def _ddl(s: str) -> list[str]:
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{s}"',
        # an unpartitioned events table of an older version becomes the first partition (ADR 0044):
        # renamed here (with its index and trigger, whose names the partitioned table takes), then
        # attached below, in this same transaction: no moment in which its rows can be changed
        f"""DO $$ BEGIN
                IF EXISTS (SELECT FROM pg_class
                           WHERE oid = to_regclass('"{s}".events') AND relkind = 'r') THEN
                    ALTER TABLE "{s}".events RENAME TO events_legacy;
                    DROP TRIGGER IF EXISTS events_append_only ON "{s}".events_legacy;
                    ALTER INDEX IF EXISTS "{s}".events_trade_time RENAME TO events_legacy_trade_time;
                END IF;
            END $$""",
        # by month of ingestion: old months can be detached and archived whole, the current one is hot;
        # a key must contain the partition key, so the event id's uniqueness is event_ids' (below)
        f"""CREATE TABLE IF NOT EXISTS "{s}".events (
                event_id     uuid NOT NULL,
                trade_id     uuid NOT NULL,
                type         text NOT NULL,
                topic        text NOT NULL,
                partition    integer NOT NULL,
                "offset"     bigint NOT NULL,
                occurred_at  timestamptz NOT NULL,
                ingested_at  timestamptz NOT NULL DEFAULT now(),
                sender       text NOT NULL,
                subject      text NOT NULL,
                schema_id    integer,
                trace_id     text,
                attempts     integer NOT NULL DEFAULT 1,
                payload      jsonb NOT NULL,
                published_at timestamptz
            ) PARTITION BY RANGE (ingested_at)""",
        f'CREATE INDEX IF NOT EXISTS events_trade_time ON "{s}".events (trade_id, occurred_at)',
        f'CREATE INDEX IF NOT EXISTS events_event_id ON "{s}".events (event_id)',
        f"""CREATE OR REPLACE FUNCTION "{s}".append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the ledger''s events are append-only (% refused)', TG_OP;
            END $$""",
        # on the partitioned table: PostgreSQL puts it on every partition, present and future
        f"""CREATE OR REPLACE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON "{s}".events
            FOR EACH ROW EXECUTE FUNCTION "{s}".append_only()""",
        # every event id the ledger stored, and when: the exact dedup (ON CONFLICT on its key) that a
        # partitioned events table cannot hold; kept when a month of events is detached
        f"""CREATE TABLE IF NOT EXISTS "{s}".event_ids (
                event_id    uuid PRIMARY KEY,
                ingested_at timestamptz NOT NULL DEFAULT now()
            )""",
        f"""CREATE OR REPLACE TRIGGER event_ids_append_only BEFORE UPDATE OR DELETE ON "{s}".event_ids
            FOR EACH ROW EXECUTE FUNCTION "{s}".append_only()""",
        f"""DO $$ DECLARE upto timestamptz; BEGIN
                IF EXISTS (SELECT FROM pg_class WHERE oid = to_regclass('"{s}".events_legacy')
                           AND NOT relispartition) THEN
                    ALTER TABLE "{s}".events_legacy ADD COLUMN IF NOT EXISTS published_at timestamptz;
                    INSERT INTO "{s}".event_ids (event_id, ingested_at)
                        SELECT event_id, ingested_at FROM "{s}".events_legacy ON CONFLICT DO NOTHING;
                    -- up to the month after its last row and after this one: the monthly ones follow
                    SELECT (date_trunc('month', greatest(max(ingested_at), now()) AT TIME ZONE 'UTC')
                            + interval '1 month') AT TIME ZONE 'UTC'
                        INTO upto FROM "{s}".events_legacy;
                    EXECUTE format('ALTER TABLE %I.events ATTACH PARTITION %I.events_legacy '
                                   'FOR VALUES FROM (MINVALUE) TO (%L)', '{s}', '{s}', upto);
                END IF;
            END $$""",
        # a row whose month has no partition (the clock jumped ahead) lands here rather than failing
        f'CREATE TABLE IF NOT EXISTS "{s}".events_default PARTITION OF "{s}".events DEFAULT',
        _partitions_ahead(s),
        f"""CREATE TABLE IF NOT EXISTS "{s}".trades (
                trade_id    uuid PRIMARY KEY,
                order_id    text,
                status      text NOT NULL,
                buyer       text,
                supplier    text,
                parties     text[] NOT NULL,
                hs_codes    text[] NOT NULL,
                placed_at   timestamptz,
                first_at    timestamptz,
                last_at     timestamptz,
                version     integer NOT NULL,
                state       jsonb NOT NULL,
                updated_at  timestamptz NOT NULL DEFAULT now()
            )""",
        # the state is written compact (ADR 0044): ``state`` is a snapshot as of ``state_version`` (a row
        # from before has no deltas: 0 is right for it), ``trade_deltas`` the changes since, one row per
        # write; ``trade_states`` folds them, the one way to read a trade's whole state in SQL
        f'ALTER TABLE "{s}".trades ADD COLUMN IF NOT EXISTS state_version integer NOT NULL DEFAULT 0',
        f"""CREATE TABLE IF NOT EXISTS "{s}".trade_deltas (
                trade_id uuid NOT NULL,
                version  integer NOT NULL,
                delta    jsonb NOT NULL,
                PRIMARY KEY (trade_id, version)
            )""",
        # pure (it names no table, so a renamed schema keeps working, ADR 0031): the snapshot with each
        # delta applied in order: its top-level keys replaced, its values set at their paths, its timeline
        # entries inserted at their index (ascending), its event ids added to ``applied`` (state_delta)
        f"""CREATE OR REPLACE FUNCTION "{s}".folded_state(snapshot jsonb, deltas jsonb[]) RETURNS jsonb
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
            DECLARE st jsonb := snapshot; d jsonb; e jsonb;
            BEGIN
                FOREACH d IN ARRAY coalesce(deltas, '{{}}'::jsonb[]) LOOP
                    st := st || coalesce(d->'set', '{{}}'::jsonb);
                    FOR e IN SELECT value FROM jsonb_array_elements(coalesce(d->'put', '[]')) LOOP
                        st := jsonb_set(st, ARRAY(SELECT jsonb_array_elements_text(e->0)), e->1);
                    END LOOP;
                    FOR e IN SELECT value FROM jsonb_array_elements(coalesce(d->'timeline', '[]')) LOOP
                        st := jsonb_insert(st, ARRAY['timeline', e->>0], e->1);
                    END LOOP;
                    IF d ? 'applied' THEN
                        st := jsonb_set(st, '{{applied}}', (st->'applied') || (d->'applied'));
                    END IF;
                END LOOP;
                RETURN st;
            END $$""",
        f"""CREATE OR REPLACE VIEW "{s}".trade_states AS
            SELECT t.trade_id, t.version, t.status, t.updated_at,
                   "{s}".folded_state(t.state, ARRAY(
                       SELECT d.delta FROM "{s}".trade_deltas d
                       WHERE d.trade_id = t.trade_id AND d.version > t.state_version ORDER BY d.version
                   )) AS state
            FROM "{s}".trades t""",
        f'CREATE INDEX IF NOT EXISTS trades_parties ON "{s}".trades USING gin (parties)',
        f'CREATE INDEX IF NOT EXISTS trades_hs_codes ON "{s}".trades USING gin (hs_codes)',
        f'CREATE INDEX IF NOT EXISTS trades_placed ON "{s}".trades (placed_at DESC, trade_id DESC)',
        f"""CREATE TABLE IF NOT EXISTS "{s}".orders (
                trade_id        uuid PRIMARY KEY,
                order_id        text NOT NULL,
                buyer           text NOT NULL,
                supplier        text NOT NULL,
                status          text NOT NULL,
                invoice_stage   text,
                revision        integer NOT NULL,
                agreed_revision integer,
                incoterm        text NOT NULL,
                transport_mode  text NOT NULL,
                hs_codes        text[] NOT NULL,
                placed_at       timestamptz NOT NULL,
                closed_at       timestamptz,
                cancelled_at    timestamptz,
                state           jsonb NOT NULL,
                updated_at      timestamptz NOT NULL DEFAULT now()
            )""",
        f"""CREATE TABLE IF NOT EXISTS "{s}".shipments (
                trade_id           uuid NOT NULL,
                shipment_id        text NOT NULL,
                order_id           text NOT NULL,
                carrier            text NOT NULL,
                transport_mode     text NOT NULL,
                status             text NOT NULL,
                customs_status     text,
                place_of_loading   text NOT NULL,
                place_of_discharge text NOT NULL,
                actual_departure   timestamptz,
                actual_arrival     timestamptz,
                delivered_at       timestamptz,
                state              jsonb NOT NULL,
                updated_at         timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (trade_id, shipment_id)
            )""",
        f"""CREATE TABLE IF NOT EXISTS "{s}".certificates (
                trade_id           uuid NOT NULL,
                certificate_number text NOT NULL,
                kind               text NOT NULL,
                issuer             text NOT NULL,
                status             text NOT NULL,
                valid_until        date,
                superseded_by      text,
                verification       text,
                preference         text,
                state              jsonb NOT NULL,
                updated_at         timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (trade_id, issuer, certificate_number)
            )""",
        f'ALTER TABLE "{s}".certificates ADD COLUMN IF NOT EXISTS signature_verdict text',
        f'ALTER TABLE "{s}".certificates ADD COLUMN IF NOT EXISTS signature_key_id text',
        f'ALTER TABLE "{s}".certificates ADD COLUMN IF NOT EXISTS signature_reason text',
        # a certificate is known by issuer and number (ADR 0033): a table keyed by (trade, number) before
        # gets the wider key; its rows keep their values (every row has its issuer), nothing is copied
        f"""DO $$ BEGIN
                IF NOT EXISTS (
                    SELECT 1 FROM pg_index i
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                    WHERE i.indrelid = '"{s}".certificates'::regclass AND i.indisprimary
                      AND a.attname = 'issuer'
                ) THEN
                    ALTER TABLE "{s}".certificates DROP CONSTRAINT IF EXISTS certificates_pkey;
                    ALTER TABLE "{s}".certificates
                        ADD CONSTRAINT certificates_pkey PRIMARY KEY (trade_id, issuer, certificate_number);
                END IF;
            END $$""",
        f'CREATE INDEX IF NOT EXISTS certificates_number ON "{s}".certificates (certificate_number)',
        f"""CREATE TABLE IF NOT EXISTS "{s}".outbox (
                seq            bigserial PRIMARY KEY,
                event_id       uuid NOT NULL UNIQUE,
                trade_id       uuid NOT NULL,
                source         text NOT NULL,
                record_key     bytea,
                record_value   bytea,
                record_headers jsonb,
                accepted_at    timestamptz NOT NULL DEFAULT now(),
                published_at   timestamptz
            )""",
        f'CREATE INDEX IF NOT EXISTS outbox_unpublished ON "{s}".outbox (seq) WHERE published_at IS NULL',
        f"""CREATE TABLE IF NOT EXISTS "{s}".receipts (
                event_id    uuid NOT NULL,
                trade_id    uuid,
                sender      text NOT NULL,
                type        text,
                status      text NOT NULL CHECK (status IN ('pending', 'rejected')),
                error_class text,
                reason      text NOT NULL,
                attempts    integer NOT NULL DEFAULT 1,
                retry_at    timestamptz,
                updated_at  timestamptz NOT NULL DEFAULT now(),
                -- per sender: a partner who reuses another's event id never reads or changes its receipt
                PRIMARY KEY (event_id, sender)
            )""",
        f"""CREATE TABLE IF NOT EXISTS "{s}".licences (
                issuer             text NOT NULL,
                certificate_number text NOT NULL,
                kind               text NOT NULL,
                holder             text NOT NULL,
                status             text NOT NULL,
                issued_in          uuid,
                version            integer NOT NULL,
                state              jsonb NOT NULL,
                updated_at         timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (issuer, certificate_number)
            )""",
        # the id of each topic the ledger read last (corridor.core.topic_ids): a topic deleted and
        # created again under its name has a new one, and is read again from its start
        f"""CREATE TABLE IF NOT EXISTS "{s}".topic_ids (
                topic    text PRIMARY KEY,
                topic_id uuid NOT NULL,
                seen_at  timestamptz NOT NULL DEFAULT now()
            )""",
        # receipts of an early version were keyed by the event id alone: key them by sender too
        f"""DO $$ BEGIN
                IF EXISTS (SELECT FROM pg_constraint
                           WHERE conrelid = '"{s}".receipts'::regclass AND contype = 'p'
                             AND array_length(conkey, 1) = 1) THEN
                    DELETE FROM "{s}".receipts WHERE sender IS NULL;
                    ALTER TABLE "{s}".receipts DROP CONSTRAINT receipts_pkey,
                        ALTER COLUMN sender SET NOT NULL, ADD PRIMARY KEY (event_id, sender);
                END IF;
            END $$""",
    ]


#: a trade's whole state is written when its version reaches a multiple of this, its changes in between
#: (ADR 0044): a read folds at most this many deltas, a write costs its changes, not the whole state
SNAPSHOT_EVERY = 16

#: the state's fields that only grow by one item per event: a delta carries the new items
_GROWING = ("timeline", "applied")


def _inserted(old: Sequence[Any], new: Sequence[Any]) -> list[tuple[int, Any]] | None:
    """The items of ``new`` that are not ``old``'s, with their index in ``new`` (ascending), when ``new``
    is ``old`` with items inserted (inserting them in this order into ``old`` gives ``new``); else None."""
    if len(new) < len(old):
        return None
    out: list[tuple[int, Any]] = []
    i = 0
    for j, item in enumerate(new):
        if i < len(old) and (item is old[i] or item == old[i]):
            i += 1
        else:
            out.append((j, item))
    return out if i == len(old) else None


def _paths(then: Any, now: Any, path: list[str], out: list[Any]) -> bool:
    """Append to ``out`` the ``[path, value]`` pairs that turn JSON ``then`` into ``now`` by setting
    values at paths whose parent exists (objects compared key by key, anything else replaced whole).
    False when an object lost a key (a path cannot remove it)."""
    if not (isinstance(then, dict) and isinstance(now, dict)):
        out.append([path, now])
        return True
    if not then.keys() <= now.keys():
        return False
    for key, value in now.items():
        if key not in then:
            out.append([[*path, key], value])
        elif then[key] != value and not _paths(then[key], value, [*path, key], out):
            return False
    return True


def state_delta(previous: TradeState, state: TradeState) -> str:
    """What changed from ``previous`` to ``state``, as the JSON ``folded_state`` applies: ``set`` (the
    top-level fields replaced whole, and ``version``), ``put`` ([path, value] pairs: the values that
    changed deep inside the other fields, e.g. one milestone of one shipment), ``timeline`` ([index,
    entry] pairs to insert in order) and ``applied`` (the event ids added). A field in which an object
    lost a key, a timeline or an ``applied`` set that did not only grow is set whole."""
    fields = set(TradeState.model_fields) - {"trade_id", "version", *_GROWING}
    changed = {
        name
        for name in fields
        if (now := getattr(state, name)) is not (then := getattr(previous, name)) and now != then
    }
    put: list[Any] = []
    whole = {"version"}
    if changed:
        before = previous.model_dump(mode="json", include=changed)
        after = state.model_dump(mode="json", include=changed)
        for name in sorted(changed):
            paths: list[Any] = []
            if isinstance(before[name], dict) and _paths(before[name], after[name], [name], paths):
                put += paths
            else:
                whole.add(name)
    inserted = _inserted(previous.timeline, state.timeline)
    if inserted is None:
        whole.add("timeline")
    grew = previous.applied <= state.applied
    if not grew:
        whole.add("applied")
    parts = [f'"set":{state.model_dump_json(include=whole)}']
    if put:
        parts.append(f'"put":{json.dumps(put, separators=(",", ":"))}')
    if inserted:
        parts.append('"timeline":[' + ",".join(f"[{j},{e.model_dump_json()}]" for j, e in inserted) + "]")
    if grew and (added := state.applied - previous.applied):
        parts.append('"applied":' + json.dumps(sorted(str(a) for a in added)))
    return "{" + ",".join(parts) + "}"


def fold_state(snapshot: str, deltas: Sequence[str]) -> TradeState:
    """The state a snapshot and its deltas (in order) stand for: what ``folded_state`` computes in
    PostgreSQL, in Python for the ledger's own reads (tests hold the two equal)."""
    if not deltas:
        return TradeState.model_validate_json(snapshot)
    state = json.loads(snapshot)
    for text in deltas:
        delta = json.loads(text)
        state.update(delta.get("set", {}))
        for path, value in delta.get("put", ()):
            target = state
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        for index, entry in delta.get("timeline", ()):
            state["timeline"].insert(index, entry)
        if "applied" in delta:
            state["applied"] = [*state["applied"], *delta["applied"]]
    # from the parsed JSON (lax mode parses the same strings as JSON mode; faster than a second dump)
    return TradeState.model_validate(state)


def compact_write(write: TradeWrite) -> str | None:
    """The delta to store for ``write``, or None when its whole state is written (a new trade, a version
    reaching a multiple of ``SNAPSHOT_EVERY``, or a write that applied nothing new)."""
    before = write.previous
    if before is None or write.state.version <= before.version:
        return None
    if write.state.version // SNAPSHOT_EVERY != before.version // SNAPSHOT_EVERY:
        return None
    return state_delta(before, write.state)


def _joined(values: Iterable[str]) -> str:
    # party ids and HS codes are validated slugs and digits: a comma never occurs in them
    return ",".join(values)


class LedgerStore:
    def __init__(self, pool: asyncpg.Pool, db_schema: str = "ledger") -> None:
        if not _IDENTIFIER.match(db_schema):
            raise ValueError(f"invalid PostgreSQL schema name {db_schema!r}")
        self.pool = pool
        self.schema = db_schema
        self._partitions_checked = time.monotonic()  # migrate() makes them; a running ledger once a day
        s = f'"{db_schema}"'
        # a trade's snapshot and its deltas since, folded here (fold_state): folding in PostgreSQL
        # (the trade_states view) costs a pass over the whole document per change, ~40 times more
        self._state_columns = f"""t.state::text AS state, ARRAY(
                SELECT d.delta::text FROM {s}.trade_deltas d
                WHERE d.trade_id = t.trade_id AND d.version > t.state_version ORDER BY d.version
            ) AS deltas"""
        # the dedup is event_ids' key (exact, as the events table's own key was before it was
        # partitioned); an id twice in one batch is stored once, its first occurrence
        self._insert_events = f"""
            WITH u AS (
                SELECT DISTINCT ON (u.event_id) u.*
                FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[],
                            $7::timestamptz[], $8::text[], $9::text[], $10::int[], $11::text[], $12::int[],
                            $13::text[], $14::timestamptz[])
                     WITH ORDINALITY AS u(event_id, trade_id, type, topic, partition, off, occurred_at,
                                          sender, subject, schema_id, trace_id, attempts, payload,
                                          published_at, n)
                ORDER BY u.event_id, u.n
            ), fresh AS (
                INSERT INTO {s}.event_ids (event_id) SELECT event_id FROM u
                ON CONFLICT (event_id) DO NOTHING
                RETURNING event_id, ingested_at
            )
            INSERT INTO {s}.events (event_id, trade_id, type, topic, partition, "offset", occurred_at,
                                    ingested_at, sender, subject, schema_id, trace_id, attempts, payload,
                                    published_at)
            SELECT u.event_id, u.trade_id, u.type, u.topic, u.partition, u.off, u.occurred_at,
                   f.ingested_at, u.sender, u.subject, u.schema_id, u.trace_id, u.attempts, u.payload::jsonb,
                   u.published_at
            FROM u JOIN fresh f ON f.event_id = u.event_id
            RETURNING event_id"""
        # in the order of the batch (WITH ORDINALITY … ORDER BY): seq numbers follow the order applied
        self._insert_outbox = f"""
            INSERT INTO {s}.outbox (event_id, trade_id, source, record_key, record_value, record_headers)
            SELECT u.event_id, u.trade_id, u.source, u.record_key, u.record_value, u.record_headers::jsonb
            FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bytea[], $5::bytea[], $6::text[])
                 WITH ORDINALITY AS u(event_id, trade_id, source, record_key, record_value, record_headers, n)
            WHERE u.event_id = ANY($7::uuid[])
            ORDER BY u.n
            ON CONFLICT (event_id) DO NOTHING"""
        trade_columns = """$1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                           $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[],
                           $11::timestamptz[], $12::int[], $13::text[]"""
        trade_names = """trade_id, prev_version, order_id, status, buyer, supplier, parties, hs_codes,
                         placed_at, first_at, last_at, version, state"""
        # ``state`` NULL: the write is a delta (in trade_deltas), the snapshot stays as it is (its TOAST
        # value is not written again: an unchanged column keeps its pointer)
        self._update_trades = f"""
            UPDATE {s}.trades AS t
            SET order_id = u.order_id, status = u.status, buyer = u.buyer, supplier = u.supplier,
                parties = string_to_array(u.parties, ','), hs_codes = string_to_array(u.hs_codes, ','),
                placed_at = u.placed_at, first_at = u.first_at, last_at = u.last_at, version = u.version,
                state = coalesce(u.state::jsonb, t.state),
                state_version = CASE WHEN u.state IS NULL THEN t.state_version ELSE u.version END,
                updated_at = now()
            FROM unnest({trade_columns}) AS u({trade_names})
            WHERE t.trade_id = u.trade_id AND t.version = u.prev_version
            RETURNING t.trade_id"""
        self._insert_trades = f"""
            INSERT INTO {s}.trades (trade_id, order_id, status, buyer, supplier, parties, hs_codes,
                                    placed_at, first_at, last_at, version, state, state_version)
            SELECT u.trade_id, u.order_id, u.status, u.buyer, u.supplier, string_to_array(u.parties, ','),
                   string_to_array(u.hs_codes, ','), u.placed_at, u.first_at, u.last_at, u.version,
                   u.state::jsonb, u.version
            FROM unnest({trade_columns}) AS u({trade_names})
            ON CONFLICT (trade_id) DO NOTHING
            RETURNING trade_id"""
        self._insert_deltas = f"""
            INSERT INTO {s}.trade_deltas (trade_id, version, delta)
            SELECT * FROM unnest($1::uuid[], $2::int[], $3::jsonb[])"""
        # a snapshot supersedes every delta before it (all of them: the update checked the version)
        self._drop_deltas = f"DELETE FROM {s}.trade_deltas WHERE trade_id = ANY($1::uuid[])"
        self._upsert_orders = f"""
            INSERT INTO {s}.orders (trade_id, order_id, buyer, supplier, status, invoice_stage, revision,
                                    agreed_revision, incoterm, transport_mode, hs_codes, placed_at,
                                    closed_at, cancelled_at, state)
            SELECT u.trade_id, u.order_id, u.buyer, u.supplier, u.status, u.invoice_stage, u.revision,
                   u.agreed_revision, u.incoterm, u.transport_mode, string_to_array(u.hs_codes, ','),
                   u.placed_at, u.closed_at, u.cancelled_at, u.state::jsonb
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
                        $8::int[], $9::text[], $10::text[], $11::text[], $12::timestamptz[],
                        $13::timestamptz[], $14::timestamptz[], $15::text[])
                 AS u(trade_id, order_id, buyer, supplier, status, invoice_stage, revision, agreed_revision,
                      incoterm, transport_mode, hs_codes, placed_at, closed_at, cancelled_at, state)
            ON CONFLICT (trade_id) DO UPDATE SET
                status = EXCLUDED.status, invoice_stage = EXCLUDED.invoice_stage,
                revision = EXCLUDED.revision, agreed_revision = EXCLUDED.agreed_revision,
                hs_codes = EXCLUDED.hs_codes, closed_at = EXCLUDED.closed_at,
                cancelled_at = EXCLUDED.cancelled_at, state = EXCLUDED.state, updated_at = now()"""
        self._upsert_shipments = f"""
            INSERT INTO {s}.shipments (trade_id, shipment_id, order_id, carrier, transport_mode, status,
                                       customs_status, place_of_loading, place_of_discharge,
                                       actual_departure, actual_arrival, delivered_at, state)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                 $7::text[], $8::text[], $9::text[], $10::timestamptz[],
                                 $11::timestamptz[], $12::timestamptz[], $13::jsonb[])
            ON CONFLICT (trade_id, shipment_id) DO UPDATE SET
                status = EXCLUDED.status, customs_status = EXCLUDED.customs_status,
                actual_departure = EXCLUDED.actual_departure, actual_arrival = EXCLUDED.actual_arrival,
                delivered_at = EXCLUDED.delivered_at, state = EXCLUDED.state, updated_at = now()"""
        self._upsert_certificates = f"""
            INSERT INTO {s}.certificates (trade_id, certificate_number, kind, issuer, status, valid_until,
                                          superseded_by, verification, preference, state)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[],
                                 $7::text[], $8::text[], $9::text[], $10::jsonb[])
            ON CONFLICT (trade_id, issuer, certificate_number) DO UPDATE SET
                status = EXCLUDED.status, superseded_by = EXCLUDED.superseded_by,
                verification = EXCLUDED.verification, preference = EXCLUDED.preference,
                state = EXCLUDED.state, updated_at = now()"""
        self._set_signatures = f"""
            UPDATE {s}.certificates AS c
            SET signature_verdict = u.verdict, signature_key_id = u.key_id, signature_reason = u.reason
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                 AS u(trade_id, issuer, certificate_number, verdict, key_id, reason)
            WHERE c.trade_id = u.trade_id AND c.issuer = u.issuer
              AND c.certificate_number = u.certificate_number"""

    @classmethod
    async def open(
        cls, database_url: str, *, db_schema: str = "ledger", min_size: int = 1, max_size: int = 8
    ) -> LedgerStore:
        pool = await asyncpg.create_pool(database_url, min_size=min_size, max_size=max_size)
        store = cls(pool, db_schema)
        try:
            await store.migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        await self.pool.close()

    async def migrate(self) -> None:
        """Create the schema and tables if missing (idempotent; safe from several processes at once)."""
        await apply_ddl(self.pool, self.schema, _ddl(self.schema))
        self._partitions_checked = time.monotonic()

    async def ensure_partitions(self) -> None:
        """Make the ``events`` partitions of this month and the next ``MONTHS_AHEAD`` that are missing."""
        await apply_ddl(self.pool, self.schema, [_partitions_ahead(self.schema)])
        self._partitions_checked = time.monotonic()

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    # -- the consumer's side ---------------------------------------------------------------------------

    async def load_states(self, trade_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, TradeState]:
        """Stored states of those of ``trade_ids`` the ledger knows."""
        if not trade_ids:
            return {}
        rows = await self.pool.fetch(
            f'SELECT t.trade_id, {self._state_columns} FROM "{self.schema}".trades t '
            "WHERE t.trade_id = ANY($1::uuid[])",
            list(trade_ids),
        )
        return {row["trade_id"]: fold_state(row["state"], row["deltas"]) for row in rows}

    async def load_licences(self, keys: Iterable[str]) -> dict[str, LicenceRow]:
        """The stored licences among ``keys`` (``licence_key``: issuer/number), with their versions."""
        pairs = [key.split("/", 1) for key in set(keys)]
        if not pairs:
            return {}
        rows = await self.pool.fetch(
            f"""SELECT l.state::text AS state, l.version FROM "{self.schema}".licences l
                JOIN unnest($1::text[], $2::text[]) AS k(issuer, certificate_number)
                  ON l.issuer = k.issuer AND l.certificate_number = k.certificate_number""",
            [p[0] for p in pairs],
            [p[1] if len(p) > 1 else "" for p in pairs],
        )
        found = {}
        for row in rows:
            state = LicenceState.model_validate_json(row["state"])
            found[licence_key(state.issuer, state.certificate_number)] = LicenceRow(state, row["version"])
        return found

    async def _write_licences(self, conn: asyncpg.Connection, licences: Sequence[LicenceWrite]) -> None:
        """Each licence at the version read, one row after the other in key order (two ledgers that
        write the same two licences lock them in the same order: no deadlock)."""
        s = f'"{self.schema}"'
        stale = []
        for w in sorted(licences, key=lambda w: (w.state.issuer, w.state.certificate_number)):
            lic = w.state
            values = (lic.issuer, lic.certificate_number, lic.kind.value, lic.holder, lic.status.value,
                      lic.issued_in, lic.model_dump_json())  # fmt: skip
            if w.version is None:
                done = await conn.fetchval(
                    f"""INSERT INTO {s}.licences (issuer, certificate_number, kind, holder, status, issued_in,
                                                 state, version)
                        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, 1)
                        ON CONFLICT (issuer, certificate_number) DO NOTHING RETURNING version""",
                    *values,
                )
            else:
                done = await conn.fetchval(
                    f"""UPDATE {s}.licences SET kind = $3, holder = $4, status = $5, issued_in = $6,
                               state = $7::jsonb, version = version + 1, updated_at = now()
                        WHERE issuer = $1 AND certificate_number = $2 AND version = $8
                        RETURNING version""",
                    *values,
                    w.version,
                )
            if done is None:
                stale.append(licence_key(lic.issuer, lic.certificate_number))
        if stale:
            # another ledger drew on the licence since we read it: nothing of this batch is written
            raise StaleState((), licences=stale)

    async def write_batch(
        self,
        events: Sequence[StoredEvent],
        trades: Sequence[TradeWrite],
        signatures: Sequence[SignatureRecord] = (),
        licences: Sequence[LicenceWrite] = (),
    ) -> int:
        """Store a batch in one transaction; returns how many events were new.

        Raises ``StaleState`` (and writes nothing) when a trade's stored version is not the one its
        previous state had, i.e. someone else applied events to it since we read it, or a licence's
        row is not at the version read (another ledger drew on it: ADR 0045).
        """
        if time.monotonic() - self._partitions_checked > PARTITIONS_CHECKED_EVERY_S:
            await self.ensure_partitions()
        async with self.pool.acquire() as conn, conn.transaction():
            await self._write_trades(conn, trades)
            if licences:
                await self._write_licences(conn, licences)
            inserted = 0
            if events:
                new = await conn.fetch(
                    self._insert_events,
                    [e.event_id for e in events],
                    [e.trade_id for e in events],
                    [e.type for e in events],
                    [e.topic for e in events],
                    [e.partition for e in events],
                    [e.offset for e in events],
                    [e.occurred_at for e in events],
                    [e.sender for e in events],
                    [e.subject for e in events],
                    [e.schema_id for e in events],
                    [e.trace_id for e in events],
                    [e.attempts for e in events],
                    [e.payload for e in events],
                    [e.published_at for e in events],
                )
                inserted = len(new)
                if new:
                    await conn.execute(
                        self._insert_outbox,
                        [e.event_id for e in events],
                        [e.trade_id for e in events],
                        [f"{e.topic}:{e.partition}:{e.offset}" for e in events],
                        [e.record_key for e in events],
                        [e.record_value for e in events],
                        [e.record_headers for e in events],
                        [row["event_id"] for row in new],
                    )
                    # a pending receipt is superseded by the acceptance (the sender's own, not one of a
                    # partner who reused the id)
                    await conn.execute(
                        f"""DELETE FROM "{self.schema}".receipts r
                            USING unnest($1::uuid[], $2::text[]) AS a(event_id, sender)
                            WHERE r.event_id = a.event_id AND r.sender = a.sender""",
                        [e.event_id for e in events],
                        [e.sender for e in events],
                    )
            await self._write_projections(conn, trades)
            if signatures:
                await conn.execute(
                    self._set_signatures,
                    [r.trade_id for r in signatures],
                    [r.issuer for r in signatures],
                    [r.certificate_number for r in signatures],
                    [r.verdict for r in signatures],
                    [r.key_id for r in signatures],
                    [r.reason for r in signatures],
                )
        return inserted

    @staticmethod
    def _trade_columns(writes: Sequence[TradeWrite], deltas: dict[uuid.UUID, str]) -> list[list[Any]]:
        columns: list[list[Any]] = [[] for _ in range(13)]
        for w in writes:
            state, order = w.state, w.state.order
            row = (
                state.trade_id,
                w.previous.version if w.previous else 0,
                order.order_id if order else None,
                state.status,
                order.buyer if order else None,
                order.supplier if order else None,
                _joined(state.party_ids),
                _joined(state.hs_codes),
                order.placed_at if order else None,
                state.first_at,
                state.last_at,
                state.version,
                None if state.trade_id in deltas else state.model_dump_json(),
            )
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        return columns

    async def _write_trades(self, conn: asyncpg.Connection, trades: Sequence[TradeWrite]) -> None:
        known = [w for w in trades if w.previous is not None]
        new = [w for w in trades if w.previous is None]
        deltas = {w.state.trade_id: d for w in known if (d := compact_write(w)) is not None}
        stale: set[uuid.UUID] = set()
        if known:
            rows = await conn.fetch(self._update_trades, *self._trade_columns(known, deltas))
            stale |= {w.state.trade_id for w in known} - {r["trade_id"] for r in rows}
        if new:
            rows = await conn.fetch(self._insert_trades, *self._trade_columns(new, {}))
            stale |= {w.state.trade_id for w in new} - {r["trade_id"] for r in rows}
        if stale:
            raise StaleState(stale)
        if deltas:
            versions = {w.state.trade_id: w.state.version for w in known}
            await conn.execute(
                self._insert_deltas, list(deltas), [versions[t] for t in deltas], list(deltas.values())
            )
        snapshots = [w.state.trade_id for w in known if w.state.trade_id not in deltas]
        if snapshots:
            await conn.execute(self._drop_deltas, snapshots)

    async def _write_projections(self, conn: asyncpg.Connection, trades: Sequence[TradeWrite]) -> None:
        orders: list[tuple[Any, ...]] = []
        shipments: list[tuple[Any, ...]] = []
        certificates: list[tuple[Any, ...]] = []
        for w in trades:
            state, before = w.state, w.previous
            order = state.order
            if order is not None and (before is None or before.order is not order):
                orders.append(
                    (
                        state.trade_id,
                        order.order_id,
                        order.buyer,
                        order.supplier,
                        order.status.value,
                        order.invoice_stage.value if order.invoice_stage else None,
                        order.revision,
                        order.agreed_revision,
                        order.incoterm,
                        order.transport_mode,
                        _joined(order.hs_codes),
                        order.placed_at,
                        order.closed_at,
                        order.cancelled_at,
                        order.model_dump_json(),
                    )
                )
            for shipment_id, shipment in state.shipments.items():
                if before is not None and before.shipments.get(shipment_id) is shipment:
                    continue
                customs = shipment.customs_status
                shipments.append(
                    (
                        state.trade_id,
                        shipment_id,
                        shipment.order_id,
                        shipment.carrier,
                        shipment.transport_mode,
                        shipment.status.value,
                        customs.value if customs else None,
                        shipment.place_of_loading,
                        shipment.place_of_discharge,
                        shipment.actual_departure,
                        shipment.actual_arrival,
                        shipment.delivered_at,
                        shipment.model_dump_json(),
                    )
                )
            for key, cert in state.certificates.items():
                if before is not None and before.certificates.get(key) is cert:
                    continue
                certificates.append(
                    (
                        state.trade_id,
                        cert.certificate_number,
                        cert.kind.value,
                        cert.issuer,
                        cert.status.value,
                        cert.valid_until,
                        cert.superseded_by,
                        cert.verification.value if cert.verification else None,
                        cert.preference.value if cert.preference else None,
                        cert.model_dump_json(),
                    )
                )
        for statement, rows in (
            (self._upsert_orders, orders),
            (self._upsert_shipments, shipments),
            (self._upsert_certificates, certificates),
        ):
            if rows:
                await conn.execute(statement, *(list(column) for column in zip(*rows, strict=True)))

    # -- receipts and the accepted stream's outbox -----------------------------------------------------

    async def write_receipts(self, receipts: Sequence[Receipt]) -> None:
        """Record pending and rejected events (a later word replaces an earlier one; an event already
        accepted keeps its acceptance: rows of accepted events are never written here)."""
        if not receipts:
            return
        await self.pool.execute(
            f"""INSERT INTO "{self.schema}".receipts (event_id, trade_id, sender, type, status, error_class,
                                                    reason, attempts, retry_at)
                SELECT u.* FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                                       $6::text[], $7::text[], $8::int[], $9::timestamptz[])
                     AS u(event_id, trade_id, sender, type, status, error_class, reason, attempts, retry_at)
                WHERE NOT EXISTS (
                    SELECT 1 FROM "{self.schema}".events e
                    WHERE e.event_id = u.event_id AND e.sender = u.sender
                )
                ON CONFLICT (event_id, sender) DO UPDATE SET
                    status = EXCLUDED.status, error_class = EXCLUDED.error_class, reason = EXCLUDED.reason,
                    attempts = EXCLUDED.attempts, retry_at = EXCLUDED.retry_at, updated_at = now()""",
            [r.event_id for r in receipts],
            [r.trade_id for r in receipts],
            [r.sender for r in receipts],
            [r.type for r in receipts],
            [r.status for r in receipts],
            [r.error_class for r in receipts],
            [r.reason[:2000] for r in receipts],
            [r.attempts for r in receipts],
            [r.retry_at for r in receipts],
        )

    async def receipt(self, event_id: uuid.UUID, sender: str) -> dict[str, Any] | None:
        """The ledger's word on ``sender``'s event ``event_id``: accepted (with its position), pending or
        rejected; None when the ledger has not decided anything about it yet (or never saw it, or it is
        not ``sender``'s)."""
        s = f'"{self.schema}"'
        row = await self.pool.fetchrow(
            f"""SELECT e.event_id, e.trade_id, e.sender, e.type, e.ingested_at, o.seq, o.accepted_at,
                       o.published_at
                FROM {s}.events e LEFT JOIN {s}.outbox o ON o.event_id = e.event_id
                WHERE e.event_id = $1 AND e.sender = $2""",
            event_id,
            sender,
        )
        if row is not None:
            return {"status": "accepted", **dict(row)}
        row = await self.pool.fetchrow(
            f"""SELECT event_id, trade_id, sender, type, status, error_class, reason, attempts, retry_at,
                       updated_at
                FROM {s}.receipts WHERE event_id = $1 AND sender = $2""",
            event_id,
            sender,
        )
        return dict(row) if row is not None else None

    async def topic_ids(self) -> dict[str, uuid.UUID]:
        """The id of each consumed topic as the ledger last read it (empty for a new ledger)."""
        rows = await self.pool.fetch(f'SELECT topic, topic_id FROM "{self.schema}".topic_ids')
        return {row["topic"]: row["topic_id"] for row in rows}

    async def record_topic_ids(self, ids: dict[str, uuid.UUID]) -> None:
        await self.pool.execute(
            f"""INSERT INTO "{self.schema}".topic_ids (topic, topic_id)
                SELECT * FROM unnest($1::text[], $2::uuid[])
                ON CONFLICT (topic) DO UPDATE SET topic_id = EXCLUDED.topic_id, seen_at = now()
                WHERE "{self.schema}".topic_ids.topic_id <> EXCLUDED.topic_id""",
            list(ids),
            list(ids.values()),
        )

    async def unpublished(self, limit: int) -> list[OutboxRecord]:
        """The oldest accepted events not on the accepted stream yet, in the ledger's order."""
        rows = await self.pool.fetch(
            f"""SELECT seq, event_id, trade_id, record_key, record_value, record_headers::text AS headers,
                       source
                FROM "{self.schema}".outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1""",
            limit,
        )
        return [
            OutboxRecord(
                seq=r["seq"],
                event_id=r["event_id"],
                trade_id=r["trade_id"],
                key=bytes(r["record_key"] or b""),
                value=bytes(r["record_value"] or b""),
                headers=r["headers"] or "[]",
                source=r["source"],
            )
            for r in rows
        ]

    async def mark_published(self, seqs: Sequence[int]) -> None:
        """The publisher put these on the accepted stream: keep the position, drop the bytes."""
        await self.pool.execute(
            f"""UPDATE "{self.schema}".outbox
                SET published_at = now(), record_key = NULL, record_value = NULL, record_headers = NULL
                WHERE seq = ANY($1::bigint[])""",
            list(seqs),
        )

    async def outbox_backlog(self) -> int:
        return int(
            await self.pool.fetchval(
                f'SELECT count(*) FROM "{self.schema}".outbox WHERE published_at IS NULL'
            )
        )

    # -- the query API's side --------------------------------------------------------------------------

    async def trade(self, trade_id: uuid.UUID) -> tuple[TradeState, dt.datetime] | None:
        row = await self.pool.fetchrow(
            f'SELECT {self._state_columns}, t.updated_at FROM "{self.schema}".trades t WHERE t.trade_id = $1',
            trade_id,
        )
        if row is None:
            return None
        return fold_state(row["state"], row["deltas"]), row["updated_at"]

    async def search(
        self,
        *,
        visible_to: str,
        party: str | None = None,
        status: str | None = None,
        hs_code: str | None = None,
        placed_from: dt.datetime | None = None,
        placed_to: dt.datetime | None = None,
        after: tuple[dt.datetime, uuid.UUID] | None = None,
        limit: int = 50,
    ) -> list[asyncpg.Record]:
        """Trades ``visible_to`` is party to, newest order first, keyset-paged by (placed_at, trade_id)."""
        rows: list[asyncpg.Record] = await self.pool.fetch(
            f"""SELECT trade_id, order_id, status, buyer, supplier, parties, hs_codes, placed_at, first_at,
                       last_at, version, updated_at
                FROM "{self.schema}".trades
                WHERE parties @> ARRAY[$1::text]
                  AND ($2::text IS NULL OR parties @> ARRAY[$2::text])
                  AND ($3::text IS NULL OR status = $3)
                  AND ($4::text IS NULL OR hs_codes @> ARRAY[$4::text])
                  AND ($5::timestamptz IS NULL OR placed_at >= $5)
                  AND ($6::timestamptz IS NULL OR placed_at < $6)
                  AND ($7::timestamptz IS NULL OR (placed_at, trade_id) < ($7, $8::uuid))
                ORDER BY placed_at DESC, trade_id DESC
                LIMIT $9""",
            visible_to,
            party,
            status,
            hs_code,
            placed_from,
            placed_to,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
        return rows

    async def certificates_numbered(
        self,
        number: str,
        *,
        issuer: str | None = None,
        visible_to: str | None = None,
        trade_id: uuid.UUID | None = None,
        limit: int = 2,
    ) -> list[asyncpg.Record]:
        """Up to ``limit`` certificates with this number (of ``issuer`` when given; of trades
        ``visible_to`` is party to), newest first, each with its status, recorded signature verdict and
        the latest event of its issuer that issued it (``type``, ``payload``)."""
        s = f'"{self.schema}"'
        rows: list[asyncpg.Record] = await self.pool.fetch(
            f"""SELECT c.trade_id, c.certificate_number, c.issuer, c.status, c.signature_verdict,
                       c.signature_key_id, c.signature_reason, e.type, e.payload::text AS payload
                FROM {s}.certificates c
                JOIN {s}.trades t ON t.trade_id = c.trade_id
                LEFT JOIN LATERAL (
                    SELECT ev.type, ev.payload FROM {s}.events ev
                    WHERE ev.trade_id = c.trade_id AND ev.type = ANY($4::text[])
                      AND ev.payload->>'certificate_number' = c.certificate_number
                      AND ev.payload->'issuer'->>'party_id' = c.issuer
                    ORDER BY ev.occurred_at DESC LIMIT 1
                ) e ON true
                WHERE c.certificate_number = $1
                  AND ($2::text IS NULL OR t.parties @> ARRAY[$2::text])
                  AND ($3::uuid IS NULL OR c.trade_id = $3)
                  AND ($6::text IS NULL OR c.issuer = $6)
                ORDER BY c.updated_at DESC
                LIMIT $5""",
            number,
            visible_to,
            trade_id,
            list(CERTIFICATE_EVENT_TYPES),
            limit,
            issuer,
        )
        return rows

    async def count_events(self, trade_ids: Sequence[uuid.UUID] | None = None) -> int:
        if trade_ids is None:
            return int(await self.pool.fetchval(f'SELECT count(*) FROM "{self.schema}".events'))
        return int(
            await self.pool.fetchval(
                f'SELECT count(*) FROM "{self.schema}".events WHERE trade_id = ANY($1::uuid[])',
                list(trade_ids),
            )
        )
