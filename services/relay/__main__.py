"""``python -m services.relay --host 127.0.0.1 --port 8084``: the relay and its health/metrics endpoints.

Kafka (the internal listener) and the registry come from ``CORRIDOR_BOOTSTRAP_SERVERS`` and
``CORRIDOR_SCHEMA_REGISTRY_URL``; ``CORRIDOR_DATABASE_URL`` (optional) adds certificate signature
verdicts. Flags override the ``CORRIDOR_RELAY_*`` settings.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from services.relay.app import configure_logging, create_app
from services.relay.settings import DEFAULT_HOST, DEFAULT_PORT, RelaySettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.relay",
        description="Route every trade event to the partner topics (partner.<id>.v1) of its trade's "
        "parties, exactly once, in Kafka transactions.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--group-id", help="consumer group of the trade topics (default corridor-relay)")
    parser.add_argument(
        "--instance-id", help="this instance's name in the group, unique per instance (default 1)"
    )
    parser.add_argument("--batch-max-records", type=int, help="records per poll (default 500)")
    parser.add_argument(
        "--partner-partitions", type=int, help="partitions of a new partner topic (default 6)"
    )
    parser.add_argument("--log-level", help="default CORRIDOR_LOG_LEVEL or INFO")
    args = parser.parse_args(argv)
    overrides = {
        "relay_group_id": args.group_id,
        "relay_instance_id": args.instance_id,
        "relay_batch_max_records": args.batch_max_records,
        "relay_partner_partitions": args.partner_partitions,
        "log_level": args.log_level,
    }
    try:
        settings = RelaySettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        print(f"relay: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    level = settings.log_level.upper()
    if level not in logging.getLevelNamesMapping():
        print(f"relay: unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)", file=sys.stderr)
        return 2
    configure_logging(level, settings.log_format)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            log_level=level.lower(),
            lifespan="on",
        )
    )
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
