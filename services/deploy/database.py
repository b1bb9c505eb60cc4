"""PostgreSQL access of the backbone: one login role per service, what it owns, what it may read.

The one source of truth for database privileges (docs/adr/0025-postgresql-roles.md). The local stack
(``corridor stack up``, services/stack/api.py) and the compose file's ``db-init`` job
(``python -m corridor.deploy.database``) run :func:`provision` as the superuser; each service then logs in
as its own role with its own password.

Who may do what:

* A service **owns** its schema (``gateway``, ``ledger``, ``registry``, ``webhooks``): the schema and
  every table in it belong to its role, so its ``CREATE TABLE IF NOT EXISTS`` at startup keeps working
  and tables it adds later are its own. No other service role has any privilege there (the webhook
  secrets, the ledger, the registry's schemas are each one role's alone).
* ``partners`` (``partners.partners``: API key hashes; ``partners.authority_keys``: the keys that make
  certificates verify) belongs to the operator (the superuser): only ``corridor partners`` and
  ``corridor certificates`` write them. Services get ``SELECT`` on exactly the tables they read: the
  gateway and the ledger both (API keys, keyring), the webhooks service the partners (API keys), the
  relay the authority keys (signature verdicts).
* The monitor (the dashboard) reads the ledger: ``SELECT`` on its tables, present and future (default
  privileges of the ledger's role), and its sessions are read-only (``default_transaction_read_only``).
* No role but the superuser has ``CREATE`` on the database, ``public`` or another role's schema, or
  ``pg_execute_server_program`` (``COPY … TO PROGRAM``) / ``pg_read_server_files``.

Invariant: provisioning is idempotent and converges: run again, it resets passwords to the given ones,
hands a service's schema and its tables back to the service's role (a schema made by an older version, or
restored by ``corridor ops backup restore``, belongs to the superuser) and re-grants what is listed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "DATABASE_ROLES",
    "PARTNERS_SCHEMA",
    "DatabaseRole",
    "by_service",
    "cluster_statements",
    "compose_credentials",
    "provision",
    "provision_statements",
]

PARTNERS_SCHEMA = "partners"
PARTNERS_TABLE = "partners"
AUTHORITY_KEYS_TABLE = "authority_keys"


@dataclass(frozen=True)
class DatabaseRole:
    """The login role of one service."""

    service: str
    role: str
    #: schemas the role owns (it creates and alters its tables there)
    owns: tuple[str, ...] = ()
    #: (schema, tables) it may SELECT; no tables = every table of the schema, present and future
    reads: tuple[tuple[str, tuple[str, ...]], ...] = ()
    read_only: bool = False

    def password_env(self) -> str:
        """The variable the compose ``db-init`` job reads this role's password from."""
        return f"CORRIDOR_DB_{self.service.upper()}_PASSWORD"


_KEYS = (PARTNERS_SCHEMA, (PARTNERS_TABLE, AUTHORITY_KEYS_TABLE))

#: Every service that uses PostgreSQL (the relay only for signature verdicts).
DATABASE_ROLES: tuple[DatabaseRole, ...] = (
    DatabaseRole("registry", "corridor_registry", owns=("registry",)),
    DatabaseRole("ledger", "corridor_ledger", owns=("ledger",), reads=(_KEYS,)),
    DatabaseRole("gateway", "corridor_gateway", owns=("gateway",), reads=(_KEYS,)),
    DatabaseRole(
        "webhooks", "corridor_webhooks", owns=("webhooks",), reads=((PARTNERS_SCHEMA, (PARTNERS_TABLE,)),)
    ),
    DatabaseRole("relay", "corridor_relay", reads=((PARTNERS_SCHEMA, (AUTHORITY_KEYS_TABLE,)),)),
    DatabaseRole("monitor", "corridor_monitor", reads=(("ledger", ()),), read_only=True),
)


def by_service(name: str) -> DatabaseRole | None:
    return next((r for r in DATABASE_ROLES if r.service == name), None)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _owner_of(schema: str) -> str | None:
    """The role owning ``schema`` in the plan (None: the superuser's)."""
    return next((r.role for r in DATABASE_ROLES if schema in r.owns), None)


