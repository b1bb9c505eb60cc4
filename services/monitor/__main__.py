"""``python -m corridor.monitor --host 127.0.0.1 --port 8083``: serve the operations dashboard.

Kafka, the registry and PostgreSQL come from ``CORRIDOR_BOOTSTRAP_SERVERS``,
``CORRIDOR_SCHEMA_REGISTRY_URL`` and ``CORRIDOR_DATABASE_URL`` (default: the local stack's embedded
server); flags override the ``CORRIDOR_MONITOR_*`` settings.
"""

from __future__ import annotations

import sys

from corridor.core.runner import Flag, run_service
from corridor.monitor.app import configure_logging, create_app
from corridor.monitor.settings import DEFAULT_HOST, DEFAULT_PORT, MonitorSettings

FLAGS = (
    Flag("--refresh", "monitor_refresh_s", "seconds between samples (default 2)", type=float),
    Flag(
        "--ledger-schema",
        "monitor_ledger_schema",
        "PostgreSQL schema of the ledger's tables (default ledger)",
    ),
    Flag("--ledger-group", "monitor_ledger_group", "the ledger's consumer group (default corridor-ledger)"),
)


def main(argv: list[str] | None = None) -> int:
    return run_service(
        "monitor",
        argv,
        description="Operations dashboard of the backbone: throughput, consumer lag, dead letters, "
        "end-to-end latency, trade states and a live stream of events.",
        host=DEFAULT_HOST,
        port=DEFAULT_PORT,
        settings=MonitorSettings,
        create_app=create_app,
        configure_logging=configure_logging,
        flags=FLAGS,
        timeout_graceful_shutdown=3,  # open SSE streams never end by themselves
    )


if __name__ == "__main__":
    sys.exit(main())
