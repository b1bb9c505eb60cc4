"""``python -m corridor.webhooks --host 127.0.0.1 --port 8085``: subscriptions API and the dispatcher.

Servers come from ``CORRIDOR_DATABASE_URL``, ``CORRIDOR_BOOTSTRAP_SERVERS`` and
``CORRIDOR_SCHEMA_REGISTRY_URL``; without a database the process exits at once saying so. Flags override
the ``CORRIDOR_WEBHOOKS_*`` settings.
"""

from __future__ import annotations

import sys

from corridor.core.runner import Flag, run_service
from corridor.webhooks.app import configure_logging, create_app
from corridor.webhooks.settings import DEFAULT_HOST, DEFAULT_PORT, WebhooksSettings

FLAGS = (
    Flag("--group-id", "webhooks_group_id", "Kafka consumer group (default corridor-webhooks)"),
    Flag("--db-schema", "webhooks_db_schema", "PostgreSQL schema of the subscriptions (default webhooks)"),
    Flag(
        "--partners-schema",
        "webhooks_partners_schema",
        "PostgreSQL schema of the partners table (default partners)",
    ),
    Flag(
        "--topic-pattern", "webhooks_topic_pattern", r"partner topics to consume (default ^partner\..+\.v1$)"
    ),
    Flag(
        "--max-attempts",
        "webhooks_max_attempts",
        "attempts per delivery before the dead letter (default 8)",
        type=int,
    ),
)


def main(argv: list[str] | None = None) -> int:
    return run_service(
        "webhooks",
        argv,
        description="Push each partner's events to its webhook subscriptions: signed, in order, retried, "
        "dead-lettered after the last attempt.",
        host=DEFAULT_HOST,
        port=DEFAULT_PORT,
        settings=WebhooksSettings,
        create_app=create_app,
        configure_logging=configure_logging,
        flags=FLAGS,
        log_level_help="DEBUG logs every delivery (default CORRIDOR_LOG_LEVEL or INFO)",
        database="the PostgreSQL database of the backbone",
    )


if __name__ == "__main__":
    sys.exit(main())
