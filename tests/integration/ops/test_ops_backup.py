"""`corridor backup create|restore` on the real stack: the project's schemas of the stack's PostgreSQL,
restored into a fresh embedded server, come back with their rows and the registry's schema ids (so a
record written before the backup stays decodable), and a restore over existing schemas is refused."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from click.testing import CliRunner

from corridor.cli.ops import backup
from corridor.core.credentials import REGISTRY_OPERATOR, credentials_dir, read_secret
from corridor.core.settings import get_settings
from corridor.ops.backup import BackupError, archive_schemas, create_backup, restore_backup
from corridor.stack.postgres import EmbeddedPostgres
from tests.integration.relay.relay_helpers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture()
def fresh_server() -> Iterator[str]:
    """A second, empty PostgreSQL (the embedded one of the stack, on its own port and data dir)."""
    state = Path(tempfile.mkdtemp(prefix="corridor-restore-"))
    state.chmod(0o755)  # as root the server runs as an unprivileged user that must reach its data dir
    server = EmbeddedPostgres(state / "pg", free_port())
    try:
        yield server.ensure_running()
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


async def test_backup_restores_rows_and_registry_ids(
    database_url: str, schema_registry_url: str, fresh_server: str, tmp_path: Path
) -> None:
    probe = f"backup_probe_{uuid.uuid4().hex[:8]}"
    subject = f"{probe}-value"
    schema = {"type": "record", "name": probe, "fields": [{"name": "trade_id", "type": "string"}]}
    # registering takes the registry's write role: the stack's operator login (ADR 23)
    operator = read_secret(credentials_dir(get_settings().state_dir) / REGISTRY_OPERATOR)
    user, _, password = operator.partition(":")
    async with httpx.AsyncClient(base_url=schema_registry_url, auth=(user, password)) as client:
        answer = await client.post(f"/subjects/{subject}/versions", json={"schema": json.dumps(schema)})
        answer.raise_for_status()
        schema_id = answer.json()["id"]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{probe}"')
        await conn.execute(f'CREATE TABLE "{probe}".trades (trade_id text PRIMARY KEY, state text NOT NULL)')
        await conn.executemany(
            f'INSERT INTO "{probe}".trades VALUES ($1, $2)', [("T-1", "ORDERED"), ("T-2", "SHIPPED")]
        )
        registry_rows = await conn.fetch("SELECT id, schema_text FROM registry.schemas ORDER BY id")
        versions = await conn.fetch(
            "SELECT subject, version, schema_id FROM registry.subject_versions ORDER BY 1, 2"
        )

        archive = tmp_path / "corridor.dump"
        result = await create_backup(database_url, archive)
        assert {probe, "registry"} <= set(result.schemas) and result.bytes > 0
        assert set(archive_schemas(archive)) == set(result.schemas)

        restored = await restore_backup(archive, fresh_server)
        assert set(restored) == set(result.schemas)
        target = await asyncpg.connect(fresh_server)
        try:
            rows = await target.fetch(f'SELECT trade_id, state FROM "{probe}".trades ORDER BY 1')
            assert [tuple(r) for r in rows] == [("T-1", "ORDERED"), ("T-2", "SHIPPED")]
            # The registry's ids are the same, so records naming them stay decodable, and new schemas
            # get ids after the restored ones (the id sequence came along).
            assert (
                await target.fetch("SELECT id, schema_text FROM registry.schemas ORDER BY id")
                == registry_rows
            )
            got = await target.fetch(
                "SELECT subject, version, schema_id FROM registry.subject_versions ORDER BY 1, 2"
            )
            assert got == versions
            assert (subject, 1, schema_id) in [tuple(v) for v in got]
            next_id = await target.fetchval(
                "SELECT nextval(pg_get_serial_sequence('registry.schemas', 'id'))"
            )
            assert next_id > max(r["id"] for r in registry_rows)
        finally:
            await target.close()

        with pytest.raises(BackupError, match="already has schema"):
            await restore_backup(archive, fresh_server)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{probe}" CASCADE')
        await conn.close()


def test_the_cli_backs_up_the_stacks_database_and_refuses_to_restore_over_it(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corridor.core.settings import get_settings

    monkeypatch.setenv("CORRIDOR_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        archive = tmp_path / "corridor.dump"
        made = CliRunner().invoke(backup, ["create", str(archive)])
        assert made.exit_code == 0, made.output
        assert "registry" in made.output and archive.stat().st_size > 0
        refused = CliRunner().invoke(backup, ["restore", str(archive), "--database-url", database_url])
        assert refused.exit_code == 1
        assert "already has schema" in refused.output and "restore into a fresh database" in refused.output
        missing = CliRunner().invoke(
            backup, ["restore", str(tmp_path / "none.dump"), "--database-url", database_url]
        )
        assert missing.exit_code == 1 and "no backup archive" in missing.output
    finally:
        get_settings.cache_clear()
