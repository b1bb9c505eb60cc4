"""``python -m corridor.relay --host 127.0.0.1 --port 8084``: the relay and its health/metrics endpoints.

Kafka (the internal listener) and the registry come from ``CORRIDOR_BOOTSTRAP_SERVERS`` and
``CORRIDOR_SCHEMA_REGISTRY_URL``; ``CORRIDOR_DATABASE_URL`` (optional) adds certificate signature
verdicts. Flags override the ``CORRIDOR_RELAY_*`` settings.
"""

from __future__ import annotations

import sys

from corridor.core.runner import Flag, run_service
from corridor.relay.app import configure_logging, create_app
from corridor.relay.settings import DEFAULT_HOST, DEFAULT_PORT, RelaySettings

FLAGS = (
    Flag("--group-id", "relay_group_id", "consumer group of the trade topics (default corridor-relay)"),
    Flag(
        "--instance-id",
        "relay_instance_id",
        "this instance's name in the group, unique per instance (default 1)",
    ),
    Flag("--batch-max-records", "relay_batch_max_records", "records per poll (default 500)", type=int),
    Flag(
        "--partner-partitions",
        "relay_partner_partitions",
        "partitions of a new partner topic (default: CORRIDOR_TRADE_PARTITIONS, else 6)",
        type=int,
    ),
)


def main(argv: list[str] | None = None) -> int:
    return run_service(
        "relay",
        argv,
        description="Route every trade event to the partner topics (partner.<id>.v1) of its trade's "
        "parties, exactly once, in Kafka transactions.",
        host=DEFAULT_HOST,
        port=DEFAULT_PORT,
        settings=RelaySettings,
        create_app=create_app,
        configure_logging=configure_logging,
        flags=FLAGS,
    )


if __name__ == "__main__":
    sys.exit(main())
