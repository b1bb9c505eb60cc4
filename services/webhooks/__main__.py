"""``python -m services.webhooks --host 127.0.0.1 --port 8085``: subscriptions API and the dispatcher.

Servers come from ``CORRIDOR_DATABASE_URL``, ``CORRIDOR_BOOTSTRAP_SERVERS`` and
``CORRIDOR_SCHEMA_REGISTRY_URL``; without a database the process exits at once saying so. Flags override
the ``CORRIDOR_WEBHOOKS_*`` settings.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from services.core.logging import configure_logging
from services.webhooks.app import create_app
from services.webhooks.settings import DEFAULT_HOST, DEFAULT_PORT, WebhooksSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.webhooks",
        description="Push each partner's events to its webhook subscriptions: signed, in order, retried, "
        "dead-lettered after the last attempt.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--group-id", help="Kafka consumer group (default corridor-webhooks)")
    parser.add_argument("--db-schema", help="PostgreSQL schema of the subscriptions (default webhooks)")
    parser.add_argument(
        "--partners-schema", help="PostgreSQL schema of the partners table (default partners)"
    )
    parser.add_argument("--topic-pattern", help=r"partner topics to consume (default ^partner\..+\.v1$)")
    parser.add_argument(
        "--max-attempts", type=int, help="attempts per delivery before the dead letter (default 8)"
    )
    parser.add_argument("--log-level", help="DEBUG logs every delivery (default CORRIDOR_LOG_LEVEL or INFO)")
    args = parser.parse_args(argv)

    overrides = {
        "webhooks_group_id": args.group_id,
        "webhooks_db_schema": args.db_schema,
        "webhooks_partners_schema": args.partners_schema,
        "webhooks_topic_pattern": args.topic_pattern,
        "webhooks_max_attempts": args.max_attempts,
        "log_level": args.log_level,
    }
    try:
        settings = WebhooksSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        print(f"webhooks: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print(
            "webhooks: CORRIDOR_DATABASE_URL is not set; point it at the PostgreSQL database of the "
            "backbone, e.g. CORRIDOR_DATABASE_URL=postgresql://postgres@127.0.0.1:55432/corridor",
            file=sys.stderr,
        )
        return 2
    level = settings.log_level.upper()
    if level not in logging.getLevelNamesMapping():
        print(f"webhooks: unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)", file=sys.stderr)
        return 2
    configure_logging(level, settings.log_format, service="webhooks")
    logging.basicConfig(level=max(logging.getLevelNamesMapping()[level], logging.WARNING), stream=sys.stderr)
    for noisy in ("aiokafka", "httpx"):  # reconnects and one line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        log_level=level.lower(),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
