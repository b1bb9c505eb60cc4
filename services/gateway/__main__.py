"""``python -m corridor.gateway --host 127.0.0.1 --port 8080``: serve the partner gateway with uvicorn.

Kafka, the registry and PostgreSQL come from ``CORRIDOR_BOOTSTRAP_SERVERS``,
``CORRIDOR_SCHEMA_REGISTRY_URL`` and ``CORRIDOR_DATABASE_URL``. Without a database URL the process exits
at once saying so; Kafka and the registry may come up later (events are answered 503 until then).
"""

from __future__ import annotations

import sys

from corridor.core.runner import run_service
from corridor.gateway.app import configure_logging, create_app
from corridor.gateway.settings import DEFAULT_HOST, DEFAULT_PORT, GatewaySettings


def main(argv: list[str] | None = None) -> int:
    return run_service(
        "gateway",
        argv,
        description="Corridor partner gateway: CloudEvents over HTTP into the trade topics "
        "(CORRIDOR_BOOTSTRAP_SERVERS, CORRIDOR_SCHEMA_REGISTRY_URL, CORRIDOR_DATABASE_URL).",
        host=DEFAULT_HOST,
        port=DEFAULT_PORT,
        settings=GatewaySettings,
        create_app=create_app,
        configure_logging=configure_logging,
        log_level_help="DEBUG also logs health checks (default: CORRIDOR_LOG_LEVEL or INFO)",
        database="the PostgreSQL database that holds the partners",
        # aiokafka logs every failed reconnect; the gateway reports Kafka outages itself (503, /readyz,
        # produce_* lines), so keep its chatter, and httpx's (one line per schema registry call), to
        # warnings and above.
        quiet_loggers=("aiokafka", "httpx"),
    )


if __name__ == "__main__":
    sys.exit(main())
