"""PostgreSQL persistence for the registry (asyncpg pool, its own PostgreSQL schema, default ``registry``).

Tables:

* ``schemas`` — one row per distinct schema (by canonical fingerprint); ``id`` is the global schema id
  clients embed in every message, so rows are never rewritten and ids never reused.
* ``subject_versions`` — (subject, version) → schema id, with a soft-delete flag.
* ``config`` — compatibility level per subject, plus exactly one global row (``subject IS NULL``).

Migrations are idempotent DDL run at startup under an advisory lock, so several registry processes
can start against one database at once. Writes to a subject happen in a transaction holding a
per-subject advisory lock: two concurrent registrations in one subject are serialised (and cannot
both take the same version), while registrations in different subjects proceed in parallel.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg

from corridor.core.compatibility import DEFAULT_LEVEL
from corridor.core.db import run_ddl
from corridor.registry.ports import LookupFilter, RegistryStore, StoredSchema, SubjectVersion
from corridor.registry.schemas import Reference

__all__ = ["Executor", "LookupFilter", "Store", "StoredSchema", "SubjectVersion"]

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_VERSION_COLUMNS = (
    "v.subject, v.version, v.deleted, s.id, s.schema_text, s.schema_type, s.refs, s.fingerprint"
)


# Either a pool (each call borrows a connection) or a connection inside a transaction.
Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection


class Store:
    """All SQL of the registry (``ports.RegistryStore`` in PostgreSQL). Methods taking ``conn`` run on
    it (inside a caller's transaction); without it, on the pool."""

    def __init__(self, pool: asyncpg.Pool, db_schema: str) -> None:
        self.pool = pool
        self.db_schema = db_schema
        s = f'"{db_schema}"'
        self._schemas = f"{s}.schemas"
        self._versions = f"{s}.subject_versions"
        self._config = f"{s}.config"
        self._modes = f"{s}.modes"

    # -- lifecycle -----------------------------------------------------------------------------

    @classmethod
    async def open(
        cls, database_url: str, *, db_schema: str = "registry", min_size: int = 1, max_size: int = 10
    ) -> Store:
        if not _IDENTIFIER.match(db_schema):
            raise ValueError(f"invalid PostgreSQL schema name for the registry: {db_schema!r}")
        pool = await asyncpg.create_pool(
            database_url,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            server_settings={"application_name": "corridor-registry"},
        )
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
        s = f'"{self.db_schema}"'
        statements = [
            f"CREATE SCHEMA IF NOT EXISTS {s}",
            f"""CREATE TABLE IF NOT EXISTS {self._schemas} (
                    id          serial PRIMARY KEY,
                    fingerprint text NOT NULL UNIQUE,
                    schema_text text NOT NULL,
                    schema_type text NOT NULL DEFAULT 'AVRO',
                    refs        jsonb NOT NULL DEFAULT '[]'::jsonb,
                    created_at  timestamptz NOT NULL DEFAULT now()
                )""",
            # referencedby / delete checks search refs by containment
            f"CREATE INDEX IF NOT EXISTS schemas_refs_idx ON {self._schemas} USING gin (refs jsonb_path_ops)",
            f"""CREATE TABLE IF NOT EXISTS {self._versions} (
                    subject    text NOT NULL,
                    version    integer NOT NULL CHECK (version >= 1),
                    schema_id  integer NOT NULL REFERENCES {self._schemas} (id),
                    deleted    boolean NOT NULL DEFAULT false,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (subject, version)
                )""",
            f"CREATE INDEX IF NOT EXISTS subject_versions_schema_id_idx ON {self._versions} (schema_id)",
            f"""CREATE TABLE IF NOT EXISTS {self._config} (
                    subject       text,
                    compatibility text NOT NULL,
                    updated_at    timestamptz NOT NULL DEFAULT now()
                )""",
            # NULL subject = the global row; two partial indexes keep one row per subject and one global
            # row without needing PostgreSQL 15's NULLS NOT DISTINCT.
            f"CREATE UNIQUE INDEX IF NOT EXISTS config_subject_uq ON {self._config} (subject) "
            "WHERE subject IS NOT NULL",
            f"CREATE UNIQUE INDEX IF NOT EXISTS config_global_uq ON {self._config} ((subject IS NULL)) "
            "WHERE subject IS NULL",
            f"INSERT INTO {self._config} (subject, compatibility) SELECT NULL, '{DEFAULT_LEVEL.value}' "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self._config} WHERE subject IS NULL)",
            # Modes (READWRITE, READONLY, READONLY_OVERRIDE): NULL subject = the global mode; no row =
            # READWRITE.
            f"""CREATE TABLE IF NOT EXISTS {self._modes} (
                    subject    text,
                    mode       text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )""",
            f"CREATE UNIQUE INDEX IF NOT EXISTS modes_subject_uq ON {self._modes} (subject) "
            "WHERE subject IS NOT NULL",
            f"CREATE UNIQUE INDEX IF NOT EXISTS modes_global_uq ON {self._modes} ((subject IS NULL)) "
            "WHERE subject IS NULL",
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            # CREATE ... IF NOT EXISTS still races between sessions; the lock makes startup of several
            # processes safe.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", self._lock_key("migrate")
            )
            await run_ddl(conn, self.db_schema, statements)

    def _lock_key(self, what: str) -> str:
        return f"corridor-registry:{self.db_schema}:{what}"

    @asynccontextmanager
    async def subject_transaction(self, subject: str) -> AsyncIterator[asyncpg.Connection]:
        """A transaction holding the subject's advisory lock until commit/rollback."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", self._lock_key(f"subject:{subject}")
            )
            yield conn

    # -- schemas -------------------------------------------------------------------------------

    async def schema_by_id(self, schema_id: int, conn: Executor | None = None) -> StoredSchema | None:
        """The schema with this id, if some subject version (deleted or not) still points at it.

        A schema whose versions were all permanently deleted is not served (as in Confluent), but its
        row stays so that registering it again gives back the same id.
        """
        row = await (conn or self.pool).fetchrow(
            f"""SELECT s.id, s.schema_text, s.schema_type, s.refs FROM {self._schemas} s
                WHERE s.id = $1 AND EXISTS (SELECT 1 FROM {self._versions} v WHERE v.schema_id = s.id)""",
            schema_id,
        )
        return _stored_schema(row) if row else None

    async def versions_for_id(
        self, schema_id: int, include_deleted: bool, subject: str | None = None
    ) -> list[tuple[str, int]]:
        rows = await self.pool.fetch(
            f"""SELECT subject, version FROM {self._versions}
                WHERE schema_id = $1 AND ($2 OR NOT deleted) AND ($3::text IS NULL OR subject = $3)
                ORDER BY subject, version""",
            schema_id,
            include_deleted,
            subject,
        )
        return [(row["subject"], row["version"]) for row in rows]

    async def schema_id_for_fingerprint(self, fingerprint: str, conn: Executor | None = None) -> int | None:
        value = await (conn or self.pool).fetchval(
            f"SELECT id FROM {self._schemas} WHERE fingerprint = $1", fingerprint
        )
        return int(value) if value is not None else None

    async def ensure_schema(
        self,
        conn: asyncpg.Connection,
        fingerprint: str,
        text: str,
        schema_type: str,
        refs: Sequence[Reference],
    ) -> int:
        """The global id of this schema, inserting it if it is new. Safe under concurrency.

        Looking up first keeps ids dense (an INSERT that loses ON CONFLICT still burns a sequence
        value); the INSERT ... ON CONFLICT then settles the race between two sessions registering the
        same new schema under different subjects.
        """
        existing = await self.schema_id_for_fingerprint(fingerprint, conn)
        if existing is not None:
            return existing
        inserted = await conn.fetchval(
            f"""INSERT INTO {self._schemas} (fingerprint, schema_text, schema_type, refs)
                VALUES ($1, $2, $3, $4) ON CONFLICT (fingerprint) DO NOTHING RETURNING id""",
            fingerprint,
            text,
            schema_type,
            [ref.as_dict() for ref in refs],
        )
        if inserted is not None:
            return int(inserted)
        winner = await self.schema_id_for_fingerprint(fingerprint, conn)
        if winner is None:  # pragma: no cover - the conflicting row was committed, so it is visible
            raise RuntimeError("schema row vanished during registration")
        return winner

    # -- subjects and versions -----------------------------------------------------------------

    async def list_subjects(self, prefix: str | None, lookup: LookupFilter) -> list[str]:
        rows = await self.pool.fetch(
            f"""SELECT subject FROM {self._versions}
                WHERE ($1::text IS NULL OR left(subject, length($1)) = $1)
                GROUP BY subject HAVING bool_or({lookup.sql("deleted")})
                ORDER BY subject""",
            prefix,
        )
        return [row["subject"] for row in rows]

    async def subject_versions(self, subject: str, conn: Executor | None = None) -> list[SubjectVersion]:
        """Every version of the subject, soft-deleted ones included, oldest first."""
        rows = await (conn or self.pool).fetch(
            f"""SELECT {_VERSION_COLUMNS} FROM {self._versions} v JOIN {self._schemas} s ON s.id = v.schema_id
                WHERE v.subject = $1 ORDER BY v.version""",
            subject,
        )
        return [_subject_version(row) for row in rows]

    async def get_version(
        self,
        subject: str,
        version: int,
        include_deleted: bool,
        conn: Executor | None = None,
        *,
        lock: bool = False,
    ) -> SubjectVersion | None:
        """One version; -1 means the latest non-deleted one (also when deleted ones are asked for).

        ``lock`` takes a FOR SHARE row lock until the caller's transaction ends: a registration uses it
        on the versions it references, so a concurrent delete of those versions waits for it and then
        sees the new reference (and refuses) instead of leaving it dangling.
        """
        executor = conn or self.pool
        query = (
            f"SELECT {_VERSION_COLUMNS} FROM {self._versions} v JOIN {self._schemas} s ON s.id = v.schema_id"
        )
        locking = " FOR SHARE OF v" if lock else ""
        if version == -1:
            row = await executor.fetchrow(
                f"{query} WHERE v.subject = $1 AND NOT v.deleted ORDER BY v.version DESC LIMIT 1{locking}",
                subject,
            )
        else:
            row = await executor.fetchrow(
                f"{query} WHERE v.subject = $1 AND v.version = $2 AND ($3 OR NOT v.deleted){locking}",
                subject,
                version,
                include_deleted,
            )
        return _subject_version(row) if row else None

    async def subject_exists(self, subject: str, include_deleted: bool, conn: Executor | None = None) -> bool:
        return bool(
            await (conn or self.pool).fetchval(
                f"SELECT EXISTS (SELECT 1 FROM {self._versions} WHERE subject = $1 AND ($2 OR NOT deleted))",
                subject,
                include_deleted,
            )
        )

    async def referenced_by(
        self, subject: str, version: int, include_deleted: bool, conn: Executor | None = None
    ) -> list[int]:
        """Ids of registered schemas whose references include (subject, version)."""
        rows = await (conn or self.pool).fetch(
            f"""SELECT DISTINCT s.id FROM {self._schemas} s JOIN {self._versions} v ON v.schema_id = s.id
                WHERE s.refs @> jsonb_build_array(jsonb_build_object('subject', $1::text, 'version', $2::int))
                  AND ($3 OR NOT v.deleted)
                ORDER BY s.id""",
            subject,
            version,
            include_deleted,
        )
        return [row["id"] for row in rows]

    async def referencing_subjects(
        self, subject: str, version: int, include_deleted: bool, conn: Executor | None = None
    ) -> set[str]:
        """Subjects having a version whose schema references (subject, version)."""
        rows = await (conn or self.pool).fetch(
            f"""SELECT DISTINCT v.subject FROM {self._schemas} s JOIN {self._versions} v ON v.schema_id = s.id
                WHERE s.refs @> jsonb_build_array(jsonb_build_object('subject', $1::text, 'version', $2::int))
                  AND ($3 OR NOT v.deleted)""",
            subject,
            version,
            include_deleted,
        )
        return {row["subject"] for row in rows}

    async def insert_version(
        self, conn: asyncpg.Connection, subject: str, version: int, schema_id: int
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self._versions} (subject, version, schema_id) VALUES ($1, $2, $3)",
            subject,
            version,
            schema_id,
        )

    async def mark_deleted(self, conn: asyncpg.Connection, subject: str, versions: Sequence[int]) -> None:
        await conn.execute(
            f"UPDATE {self._versions} SET deleted = true WHERE subject = $1 AND version = ANY($2::int[])",
            subject,
            list(versions),
        )

    async def purge_versions(self, conn: asyncpg.Connection, subject: str, versions: Sequence[int]) -> None:
        await conn.execute(
            f"DELETE FROM {self._versions} WHERE subject = $1 AND version = ANY($2::int[])",
            subject,
            list(versions),
        )

    # -- compatibility config ------------------------------------------------------------------

    async def get_compatibility(self, subject: str | None, conn: Executor | None = None) -> str | None:
        """The level stored for ``subject`` (None = the global row), or None if there is none."""
        executor = conn or self.pool
        if subject is None:
            value = await executor.fetchval(f"SELECT compatibility FROM {self._config} WHERE subject IS NULL")
        else:
            value = await executor.fetchval(
                f"SELECT compatibility FROM {self._config} WHERE subject = $1", subject
            )
        return str(value) if value is not None else None

    async def effective_compatibility(self, subject: str, conn: Executor | None = None) -> str:
        """The subject's level, else the global one, else the built-in default."""
        value = await (conn or self.pool).fetchval(
            f"""SELECT compatibility FROM {self._config} WHERE subject = $1 OR subject IS NULL
                ORDER BY subject IS NULL LIMIT 1""",
            subject,
        )
        return str(value) if value is not None else DEFAULT_LEVEL.value

    async def set_compatibility(self, subject: str | None, level: str) -> None:
        if subject is None:
            await self.pool.execute(
                f"""INSERT INTO {self._config} (subject, compatibility) VALUES (NULL, $1)
                    ON CONFLICT ((subject IS NULL)) WHERE subject IS NULL
                    DO UPDATE SET compatibility = EXCLUDED.compatibility, updated_at = now()""",
                level,
            )
        else:
            await self.pool.execute(
                f"""INSERT INTO {self._config} (subject, compatibility) VALUES ($1, $2)
                    ON CONFLICT (subject) WHERE subject IS NOT NULL
                    DO UPDATE SET compatibility = EXCLUDED.compatibility, updated_at = now()""",
                subject,
                level,
            )

    async def delete_subject_compatibility(self, subject: str, conn: Executor | None = None) -> str | None:
        """Remove the subject's own level; returns what it was (None if it had none)."""
        value = await (conn or self.pool).fetchval(
            f"DELETE FROM {self._config} WHERE subject = $1 RETURNING compatibility", subject
        )
        return str(value) if value is not None else None

    # -- modes ---------------------------------------------------------------------------------

    async def get_mode(self, subject: str | None, conn: Executor | None = None) -> str | None:
        """The mode stored for ``subject`` (None = the global row), or None if there is none."""
        executor = conn or self.pool
        if subject is None:
            value = await executor.fetchval(f"SELECT mode FROM {self._modes} WHERE subject IS NULL")
        else:
            value = await executor.fetchval(f"SELECT mode FROM {self._modes} WHERE subject = $1", subject)
        return str(value) if value is not None else None

    async def set_mode(self, subject: str | None, mode: str) -> None:
        if subject is None:
            await self.pool.execute(
                f"""INSERT INTO {self._modes} (subject, mode) VALUES (NULL, $1)
                    ON CONFLICT ((subject IS NULL)) WHERE subject IS NULL
                    DO UPDATE SET mode = EXCLUDED.mode, updated_at = now()""",
                mode,
            )
        else:
            await self.pool.execute(
                f"""INSERT INTO {self._modes} (subject, mode) VALUES ($1, $2)
                    ON CONFLICT (subject) WHERE subject IS NOT NULL
                    DO UPDATE SET mode = EXCLUDED.mode, updated_at = now()""",
                subject,
                mode,
            )

    async def delete_mode(self, subject: str) -> str | None:
        value = await self.pool.fetchval(
            f"DELETE FROM {self._modes} WHERE subject = $1 RETURNING mode", subject
        )
        return str(value) if value is not None else None


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, so refs never go through hand-written JSON strings
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def _stored_schema(row: Any) -> StoredSchema:
    refs = tuple(
        Reference(name=r["name"], subject=r["subject"], version=int(r["version"])) for r in row["refs"]
    )
    return StoredSchema(
        id=row["id"], text=row["schema_text"], schema_type=row["schema_type"], references=refs
    )


def _subject_version(row: Any) -> SubjectVersion:
    return SubjectVersion(
        subject=row["subject"],
        version=row["version"],
        deleted=row["deleted"],
        schema=_stored_schema(row),
        fingerprint=row["fingerprint"],
    )


# mypy checks here that the adapter satisfies its port
_store: type[RegistryStore] = Store
