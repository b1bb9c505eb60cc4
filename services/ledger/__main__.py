"""``python -m services.ledger --host 127.0.0.1 --port 8082``: the ledger consumer and its query API.

Servers come from ``CORRIDOR_DATABASE_URL``, ``CORRIDOR_BOOTSTRAP_SERVERS`` and
``CORRIDOR_SCHEMA_REGISTRY_URL``; without a database the process exits at once saying so. Flags override
the ``CORRIDOR_LEDGER_*`` settings (tests run a ledger with its own consumer group and PostgreSQL schema).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys

import uvicorn
from pydantic import ValidationError

from services.ledger.app import configure_logging, create_app
from services.ledger.settings import DEFAULT_HOST, DEFAULT_PORT, LedgerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ledger",
        description="Store every trade event exactly once in PostgreSQL, keep each trade's state, and "
        "serve it to the trade's parties.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--group-id", help="Kafka consumer group (default corridor-ledger)")
    parser.add_argument("--db-schema", help="PostgreSQL schema of the ledger's tables (default ledger)")
    parser.add_argument(
        "--partners-schema", help="PostgreSQL schema of the partners table (default partners)"
    )
    parser.add_argument(
        "--start-from",
        choices=("earliest", "latest"),
        help="where a new consumer group starts: the whole history (default) or the end of each partition",
    )
    parser.add_argument("--retry-delays", help="seconds before each of the three retries, e.g. 5,30,300")
    parser.add_argument(
        "--log-level", help="DEBUG logs one line per batch (default CORRIDOR_LOG_LEVEL or INFO)"
    )
    args = parser.parse_args(argv)

    overrides = {
        "ledger_group_id": args.group_id,
        "ledger_db_schema": args.db_schema,
        "ledger_partners_schema": args.partners_schema,
        "ledger_start_from": args.start_from,
        "ledger_retry_delays_s": args.retry_delays,
        "log_level": args.log_level,
    }
    try:
        settings = LedgerSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        print(f"ledger: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print(
            "ledger: CORRIDOR_DATABASE_URL is not set; point it at the PostgreSQL database of the backbone, "
            "e.g. CORRIDOR_DATABASE_URL=postgresql://postgres@127.0.0.1:55432/corridor",
            file=sys.stderr,
        )
        return 2
    level = settings.log_level.upper()
    if level not in logging.getLevelNamesMapping():
        print(f"ledger: unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)", file=sys.stderr)
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
    )
    # The ledger keeps many small immutable objects (cached trade states): with the default thresholds
    # the cyclic GC re-walks them all the time, which halves throughput. Collect young objects less
    # often, and leave everything allocated at startup out of collections.
    gc.set_threshold(50_000, 20, 100)
    gc.freeze()
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
