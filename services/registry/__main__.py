"""``python -m corridor.registry --host 127.0.0.1 --port 8081``: serve the registry with uvicorn.

The database comes from ``CORRIDOR_DATABASE_URL`` (the stack launcher sets it), the users from
``CORRIDOR_REGISTRY_USERS_FILE`` (default: the stack's ``credentials/registry-users.json``); without
either the process exits at once with a message saying so, rather than failing later on a request.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI

from corridor.core.runner import run_service
from corridor.registry.app import configure_logging, create_app
from corridor.registry.settings import DEFAULT_HOST, DEFAULT_PORT, RegistrySettings


def _app(settings: RegistrySettings) -> FastAPI:
    assert settings.database_url  # run_service refuses to start without one
    users_file = settings.effective_users_file()
    if not users_file.is_file():
        print(
            f"registry: no users file at {users_file}; `corridor stack up` creates one, or set "
            "CORRIDOR_REGISTRY_USERS_FILE (the registry has no anonymous access)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return create_app(
        settings.database_url,
        users_file=settings.effective_users_file(),
        db_schema=settings.registry_db_schema,
        pool_min_size=settings.registry_pool_min_size,
        pool_max_size=max(settings.registry_pool_max_size, settings.registry_pool_min_size),
        max_request_bytes=settings.registry_max_request_bytes,
    )


def main(argv: list[str] | None = None) -> int:
    return run_service(
        "registry",
        argv,
        description="Confluent Schema Registry-compatible REST service stored in PostgreSQL "
        "(database from CORRIDOR_DATABASE_URL).",
        host=DEFAULT_HOST,
        port=DEFAULT_PORT,
        settings=RegistrySettings,
        create_app=_app,
        configure_logging=configure_logging,
        log_level_help="DEBUG logs one line per request (default: CORRIDOR_LOG_LEVEL or INFO)",
        database="the PostgreSQL database that stores the schemas",
    )


if __name__ == "__main__":
    sys.exit(main())