def provision_statements(database: str, passwords: Mapping[str, str]) -> list[str]:
    """The SQL (as the superuser, in ``database``) that makes the database match the plan.

    ``passwords`` maps a service name to its role's password. The shared tables of ``partners`` must
    exist already (:func:`provision` creates them first)."""
    db = _ident(database)
    out = [
        # Nobody but the roles below (and the superuser) may connect, create schemas or temporary tables.
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
        "REVOKE ALL ON SCHEMA public FROM PUBLIC",
        f"CREATE SCHEMA IF NOT EXISTS {_ident(PARTNERS_SCHEMA)}",
    ]
    for role in DATABASE_ROLES:
        name = _ident(role.role)
        out += [
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(role.role)}) "
            f"THEN CREATE ROLE {name}; END IF; END $$",
            f"ALTER ROLE {name} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
            f"NOINHERIT PASSWORD {_literal(passwords[role.service])}",
            f"GRANT CONNECT ON DATABASE {db} TO {name}",
            f"ALTER ROLE {name} IN DATABASE {db} SET default_transaction_read_only = "
            + ("on" if role.read_only else "off"),
        ]
        for schema in role.owns:
            out += [
                f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)} AUTHORIZATION {name}",
                f"ALTER SCHEMA {_ident(schema)} OWNER TO {name}",
                _hand_tables_to(schema, role.role),
            ]
    for role in DATABASE_ROLES:
        name = _ident(role.role)
        for schema, tables in role.reads:
            out.append(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {name}")
            if tables:
                out += [f"GRANT SELECT ON {_ident(schema)}.{_ident(t)} TO {name}" for t in tables]
            else:
                out.append(f"GRANT SELECT ON ALL TABLES IN SCHEMA {_ident(schema)} TO {name}")
                owner = _owner_of(schema)
                if owner is not None:  # tables the owner makes later are readable too
                    out.append(
                        f"ALTER DEFAULT PRIVILEGES FOR ROLE {_ident(owner)} IN SCHEMA {_ident(schema)} "
                        f"GRANT SELECT ON TABLES TO {name}"
                    )
    return out


#: The database owner of the cluster (deploy/k8s, CloudNativePG ``owner``): the operator's login there.
CLUSTER_OPERATOR = "corridor"


def partners_ddl() -> list[str]:
    """The DDL of the shared ``partners`` tables exactly as ``partners.ensure_schema`` and
    ``signatures.ensure_schema`` run it (recorded from them, whitespace folded), for SQL that cannot run
    Python (the cluster's bootstrap)."""
    from corridor.core import partners, signatures

    recorded: list[str] = []

    class _Recorder:
        async def __aenter__(self) -> _Recorder:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        def acquire(self) -> _Recorder:
            return self

        def transaction(self) -> _Recorder:
            return self

        async def fetchrow(self, *args: object) -> None:
            return None  # "the schema does not exist yet": every statement is recorded

        async def execute(self, statement: str, *args: object) -> None:
            if not args:  # the advisory lock takes an argument; the DDL none
                recorded.append(" ".join(statement.split()))

    async def record() -> None:
        await partners.ensure_schema(_Recorder(), schema=PARTNERS_SCHEMA)
        await signatures.ensure_schema(_Recorder(), schema=PARTNERS_SCHEMA)

    asyncio.run(record())
    return list(dict.fromkeys(recorded))  # CREATE SCHEMA once


def cluster_statements(database: str = "corridor", operator: str = CLUSTER_OPERATOR) -> list[str]:
    """The cluster's bootstrap SQL (deploy/k8s/base/postgres/cluster.yaml, ``postInitApplicationSQL``,
    run once as the superuser in the new database): the plan of :func:`provision_statements` without
    passwords or ``LOGIN`` (CloudNativePG's managed roles set both from the Secrets
    ``corridor-pg-<service>``), with ``partners`` belonging to ``operator`` (the database owner, the
    operator's login: superuser access stays disabled), who may also act as each service role (backup,
    restore, `trace`). Held to the YAML by tests/unit/deploy/test_k8s_manifests.py."""
    plan = provision_statements(database, {r.service: "" for r in DATABASE_ROLES})
    out = [plan[0], plan[1]]
    out += [s.replace("CREATE SCHEMA IF NOT EXISTS", "CREATE SCHEMA") for s in partners_ddl()[:1]]
    out += partners_ddl()[1:]
    out.append(f"ALTER SCHEMA {_ident(PARTNERS_SCHEMA)} OWNER TO {_ident(operator)}")
    out += [
        f"ALTER TABLE {_ident(PARTNERS_SCHEMA)}.{_ident(t)} OWNER TO {_ident(operator)}"
        for t in (PARTNERS_TABLE, AUTHORITY_KEYS_TABLE)
    ]
    for statement in plan[3:]:
        if statement.startswith("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles"):
            role = statement.split("CREATE ROLE ", 1)[1].split(";", 1)[0]
            out.append(f"CREATE ROLE {role}")
        elif " WITH LOGIN " in statement:
            out.append(
                statement.split(" WITH LOGIN ")[0]
                + " WITH "
                + statement.split(" WITH LOGIN ")[1].split(" PASSWORD ")[0]
            )
        elif statement.startswith("DO $$ DECLARE"):
            continue  # handing existing tables over: a new database has none
        else:
            out.append(statement)
    out += [f"GRANT {_ident(r.role)} TO {_ident(operator)}" for r in DATABASE_ROLES]
    return out


def _hand_tables_to(schema: str, role: str) -> str:
    """Give every table, view, free-standing sequence and function of ``schema`` to ``role`` (a column's
    sequence follows its table)."""
    return f"""DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
        WHERE c.relnamespace = {_literal(schema)}::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relowner <> {_literal(role)}::regrole
          AND NOT (c.relkind = 'S' AND EXISTS (
              SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND d.deptype IN ('a', 'i')))
    LOOP EXECUTE format('ALTER TABLE %s OWNER TO %I', r.name, {_literal(role)}); END LOOP;
    -- functions too (the ledger's append-only trigger function): its owner replaces them on start
    FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p
        WHERE p.pronamespace = {_literal(schema)}::regnamespace AND p.proowner <> {_literal(role)}::regrole
    LOOP EXECUTE format('ALTER FUNCTION %s OWNER TO %I', r.name, {_literal(role)}); END LOOP; END $$"""


async def provision(superuser_url: str, passwords: Mapping[str, str]) -> None:
    """Create the shared ``partners`` tables, then the roles, schemas and grants, as the superuser."""
    import asyncpg

    from corridor.core import partners, signatures

    pool = await asyncpg.create_pool(superuser_url, min_size=1, max_size=1, timeout=10)
    try:
        await partners.ensure_schema(pool, schema=PARTNERS_SCHEMA)
        await signatures.ensure_schema(pool, schema=PARTNERS_SCHEMA)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('corridor:roles', 0))")
            database = await conn.fetchval("SELECT current_database()")
            for statement in provision_statements(database, passwords):
                await conn.execute(statement)
    finally:
        await pool.close()


