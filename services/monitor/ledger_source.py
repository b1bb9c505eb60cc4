"""What the monitor reads from the ledger's PostgreSQL tables (read-only, schema ``ledger`` by default).

* trades, shipments and certificates counted by lifecycle status (``trades.status`` is the trade's order
  status; the projections carry their own);
* events stored = the sum of ``trades.version`` (each applied event bumps its trade's version once, and
  this avoids counting the append-only events table every tick);
* ``events.ingested_at`` of given event ids (primary-key lookups) for the end-to-end latency.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import asyncpg

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class LedgerUnavailable(Exception):
    """The ledger's tables cannot be read (no database, or no ledger has created them yet)."""


class LedgerSource:
    def __init__(self, database_url: str, db_schema: str = "ledger") -> None:
        if not _IDENTIFIER.match(db_schema):
            raise ValueError(f"invalid PostgreSQL schema name {db_schema!r}")
        self.database_url = database_url
        self.schema = db_schema
        self._pool: asyncpg.Pool | None = None

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            try:
                self._pool = await asyncpg.create_pool(
                    self.database_url, min_size=1, max_size=3, timeout=5, command_timeout=10
                )
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                raise LedgerUnavailable(f"database unreachable: {type(exc).__name__}: {exc}") from exc
        return self._pool

    async def _fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        pool = await self._get_pool()
        try:
            return list(await pool.fetch(query, *args))
        except asyncpg.UndefinedTableError as exc:
            raise LedgerUnavailable(
                f'no ledger tables in schema "{self.schema}" (has a ledger run against this database?)'
            ) from exc
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            raise LedgerUnavailable(f"database unreachable: {type(exc).__name__}: {exc}") from exc

    async def states(self) -> dict[str, Any]:
        """``{"trades": {status: n}, "shipments": {…}, "certificates": {…}, "events": n}``."""
        s = f'"{self.schema}"'
        rows = await self._fetch(
            f"""SELECT 'trades' AS kind, status, count(*) AS n, sum(version) AS events FROM {s}.trades
                GROUP BY status
                UNION ALL
                SELECT 'shipments', status, count(*), NULL FROM {s}.shipments GROUP BY status
                UNION ALL
                SELECT 'certificates', status, count(*), NULL FROM {s}.certificates GROUP BY status"""
        )
        out: dict[str, Any] = {"trades": {}, "shipments": {}, "certificates": {}, "events": 0}
        # the ledger's decisions (ADR 27): events not accepted (yet), and accepted ones not on the
        # accepted stream yet (a ledger from before receipts has neither table)
        decisions: dict[str, int] = {"pending": 0, "rejected": 0, "unpublished": 0}
        try:
            for row in await self._fetch(
                f"""SELECT status, count(*) AS n FROM {s}.receipts GROUP BY status
                    UNION ALL
                    SELECT 'unpublished', count(*) FROM {s}.outbox WHERE published_at IS NULL"""
            ):
                decisions[row["status"]] = int(row["n"])
        except LedgerUnavailable:
            pass
        out["decisions"] = decisions
        for row in rows:
            out[row["kind"]][row["status"]] = int(row["n"])
            if row["events"] is not None:
                out["events"] += int(row["events"])
        for kind in ("trades", "shipments", "certificates"):
            out[kind] = dict(sorted(out[kind].items(), key=lambda item: (-item[1], item[0])))
        return out

    async def ingested(self, event_ids: list[str]) -> list[tuple[str, int]]:
        """(event id, ``ingested_at`` in epoch ms) of those of ``event_ids`` the ledger stored."""
        ids = []
        for event_id in event_ids:
            try:
                ids.append(uuid.UUID(event_id))
            except ValueError:
                continue
        if not ids:
            return []
        rows = await self._fetch(
            f"""SELECT event_id, (extract(epoch FROM ingested_at) * 1000)::bigint AS ms
                FROM "{self.schema}".events WHERE event_id = ANY($1::uuid[])""",
            ids,
        )
        return [(str(row["event_id"]), int(row["ms"])) for row in rows]
