"""``python -m services.registry --host 127.0.0.1 --port 8081``: serve the registry with uvicorn.

The database comes from ``CORRIDOR_DATABASE_URL`` (the stack launcher sets it); without it the process
exits at once with a message saying so, rather than failing later on the first request.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from services.registry.app import configure_logging, create_app
from services.registry.settings import DEFAULT_HOST, DEFAULT_PORT, RegistrySettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.registry",
        description="Confluent Schema Registry-compatible REST service stored in PostgreSQL "
        "(database from CORRIDOR_DATABASE_URL).",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--log-level",
        default=None,
        help="DEBUG logs one line per request (default: CORRIDOR_LOG_LEVEL or INFO)",
    )
    args = parser.parse_args(argv)

    try:
        settings = RegistrySettings()
    except ValidationError as exc:
        print(f"registry: invalid CORRIDOR_* settings:\n{exc}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print(
            "registry: CORRIDOR_DATABASE_URL is not set; point it at the PostgreSQL database that stores "
            "the schemas, e.g. CORRIDOR_DATABASE_URL=postgresql://postgres@127.0.0.1:55432/corridor",
            file=sys.stderr,
        )
        return 2

    level = (args.log_level or settings.log_level).upper()
    if level not in logging.getLevelNamesMapping():
        print(f"registry: unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)", file=sys.stderr)
        return 2
    configure_logging(level, settings.log_format)
    app = create_app(
        settings.database_url,
        db_schema=settings.registry_db_schema,
        pool_min_size=settings.registry_pool_min_size,
        pool_max_size=max(settings.registry_pool_max_size, settings.registry_pool_min_size),
        max_request_bytes=settings.registry_max_request_bytes,
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,  # keep configure_logging's JSON handler
        access_log=False,  # the app logs each request itself (at DEBUG)
        log_level=level.lower(),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run()
    # uvicorn leaves started=False when the lifespan (database) failed
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
