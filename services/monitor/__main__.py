"""``python -m services.monitor --host 127.0.0.1 --port 8083``: serve the operations dashboard.

Kafka, the registry and PostgreSQL come from ``CORRIDOR_BOOTSTRAP_SERVERS``,
``CORRIDOR_SCHEMA_REGISTRY_URL`` and ``CORRIDOR_DATABASE_URL`` (default: the local stack's embedded
server); flags override the ``CORRIDOR_MONITOR_*`` settings.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from services.monitor.app import configure_logging, create_app
from services.monitor.settings import DEFAULT_HOST, DEFAULT_PORT, MonitorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.monitor",
        description="Operations dashboard of the backbone: throughput, consumer lag, dead letters, "
        "end-to-end latency, trade states and a live stream of events.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--refresh", type=float, help="seconds between samples (default 2)")
    parser.add_argument("--ledger-schema", help="PostgreSQL schema of the ledger's tables (default ledger)")
    parser.add_argument("--ledger-group", help="the ledger's consumer group (default corridor-ledger)")
    parser.add_argument("--log-level", help="default CORRIDOR_LOG_LEVEL or INFO")
    args = parser.parse_args(argv)

    overrides = {
        "monitor_refresh_s": args.refresh,
        "monitor_ledger_schema": args.ledger_schema,
        "monitor_ledger_group": args.ledger_group,
        "log_level": args.log_level,
    }
    try:
        settings = MonitorSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        print(f"monitor: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    level = settings.log_level.upper()
    if level not in logging.getLevelNamesMapping():
        print(f"monitor: unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)", file=sys.stderr)
        return 2
    configure_logging(level, settings.log_format)
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        log_level=level.lower(),
        lifespan="on",
        timeout_graceful_shutdown=3,  # open SSE streams never end by themselves
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