COMPOSE_HOST = "postgres"  # the PostgreSQL container of deploy/compose.yaml


def compose_credentials(directory: Path) -> list[Path]:
    """Make (once) the passwords of deploy/compose.yaml's PostgreSQL and write its env files, 0600:
    ``postgres.env`` (the superuser's ``POSTGRES_PASSWORD``), ``db-init.env`` (the superuser's URL and
    every role's password) and ``<service>.env`` (``PGPASSWORD`` of that service's role only, and its
    Kafka login: corridor.deploy.compose_kafka, which also writes the brokers' and the principals job's
    files and the partner listener's certificates). Existing passwords are kept; returns the env files."""
    from corridor.core import credentials

    def password(name: str) -> str:
        return credentials.ensure_secret(directory / f"postgres-{name}.password", credentials.new_password)

    operator = password("operator")
    roles = {role.service: password(role.service) for role in DATABASE_ROLES}
    superuser = f"postgresql://postgres:{quote(operator, safe='')}@{COMPOSE_HOST}:5432/corridor"
    files = {
        "postgres.env": [f"POSTGRES_PASSWORD={operator}"],
        "db-init.env": [
            f"CORRIDOR_DATABASE_URL={superuser}",
            *(f"{role.password_env()}={roles[role.service]}" for role in DATABASE_ROLES),
        ],
        **{f"{role.service}.env": [f"PGPASSWORD={roles[role.service]}"] for role in DATABASE_ROLES},
    }
    # Kafka as on the laptop (ADR 24, 28): each service's own SCRAM login, the brokers' and the job's files
    from corridor.deploy.compose_kafka import kafka_env_files

    for name, lines in kafka_env_files(directory).items():
        files[name] = [*files.get(name, []), *lines]
    written = []
    for name, lines in files.items():
        credentials.write_secret(directory / name, "\n".join(lines) + "\n")
        written.append(directory / name)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m corridor.deploy.database``: provision from the environment (the compose ``db-init``
    job): ``CORRIDOR_DATABASE_URL`` (the superuser) and one ``CORRIDOR_DB_<SERVICE>_PASSWORD`` per role.
    ``… compose-credentials DIR``: make the compose file's passwords and env files in DIR."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["compose-credentials"] and len(args) == 2:
        for path in compose_credentials(Path(args[1])):
            print(path)
        return 0
    if args:
        print("usage: python -m corridor.deploy.database [compose-credentials DIR]", file=sys.stderr)
        return 2
    url = os.environ.get("CORRIDOR_DATABASE_URL")
    missing = [r.password_env() for r in DATABASE_ROLES if not os.environ.get(r.password_env())]
    if not url or missing:
        print(
            "corridor.deploy.database: set CORRIDOR_DATABASE_URL (the superuser) and "
            + ", ".join(missing or [r.password_env() for r in DATABASE_ROLES]),
            file=sys.stderr,
        )
        return 2
    asyncio.run(provision(url, {r.service: os.environ[r.password_env()] for r in DATABASE_ROLES}))
    print(f"provisioned roles {', '.join(r.role for r in DATABASE_ROLES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
