"""The embedded PostgreSQL wants a password from every login (docs/adr/0025-postgresql-roles.md): a data
directory made by an older version with ``initdb --auth=trust`` is converted at its next start, and a
password file that no longer matches the server is named in the error, not a traceback."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from corridor.core import credentials
from corridor.stack.postgres import SUPERUSER, EmbeddedPostgres, PostgresError
from tests.integration.relay.relay_helpers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture()
def old_server() -> Iterator[EmbeddedPostgres]:
    """A stack's data directory as an older version made it: trust authentication, no password."""
    state = Path(tempfile.mkdtemp(prefix="corridor-pg-auth-"))
    state.chmod(0o755)  # as root the server runs as an unprivileged user that must reach its data dir
    server = EmbeddedPostgres(state / "postgres" / "data", free_port())
    server.data_dir.mkdir(parents=True)
    server._hand_to_system_user(server.data_dir)
    server._pg("initdb", ["-D", str(server.data_dir), "--auth=trust", "--locale=C", "-U", SUPERUSER])
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


async def test_a_trusting_data_directory_is_converted(old_server: EmbeddedPostgres) -> None:
    assert old_server._trusting()
    url = old_server.ensure_running()
    assert not old_server._trusting()
    assert old_server.password_file.stat().st_mode & 0o077 == 0
    anonymous = f"postgresql://{SUPERUSER}@127.0.0.1:{old_server.port}/corridor"
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(anonymous, timeout=10)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        assert await conn.fetchval("SELECT current_user") == SUPERUSER
        rules = await conn.fetch("SELECT type, auth_method FROM pg_hba_file_rules")
        assert {r["auth_method"] for r in rules} == {"scram-sha-256"}
        assert {r["type"] for r in rules} == {"local", "host"}
    finally:
        await conn.close()
    # the second start finds nothing to convert and the same password
    old_server.stop()
    assert old_server.ensure_running() == url


def test_a_password_file_that_does_not_match_is_named(old_server: EmbeddedPostgres) -> None:
    old_server.ensure_running()
    credentials.write_secret(old_server.password_file, "not-the-servers-password")
    with pytest.raises(PostgresError, match="is not the server's") as refused:
        old_server.ensure_running()
    assert str(old_server.password_file) in str(refused.value)
