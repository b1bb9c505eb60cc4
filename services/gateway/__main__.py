"""``python -m services.gateway --host 127.0.0.1 --port 8080``: serve the partner gateway with uvicorn.

Kafka, the registry and PostgreSQL come from ``CORRIDOR_BOOTSTRAP_SERVERS``,
``CORRIDOR_SCHEMA_REGISTRY_URL`` and ``CORRIDOR_DATABASE_URL``. Without a database URL the process exits
at once saying so; Kafka and the registry may come up later (events are answered 503 until then).
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from services.gateway.app import configure_logging, create_app
from services.gateway.settings import DEFAULT_HOST, DEFAULT_PORT, GatewaySettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.gateway",
        description="Corridor partner gateway: CloudEvents over HTTP into the trade topics "
        "(CORRIDOR_BOOTSTRAP_SERVERS, CORRIDOR_SCHEMA_REGISTRY_URL, CORRIDOR_DATABASE_URL).",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--log-level",
        default=None,
        help="DEBUG also logs health checks (default: CORRIDOR_LOG_LEVEL or INFO)",
    )
    args = parser.parse_args(argv)

    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        print(f"gateway: invalid CORRIDOR_* settings:\n{exc}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print(
            "gateway: CORRIDOR_DATABASE_URL is not set; point it at the PostgreSQL database that holds the "
            "partners, e.g. CORRIDOR_DATABASE_URL=postgresql://postgres@127.0.0.1:55432/corridor",
            file=sys.stderr,
        )
        return 2
    level = (args.log_level or settings.log_level).upper()
    if level not in logging.getLevelNamesMapping():
        print(f"gateway: unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)", file=sys.stderr)
        return 2
    configure_logging(level, settings.log_format)
    # aiokafka logs every failed reconnect; the gateway reports Kafka outages itself (503, /readyz,
    # produce_* lines), so keep its chatter, and httpx's, to warnings and above.
    quiet = max(logging.getLevelNamesMapping()[level], logging.WARNING)
    logging.getLogger("aiokafka").setLevel(quiet)
    logging.getLogger("httpx").setLevel(quiet)  # one line per schema registry call otherwise
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,  # the app logs each request itself
        log_level=level.lower(),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
