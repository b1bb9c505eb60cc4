"""PostgreSQL of the local stack: password logins only, one role per service, each confined to its own
schema (docs/adr/0025-postgresql-roles.md). Real server: the session stack's embedded PostgreSQL, whose
``up`` provisioned the roles.

Each service role first runs its own service's startup DDL (the code path of the real service: its
tables in its own schema, the ``CREATE SCHEMA`` it may not run skipped), then the hostile part: reading
another service's secrets, writing another service's tables, rewriting the operator's partner and
authority-key tables, creating schemas, running programs with ``COPY … TO PROGRAM``. Nothing is left
behind but those services' own (empty or unchanged) tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

from corridor.core import credentials
from corridor.deploy.database import DATABASE_ROLES, by_service, provision
from corridor.gateway.store import GatewayStore
from corridor.ledger.store import _ddl as ledger_ddl
from corridor.stack.api import StackStatus
from corridor.stack.postgres import role_url
from corridor.webhooks.store import _ddl as webhooks_ddl

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REFUSED = (asyncpg.InsufficientPrivilegeError, asyncpg.ReadOnlySQLTransactionError)


def _url(stack: StackStatus, service: str, password: str | None = None) -> str:
    role = by_service(service)
    assert role is not None
    if password is None:
        password = credentials.read_secret(
            credentials.credentials_dir(stack.state_dir) / f"postgres-{service}.password"
        )
    assert stack.postgres.port is not None
    return role_url("127.0.0.1", stack.postgres.port, role.role, password)


@pytest.fixture(scope="module")
async def roles(kafka_stack: StackStatus) -> AsyncIterator[dict[str, asyncpg.Connection]]:
    """One connection per service role, after each ran its own startup DDL as that role."""
    assert kafka_stack.postgres.embedded, "these tests need the stack's embedded PostgreSQL"
    assert kafka_stack.database_url
    # what `up` did at the session's start, again: tables an operator's test made meanwhile in a
    # service's schema go back to the service's role
    directory = credentials.credentials_dir(kafka_stack.state_dir)
    passwords = {
        r.service: credentials.read_secret(directory / f"postgres-{r.service}.password")
        for r in DATABASE_ROLES
    }
    await provision(kafka_stack.database_url, passwords)
    conns = {r.service: await asyncpg.connect(_url(kafka_stack, r.service)) for r in DATABASE_ROLES}
    try:
        gateway_pool = await asyncpg.create_pool(_url(kafka_stack, "gateway"), min_size=1, max_size=1)
        try:
            await GatewayStore(gateway_pool).ensure_schema()
        finally:
            await gateway_pool.close()
        for service, ddl in (("ledger", ledger_ddl("ledger")), ("webhooks", webhooks_ddl("webhooks"))):
            async with conns[service].transaction():
                for statement in ddl[1:]:  # [0] is CREATE SCHEMA: the stack made it, owned by the role
                    await conns[service].execute(statement)
        yield conns
    finally:
        for conn in conns.values():
            await conn.close()


async def test_no_login_without_the_password(kafka_stack: StackStatus, database_url: str) -> None:
    port = kafka_stack.postgres.port
    for user in ("postgres", "corridor_gateway", "corridor_monitor"):
        with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
            await asyncpg.connect(f"postgresql://{user}@127.0.0.1:{port}/corridor", timeout=10)
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(f"postgresql://{user}:wrong@127.0.0.1:{port}/corridor", timeout=10)
    # A service's password is not another's.
    directory = credentials.credentials_dir(kafka_stack.state_dir)
    stolen = credentials.read_secret(directory / "postgres-gateway.password")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(_url(kafka_stack, "webhooks", password=stolen), timeout=10)
    # The server's own rules: SCRAM-SHA-256 for every line, nothing trusted.
    operator = await asyncpg.connect(database_url)
    try:
        methods = {
            r["auth_method"] for r in await operator.fetch("SELECT auth_method FROM pg_hba_file_rules")
        }
        assert methods == {"scram-sha-256"}, methods
        stored = await operator.fetch(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1::text[])",
            ["postgres", *(r.role for r in DATABASE_ROLES)],
        )
        assert len(stored) == len(DATABASE_ROLES) + 1
        assert all(r["rolpassword"].startswith("SCRAM-SHA-256$") for r in stored)
    finally:
        await operator.close()
    # The credentials lie in owner-only files.
    for name in ["postgres-operator.password", *(f"postgres-{r.service}.password" for r in DATABASE_ROLES)]:
        assert (directory / name).stat().st_mode & 0o077 == 0, name
    assert urlsplit(kafka_stack.to_dict()["database_url"]).password == "***"


async def test_each_role_owns_its_schema_and_its_future_tables(roles: dict[str, asyncpg.Connection]) -> None:
    for role in DATABASE_ROLES:
        conn = roles[role.service]
        for schema in role.owns:
            owner = await conn.fetchval(
                "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema
            )
            assert owner == role.role
            # a table the service adds later is its own, and the dashboard may read the ledger's
            await conn.execute(f'CREATE TABLE "{schema}".security_probe (n int)')
            try:
                await conn.execute(f'INSERT INTO "{schema}".security_probe VALUES (1)')
                if schema == "ledger":
                    assert await roles["monitor"].fetchval("SELECT n FROM ledger.security_probe") == 1
            finally:
                await conn.execute(f'DROP TABLE "{schema}".security_probe')


@pytest.mark.parametrize(
    ("service", "statement"),
    [
        # the webhook secrets and dead letters are the webhooks service's alone
        ("gateway", "SELECT secret FROM webhooks.subscriptions"),
        ("ledger", "SELECT * FROM webhooks.subscriptions"),
        ("monitor", "SELECT * FROM webhooks.subscriptions"),
        ("relay", "SELECT * FROM webhooks.dead_letters"),
        # the ledger's history is the ledger's to write
        ("gateway", "DELETE FROM ledger.events"),
        ("webhooks", "UPDATE ledger.events SET event_type = event_type"),
        ("registry", "SELECT * FROM ledger.events"),
        # the gateway's idempotency records and trust facts
        ("ledger", "DELETE FROM gateway.idempotency"),
        ("webhooks", "SELECT * FROM gateway.trade_facts"),
        # the schema registry's store (deleting a schema would break every reader)
        ("gateway", "DELETE FROM registry.subject_versions"),
        ("ledger", "UPDATE registry.config SET compatibility = 'NONE'"),
        # the operator's tables: a partner's key hash, the authority keys that make certificates verify
        ("gateway", "UPDATE partners.partners SET key_hash = '\\x00'"),
        (
            "ledger",
            "INSERT INTO partners.authority_keys (partner_id, key_id, public_key) VALUES ('x', 'x', '\\x00')",
        ),
        ("webhooks", "SELECT * FROM partners.authority_keys"),
        ("relay", "SELECT * FROM partners.partners"),
        ("registry", "SELECT * FROM partners.partners"),
        # no role makes schemas or tables outside its own schema
        ("gateway", "CREATE SCHEMA gateway_extra"),
        ("ledger", "CREATE TABLE public.ledger_extra (n int)"),
        ("webhooks", "CREATE TABLE partners.webhooks_extra (n int)"),
        ("ledger", "CREATE TEMPORARY TABLE ledger_temp (n int)"),
        # the dashboard reads, nothing else
        ("monitor", "DELETE FROM ledger.events"),
        ("monitor", "CREATE TABLE ledger.monitor_extra (n int)"),
        ("monitor", "UPDATE partners.partners SET status = 'disabled'"),
    ],
)
async def test_a_role_is_refused_outside_its_own_schema(
    roles: dict[str, asyncpg.Connection], service: str, statement: str
) -> None:
    conn = roles[service]
    with pytest.raises(REFUSED):
        async with conn.transaction():
            await conn.execute(statement)


async def test_what_each_service_reads_of_the_shared_tables(roles: dict[str, asyncpg.Connection]) -> None:
    """The grants the services need (the positive side of the table above)."""
    for service in ("gateway", "ledger", "webhooks"):
        await roles[service].fetch("SELECT partner_id, key_hash FROM partners.partners LIMIT 1")
    for service in ("gateway", "ledger", "relay"):
        await roles[service].fetch("SELECT key_id, public_key FROM partners.authority_keys LIMIT 1")
    await roles["monitor"].fetch("SELECT * FROM ledger.events LIMIT 1")


@pytest.mark.parametrize("service", [r.service for r in DATABASE_ROLES])
async def test_no_service_role_runs_programs_or_reads_server_files(
    roles: dict[str, asyncpg.Connection], service: str
) -> None:
    conn = roles[service]
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="COPY to or from an external program"):
        await conn.execute("COPY (SELECT 1) TO PROGRAM 'id'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("COPY (SELECT 1) TO '/tmp/corridor-security-probe'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.fetchval("SELECT pg_read_file('/etc/passwd')")
    attributes = await conn.fetchrow(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )
    assert not any(attributes.values())
