"""PostgreSQL persistence of the webhooks service (asyncpg pool, its own schema, default ``webhooks``).

Tables:

* ``subscriptions`` — one row per subscription: its partner, callback URL, shared secret and, during a
  rotation, the previous one with the end of its overlap (encrypted: the dispatcher needs them in
  clear to sign, so they are sealed with the service's own key, ``secrets_box.py``; the API shows a
  secret only once, when it is made), when the endpoint confirmed it, and filters. At most
  ``max_per_partner`` per partner (checked under a per-partner lock, so concurrent requests cannot
  exceed it).
* ``dead_letters`` — deliveries that failed every attempt: the CloudEvents document as sent, where the
  event was read, how many attempts, the last answer; ``redelivered_at`` once a redelivery succeeded;
  ``redelivering_by``/``_since``: the dispatcher redelivering it now. Deleting a subscription deletes
  its dead letters.
* ``deliveries`` — one row per (subscription, event) a dispatcher took on: ``delivering`` with its owner
  and when it last showed life, then ``delivered`` or ``dead_lettered``. Several dispatchers (replicas,
  or one partition moving between them in a rebalance) claim a delivery before they post it, so an
  event is posted by one of them only; a claim whose owner stopped showing life for ``stale_after_s`` is
  taken over (the owner died mid-delivery: at least once, the receiver deduplicates). Rows older than
  the retention are deleted (``expire_deliveries``). ADR 0012.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import asyncpg

from corridor.core.db import apply_ddl, delete_older
from corridor.webhooks.secrets_box import SecretBox
from corridor.webhooks.subscriptions import Filters, Subscription


class TooManySubscriptions(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} subscriptions per partner; delete one first")
        self.limit = limit


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DeadLetter:
    id: uuid.UUID
    subscription_id: uuid.UUID
    partner_id: str
    event_id: str
    event_type: str
    trade_id: str | None
    topic: str | None
    partition: int | None
    offset: int | None
    document: dict[str, Any]
    attempts: int
    last_status: int | None
    last_error: str | None
    first_attempt_at: dt.datetime
    dead_lettered_at: dt.datetime
    redelivered_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "subscription_id": str(self.subscription_id),
            "event_id": self.event_id,
            "event_type": self.event_type,
            "trade_id": self.trade_id,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "first_attempt_at": self.first_attempt_at.isoformat(),
            "dead_lettered_at": self.dead_lettered_at.isoformat(),
            "redelivered_at": self.redelivered_at.isoformat() if self.redelivered_at else None,
        }


def _ddl(s: str) -> list[str]:
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{s}"',
        f"""CREATE TABLE IF NOT EXISTS "{s}".subscriptions (
                id           uuid PRIMARY KEY,
                partner_id   text NOT NULL,
                callback_url text NOT NULL,
                secret       text NOT NULL,
                event_types  text[] NOT NULL DEFAULT '{{}}',
                trade_id     uuid,
                location     text,
                created_at   timestamptz NOT NULL DEFAULT now()
            )""",
        f'CREATE INDEX IF NOT EXISTS subscriptions_partner ON "{s}".subscriptions (partner_id, created_at)',
        f'ALTER TABLE "{s}".subscriptions ADD COLUMN IF NOT EXISTS previous_secret text',
        f'ALTER TABLE "{s}".subscriptions ADD COLUMN IF NOT EXISTS previous_secret_until timestamptz',
        f'ALTER TABLE "{s}".subscriptions ADD COLUMN IF NOT EXISTS verified_at timestamptz',
        f"""CREATE TABLE IF NOT EXISTS "{s}".dead_letters (
                id               uuid PRIMARY KEY,
                subscription_id  uuid NOT NULL REFERENCES "{s}".subscriptions (id) ON DELETE CASCADE,
                partner_id       text NOT NULL,
                event_id         text NOT NULL,
                event_type       text NOT NULL,
                trade_id         text,
                topic            text,
                "partition"      integer,
                "offset"         bigint,
                document         jsonb NOT NULL,
                attempts         integer NOT NULL,
                last_status      integer,
                last_error       text,
                first_attempt_at timestamptz NOT NULL,
                dead_lettered_at timestamptz NOT NULL DEFAULT now(),
                redelivered_at   timestamptz
            )""",
        f"""CREATE INDEX IF NOT EXISTS dead_letters_pending ON "{s}".dead_letters
                (subscription_id, dead_lettered_at) WHERE redelivered_at IS NULL""",
        f'ALTER TABLE "{s}".dead_letters ADD COLUMN IF NOT EXISTS redelivering_by uuid',
        f'ALTER TABLE "{s}".dead_letters ADD COLUMN IF NOT EXISTS redelivering_since timestamptz',
        f"""CREATE TABLE IF NOT EXISTS "{s}".deliveries (
                subscription_id uuid NOT NULL REFERENCES "{s}".subscriptions (id) ON DELETE CASCADE,
                event_id        text NOT NULL,
                state           text NOT NULL CHECK (state IN ('delivering', 'delivered', 'dead_lettered')),
                owner           uuid NOT NULL,
                claimed_at      timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (subscription_id, event_id)
            )""",
        f'CREATE INDEX IF NOT EXISTS deliveries_claimed_at ON "{s}".deliveries (claimed_at)',
    ]


class DeliveryClaim(Enum):
    OWNED = "owned"  # post it
    BUSY = "busy"  # another dispatcher is posting it now: wait for its end
    DONE = "done"  # delivered or dead-lettered already (or the subscription is gone): skip it


_SUBSCRIPTION = """id, partner_id, callback_url, secret, event_types, trade_id, location, created_at,
                   previous_secret, previous_secret_until, verified_at"""
_DEAD_LETTER = """id, subscription_id, partner_id, event_id, event_type, trade_id, topic, "partition",
                  "offset", document::text AS document, attempts, last_status, last_error, first_attempt_at,
                  dead_lettered_at, redelivered_at"""


def _dead_letter(row: asyncpg.Record) -> DeadLetter:
    values = dict(row)
    values["document"] = json.loads(values["document"])
    return DeadLetter(**values)


class WebhookStore:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox, db_schema: str = "webhooks") -> None:
        if not _IDENTIFIER.match(db_schema):
            raise ValueError(f"invalid PostgreSQL schema name {db_schema!r}")
        self.pool = pool
        self.box = box
        self.schema = db_schema
        self._s = f'"{db_schema}"'

    @classmethod
    async def open(
        cls,
        database_url: str,
        box: SecretBox,
        *,
        db_schema: str = "webhooks",
        min_size: int = 1,
        max_size: int = 8,
    ) -> WebhookStore:
        pool = await asyncpg.create_pool(database_url, min_size=min_size, max_size=max_size)
        store = cls(pool, box, db_schema)
        try:
            await store.migrate()
            await store.reseal()
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        await self.pool.close()

    async def migrate(self) -> None:
        """Create the schema and tables if missing (idempotent; safe from several processes at once)."""
        await apply_ddl(self.pool, self.schema, _ddl(self.schema))

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    def _subscription(self, row: asyncpg.Record) -> Subscription:
        previous = row["previous_secret"]
        return Subscription(
            id=row["id"],
            partner_id=row["partner_id"],
            callback_url=row["callback_url"],
            secret=self.box.open(row["secret"], row["id"])[0],
            filters=Filters(tuple(row["event_types"]), row["trade_id"], row["location"]),
            created_at=row["created_at"],
            previous_secret=self.box.open(previous, row["id"])[0] if previous else None,
            previous_secret_until=row["previous_secret_until"],
            verified_at=row["verified_at"],
        )

    async def reseal(self) -> int:
        """Encrypt under the current key every secret stored in clear (older versions) or under an older
        key (a key rotation); returns how many rows changed."""
        changed = 0
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT id, secret, previous_secret FROM {self._s}.subscriptions FOR UPDATE"
            )
            for row in rows:
                values: list[str | None] = []
                current = True
                for stored in (row["secret"], row["previous_secret"]):
                    if stored is None:
                        values.append(None)
                        continue
                    plain, fresh = self.box.open(stored, row["id"])
                    current = current and fresh
                    values.append(self.box.seal(plain, row["id"]))
                if not current:
                    await conn.execute(
                        f"UPDATE {self._s}.subscriptions SET secret = $2, previous_secret = $3 WHERE id = $1",
                        row["id"],
                        *values,
                    )
                    changed += 1
        return changed

    # -- subscriptions ---------------------------------------------------------------------------------

    async def create_subscription(
        self,
        partner_id: str,
        callback_url: str,
        secret: str,
        filters: Filters,
        *,
        max_per_partner: int,
        subscription_id: uuid.UUID | None = None,
        verified: bool = False,
    ) -> Subscription:
        """Insert a subscription; raises :class:`TooManySubscriptions` at the partner's limit."""
        sid = subscription_id or uuid.uuid4()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{self.schema}:subs:{partner_id}"
            )
            count = await conn.fetchval(
                f"SELECT count(*) FROM {self._s}.subscriptions WHERE partner_id = $1", partner_id
            )
            if count >= max_per_partner:
                raise TooManySubscriptions(max_per_partner)
            row = await conn.fetchrow(
                f"""INSERT INTO {self._s}.subscriptions (id, partner_id, callback_url, secret, event_types,
                                                         trade_id, location, verified_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8 THEN now() END)
                    RETURNING {_SUBSCRIPTION}""",
                sid,
                partner_id,
                callback_url,
                self.box.seal(secret, sid),
                list(filters.event_types),
                filters.trade_id,
                filters.location,
                verified,
            )
        return self._subscription(row)

    async def rotate_secret(
        self, subscription_id: uuid.UUID, partner_id: str, secret: str, overlap_until: dt.datetime
    ) -> Subscription | None:
        """The new secret becomes current; the old one still signs deliveries until ``overlap_until``
        (its ciphertext moves column: the associated data is the same subscription id)."""
        row = await self.pool.fetchrow(
            f"""UPDATE {self._s}.subscriptions
                SET previous_secret = secret, previous_secret_until = $4, secret = $3
                WHERE id = $1 AND partner_id = $2 RETURNING {_SUBSCRIPTION}""",
            subscription_id,
            partner_id,
            self.box.seal(secret, subscription_id),
            overlap_until,
        )
        return self._subscription(row) if row else None

    async def mark_verified(self, subscription_id: uuid.UUID) -> None:
        await self.pool.execute(
            f"UPDATE {self._s}.subscriptions SET verified_at = now() WHERE id = $1 AND verified_at IS NULL",
            subscription_id,
        )

    async def subscriptions(self, partner_id: str) -> list[Subscription]:
        rows = await self.pool.fetch(
            f"""SELECT {_SUBSCRIPTION} FROM {self._s}.subscriptions WHERE partner_id = $1
                ORDER BY created_at, id""",
            partner_id,
        )
        return [self._subscription(r) for r in rows]

    async def subscription(self, subscription_id: uuid.UUID, partner_id: str) -> Subscription | None:
        row = await self.pool.fetchrow(
            f"SELECT {_SUBSCRIPTION} FROM {self._s}.subscriptions WHERE id = $1 AND partner_id = $2",
            subscription_id,
            partner_id,
        )
        return self._subscription(row) if row else None

    async def delete_subscription(self, subscription_id: uuid.UUID, partner_id: str) -> bool:
        status = await self.pool.execute(
            f"DELETE FROM {self._s}.subscriptions WHERE id = $1 AND partner_id = $2",
            subscription_id,
            partner_id,
        )
        return bool(status.endswith(" 1"))

    # -- dead letters ----------------------------------------------------------------------------------

    async def add_dead_letter(
        self,
        subscription: Subscription,
        document: dict[str, Any],
        *,
        origin: tuple[str, int, int] | None,
        attempts: int,
        last_status: int | None,
        last_error: str | None,
        first_attempt_at: dt.datetime,
    ) -> uuid.UUID:
        topic, partition, offset = origin or (None, None, None)
        dead_id = uuid.uuid4()
        await self.pool.execute(
            f"""INSERT INTO {self._s}.dead_letters (id, subscription_id, partner_id, event_id, event_type,
                    trade_id, topic, "partition", "offset", document, attempts, last_status, last_error,
                    first_attempt_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14)""",
            dead_id,
            subscription.id,
            subscription.partner_id,
            str(document.get("id", "")),
            str(document.get("type", "")),
            document.get("partitionkey"),
            topic,
            partition,
            offset,
            json.dumps(document, ensure_ascii=False),
            attempts,
            last_status,
            last_error,
            first_attempt_at,
        )
        return dead_id

    async def dead_letters(
        self,
        subscription_id: uuid.UUID,
        *,
        pending_only: bool = False,
        ids: Sequence[uuid.UUID] | None = None,
    ) -> list[DeadLetter]:
        """A subscription's dead letters in the order they were dead-lettered."""
        rows = await self.pool.fetch(
            f"""SELECT {_DEAD_LETTER} FROM {self._s}.dead_letters
                WHERE subscription_id = $1 AND (NOT $2 OR redelivered_at IS NULL)
                  AND ($3::uuid[] IS NULL OR id = ANY($3::uuid[]))
                ORDER BY dead_lettered_at, "partition", "offset", id""",
            subscription_id,
            pending_only,
            list(ids) if ids is not None else None,
        )
        return [_dead_letter(r) for r in rows]

    # -- delivery claims -------------------------------------------------------------------------------

    async def claim_delivery(
        self, subscription_id: uuid.UUID, event_id: str, owner: uuid.UUID, stale_after_s: float
    ) -> DeliveryClaim:
        """Take on posting ``event_id`` to the subscription (see the module's docstring)."""
        try:
            row = await self.pool.fetchrow(
                f"""INSERT INTO {self._s}.deliveries AS d (subscription_id, event_id, state, owner)
                    VALUES ($1, $2, 'delivering', $3)
                    ON CONFLICT (subscription_id, event_id) DO UPDATE SET owner = $3, claimed_at = now()
                    WHERE d.state = 'delivering'
                      AND (d.owner = $3 OR d.claimed_at < now() - make_interval(secs => $4))
                    RETURNING state""",
                subscription_id,
                event_id,
                owner,
                stale_after_s,
            )
        except asyncpg.ForeignKeyViolationError:
            return DeliveryClaim.DONE  # the subscription was deleted meanwhile
        if row is not None:
            return DeliveryClaim.OWNED
        state = await self.pool.fetchval(
            f"SELECT state FROM {self._s}.deliveries WHERE subscription_id = $1 AND event_id = $2",
            subscription_id,
            event_id,
        )
        return DeliveryClaim.BUSY if state == "delivering" else DeliveryClaim.DONE

    async def touch_delivery(self, subscription_id: uuid.UUID, event_id: str, owner: uuid.UUID) -> bool:
        """Show the claim is alive (before each attempt); False when another dispatcher took it over."""
        status = await self.pool.execute(
            f"""UPDATE {self._s}.deliveries SET claimed_at = now()
                WHERE subscription_id = $1 AND event_id = $2 AND owner = $3 AND state = 'delivering'""",
            subscription_id,
            event_id,
            owner,
        )
        return bool(status.endswith(" 1"))

    async def finish_delivery(
        self, subscription_id: uuid.UUID, event_id: str, owner: uuid.UUID, *, delivered: bool
    ) -> None:
        await self.pool.execute(
            f"""UPDATE {self._s}.deliveries SET state = $4, claimed_at = now()
                WHERE subscription_id = $1 AND event_id = $2 AND owner = $3""",
            subscription_id,
            event_id,
            owner,
            "delivered" if delivered else "dead_lettered",
        )

    async def expire_deliveries(self, older_than_s: float, batch: int = 5_000) -> int:
        """Delete finished delivery rows older than ``older_than_s`` (never one being delivered)."""
        return await delete_older(
            self.pool,
            f"{self._s}.deliveries",
            "state <> 'delivering' AND claimed_at < now() - make_interval(secs => $1)",
            older_than_s,
            batch,
        )

    async def claim_dead_letters(
        self, ids: Sequence[uuid.UUID], owner: uuid.UUID, stale_after_s: float
    ) -> set[uuid.UUID]:
        """Of these dead letters, those this dispatcher may redeliver now: not redelivered yet, and not
        being redelivered by another (whose claim is younger than ``stale_after_s``)."""
        rows = await self.pool.fetch(
            f"""UPDATE {self._s}.dead_letters SET redelivering_by = $2, redelivering_since = now()
                WHERE id = ANY($1::uuid[]) AND redelivered_at IS NULL
                  AND (redelivering_by IS NULL OR redelivering_by = $2
                       OR redelivering_since < now() - make_interval(secs => $3))
                RETURNING id""",
            list(ids),
            owner,
            stale_after_s,
        )
        return {row["id"] for row in rows}

    async def mark_redelivered(self, dead_letter_id: uuid.UUID, attempts: int) -> None:
        await self.pool.execute(
            f"""UPDATE {self._s}.dead_letters SET redelivered_at = now(), attempts = attempts + $2,
                    redelivering_by = NULL
                WHERE id = $1""",
            dead_letter_id,
            attempts,
        )

    async def redelivery_failed(
        self, dead_letter_id: uuid.UUID, attempts: int, last_status: int | None, last_error: str | None
    ) -> None:
        await self.pool.execute(
            f"""UPDATE {self._s}.dead_letters
                SET attempts = attempts + $2, last_status = $3, last_error = $4, dead_lettered_at = now(),
                    redelivering_by = NULL
                WHERE id = $1""",
            dead_letter_id,
            attempts,
            last_status,
            last_error,
        )
