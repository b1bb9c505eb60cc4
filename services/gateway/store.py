"""PostgreSQL state of the gateway (its own schema, default ``gateway``).

* ``trade_facts`` — the accepted events that change a trade's trust facts (``trust.FACT_TYPES``:
  OrderPlaced, PartyAdmitted/Withdrawn, ShipmentBooked, certificate issue, amendment, presentation),
  in acknowledgement order; ``trust_states`` folds them into each trade's ``TrustState``.
* ``idempotency`` — one row per (partner, idempotency key): the SHA-256 of the event as encoded (so the
  same event sent with other JSON spacing or number formatting is the same), ``state`` ``pending``
  while a request owns the key and produces, ``done`` with the broker's answer once acknowledged.

A request *claims* its keys first (``INSERT … ON CONFLICT DO NOTHING``: of two concurrent requests with
one key exactly one gets the row), produces only what it claimed, and completes the rows after the
broker acknowledged — in the same transaction that records the trade's new trust facts. A failed produce
deletes its claim so the client can retry. A claim left ``pending`` by a crashed process becomes
claimable again after ``stale_after_s``.

``GatewayStore`` is the PostgreSQL adapter of ``ports.IdempotencyStore`` and ``PartnerTables`` that of
``ports.PartnerDirectory`` (the in-memory fakes: ``fakes``; ADR 0036).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from corridor.core.db import apply_ddl, delete_older
from corridor.core.domain import trust
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.domain.trust import TrustState
from corridor.core.partners import Partner, authenticate, get_partners
from corridor.gateway.ports import (
    Claim,
    ClaimState,
    Completion,
    IdempotencyStore,
    PartnerDirectory,
    claim_until_settled,
)

__all__ = ["Claim", "ClaimState", "Completion", "GatewayStore", "PartnerTables"]

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class GatewayStore:
    """``ports.IdempotencyStore`` in PostgreSQL."""

    def __init__(
        self, pool: asyncpg.Pool, db_schema: str = "gateway", *, stale_after_s: float = 60.0
    ) -> None:
        if not _IDENTIFIER.match(db_schema):
            raise ValueError(f"invalid PostgreSQL schema name for the gateway: {db_schema!r}")
        self.pool = pool
        self.db_schema = db_schema
        self.stale_after_s = stale_after_s
        self._facts = f'"{db_schema}".trade_facts'
        self._idem = f'"{db_schema}".idempotency'

    async def ensure_schema(self) -> None:
        statements = [
            f'CREATE SCHEMA IF NOT EXISTS "{self.db_schema}"',
            # the accepted events that change a trade's trust facts, in acknowledgement order
            f"""CREATE TABLE IF NOT EXISTS {self._facts} (
                    seq        bigserial,
                    trade_id   uuid NOT NULL,
                    event_id   uuid NOT NULL,
                    event_type text NOT NULL,
                    payload    jsonb NOT NULL,
                    stored_at  timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (trade_id, event_id)
                )""",
            f"""CREATE TABLE IF NOT EXISTS {self._idem} (
                    partner_id   text NOT NULL,
                    key          text NOT NULL,
                    body_hash    bytea NOT NULL,
                    state        text NOT NULL CHECK (state IN ('pending', 'done')),
                    claim_token  uuid NOT NULL,
                    claimed_at   timestamptz NOT NULL DEFAULT now(),
                    result       jsonb,
                    completed_at timestamptz,
                    PRIMARY KEY (partner_id, key)
                )""",
            # what expire_idempotency scans (ADR 0005: rows are kept for a retention window, then deleted)
            f"""CREATE INDEX IF NOT EXISTS idempotency_claimed_at ON {self._idem} (claimed_at)""",
        ]
        await apply_ddl(self.pool, self.db_schema, statements)

    async def expire_idempotency(self, older_than_s: float, batch: int = 5_000) -> int:
        """Delete the idempotency rows claimed more than ``older_than_s`` ago (done, and pending ones whose
        owner never came back), a batch at a time so no statement holds many locks; how many went. A
        retry of such an event is produced again, and the ledger records it as the duplicate it is."""
        return await delete_older(
            self.pool, self._idem, "claimed_at < now() - make_interval(secs => $1)", older_than_s, batch
        )

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    # -- trade parties ----------------------------------------------------------------------------------

    async def trust_states(self, trade_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, TrustState]:
        """The trust facts of these trades, folded from their accepted fact events (absent: unknown)."""
        ids = list(set(trade_ids))
        rows = await self.pool.fetch(
            f"""SELECT trade_id, event_type, payload::text AS payload FROM {self._facts}
                WHERE trade_id = ANY($1::uuid[]) ORDER BY seq""",
            ids,
        )
        out: dict[uuid.UUID, TrustState] = {}
        for row in rows:
            event = EVENT_TYPES[row["event_type"]].model_validate_json(row["payload"])
            out[row["trade_id"]] = trust.admit(out.get(row["trade_id"]), event)
        return out

    # -- idempotency --------------------------------------------------------------------------------------

    async def acknowledged(self, partner_id: str, event_id: str) -> dict[str, Any] | None:
        """The result stored when Kafka acknowledged ``event_id`` for this partner (None: never)."""
        row = await self.pool.fetchrow(
            f"""SELECT result::text AS result FROM {self._idem}
                WHERE partner_id = $1 AND state = 'done' AND (key = $2 OR result->>'event_id' = $2)
                LIMIT 1""",
            partner_id,
            event_id,
        )
        if row is None or row["result"] is None:
            return None
        found: dict[str, Any] = json.loads(row["result"])
        return found

    async def claim(
        self, partner_id: str, keys: Sequence[str], hashes: Sequence[bytes], token: uuid.UUID
    ) -> dict[str, Claim]:
        """Claim each key for this request (``token``), or say why not.

        Rows are inserted in key order, so concurrent batches sharing keys lock them in the same order:
        the first takes all it can, the other waits for its statement instead of deadlocking with it.
        """
        wanted = dict(zip(keys, hashes, strict=True))
        inserted = await self.pool.fetch(
            f"""INSERT INTO {self._idem} (partner_id, key, body_hash, state, claim_token)
                SELECT $1, k, h, 'pending', $4 FROM unnest($2::text[], $3::bytea[]) AS t(k, h) ORDER BY k
                ON CONFLICT (partner_id, key) DO NOTHING
                RETURNING key""",
            partner_id,
            list(keys),
            list(hashes),
            token,
        )
        claims = {row["key"]: Claim(row["key"], ClaimState.OWNED) for row in inserted}
        rest = [k for k in keys if k not in claims]
        if rest:
            claims.update(await self._existing(partner_id, rest, wanted, token))
        for key in rest:
            # deleted between the insert and the select (its owner failed): claim it again next round
            claims.setdefault(key, Claim(key, ClaimState.IN_PROGRESS))
        return claims

    async def _existing(
        self, partner_id: str, keys: list[str], wanted: dict[str, bytes], token: uuid.UUID
    ) -> dict[str, Claim]:
        rows = await self.pool.fetch(
            f"""SELECT key, body_hash, state, result,
                       claimed_at < now() - make_interval(secs => $3) AS stale
                FROM {self._idem} WHERE partner_id = $1 AND key = ANY($2::text[])""",
            partner_id,
            keys,
            self.stale_after_s,
        )
        claims: dict[str, Claim] = {}
        stale: list[str] = []
        for row in rows:
            key = row["key"]
            if bytes(row["body_hash"]) != wanted[key]:
                claims[key] = Claim(key, ClaimState.CONFLICT)
            elif row["state"] == "done":
                claims[key] = Claim(key, ClaimState.DONE, json.loads(row["result"]))
            elif row["stale"]:
                stale.append(key)
            else:
                claims[key] = Claim(key, ClaimState.IN_PROGRESS)
        if stale:
            # A pending claim nobody completed (its process died): take it over.
            taken = await self.pool.fetch(
                f"""UPDATE {self._idem} SET claim_token = $3, claimed_at = now()
                    WHERE partner_id = $1 AND key = ANY($2::text[]) AND state = 'pending'
                      AND claimed_at < now() - make_interval(secs => $4)
                    RETURNING key""",
                partner_id,
                stale,
                token,
                self.stale_after_s,
            )
            for row in taken:
                claims[row["key"]] = Claim(row["key"], ClaimState.OWNED)
            for key in stale:
                claims.setdefault(key, Claim(key, ClaimState.IN_PROGRESS))
        return claims

    async def wait_for_others(
        self,
        partner_id: str,
        keys: Sequence[str],
        hashes: Sequence[bytes],
        token: uuid.UUID,
        timeout_s: float,
        poll_s: float = 0.025,
    ) -> dict[str, Claim]:
        """Claim again until no key is in progress elsewhere (or ``timeout_s`` passed)."""
        return await claim_until_settled(self, partner_id, keys, hashes, token, timeout_s, poll_s)

    async def complete(
        self, partner_id: str, token: uuid.UUID, done: Sequence[Completion], failed: Sequence[str]
    ) -> None:
        """Store the results of acknowledged events with their trades' new parties; free failed claims.

        One statement (data-modifying CTEs are atomic together) when nothing failed: the common case
        costs a single round trip instead of BEGIN, UPDATE, INSERT, COMMIT."""
        if not done:
            if failed:
                await self.release(partner_id, token, failed)
            return
        facts = [c for c in done if c.fact is not None]
        args = (
            partner_id,
            token,
            [c.key for c in done],
            [json.dumps(c.result) for c in done],
            [c.trade_id for c in facts],
            [c.event_id for c in facts],
            [c.event_type for c in facts],
            [c.fact for c in facts],
        )
        statement = f"""
            WITH done AS (
                UPDATE {self._idem} AS i
                SET state = 'done', result = d.result::jsonb, completed_at = now()
                FROM unnest($3::text[], $4::text[]) AS d(key, result)
                WHERE i.partner_id = $1 AND i.key = d.key AND i.claim_token = $2
                RETURNING 1
            ), joined AS (
                INSERT INTO {self._facts} (trade_id, event_id, event_type, payload)
                SELECT t, e, y, p::jsonb
                FROM unnest($5::uuid[], $6::uuid[], $7::text[], $8::text[]) AS f(t, e, y, p)
                ON CONFLICT DO NOTHING
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM joined)"""
        if not failed:
            await self.pool.fetchrow(statement, *args)
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.fetchrow(statement, *args)
            await self.release(partner_id, token, failed, conn)

    async def release(
        self,
        partner_id: str,
        token: uuid.UUID,
        keys: Sequence[str],
        conn: asyncpg.Connection | asyncpg.Pool | None = None,
    ) -> None:
        """Give up claims this request holds without having produced (or whose produce failed)."""
        if not keys:
            return
        await (conn or self.pool).execute(
            f"""DELETE FROM {self._idem}
                WHERE partner_id = $1 AND claim_token = $2 AND key = ANY($3::text[]) AND state = 'pending'""",
            partner_id,
            token,
            list(keys),
        )


class PartnerTables:
    """``ports.PartnerDirectory`` over the partner store's tables (``corridor.core.partners``)."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema

    async def get_partners(self, partner_ids: Iterable[str]) -> dict[str, Partner]:
        return await get_partners(self.pool, partner_ids, schema=self.schema)

    async def authenticate(self, api_key: str) -> Partner | None:
        return await authenticate(self.pool, api_key, schema=self.schema)


# mypy checks here that the adapters satisfy their ports
_store: type[IdempotencyStore] = GatewayStore
_directory: type[PartnerDirectory] = PartnerTables
