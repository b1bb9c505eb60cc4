"""``python -m corridor.ledger --host 127.0.0.1 --port 8082``: the ledger consumer and its query API.

Servers come from ``CORRIDOR_DATABASE_URL``, ``CORRIDOR_BOOTSTRAP_SERVERS`` and
``CORRIDOR_SCHEMA_REGISTRY_URL``; without a database the process exits at once saying so. Flags override
the ``CORRIDOR_LEDGER_*`` settings (tests run a ledger with its own consumer group and PostgreSQL schema).
"""

from __future__ import annotations

import gc
import sys

from corridor.core.runner import Flag, run_service
from corridor.ledger.app import configure_logging, create_app
from corridor.ledger.settings import DEFAULT_HOST, DEFAULT_PORT, LedgerSettings

FLAGS = (
    Flag("--group-id", "ledger_group_id", "Kafka consumer group (default corridor-ledger)"),
    Flag("--db-schema", "ledger_db_schema", "PostgreSQL schema of the ledger's tables (default ledger)"),
    Flag(
        "--partners-schema",
        "ledger_partners_schema",
        "PostgreSQL schema of the partners table (default partners)",
    ),
    Flag(
        "--start-from",
        "ledger_start_from",
        "where a new consumer group starts: the whole history (default) or the end of each partition",
        choices=("earliest", "latest"),
    ),
    Flag(
        "--retry-delays", "ledger_retry_delays_s", "seconds before each of the three retries, e.g. 5,30,300"
    ),
)


def tune_gc() -> None:
    """The ledger keeps many small immutable objects (cached trade states): with the default thresholds
    the cyclic GC re-walks them all the time, which halves throughput. Collect young objects less often,
    and leave everything allocated at startup out of collections."""
    gc.set_threshold(50_000, 20, 100)
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    return run_service(
        "ledger",
        argv,
        description="Store every trade event exactly once in PostgreSQL, keep each trade's state, and "
        "serve it to the trade's parties.",
        host=DEFAULT_HOST,
        port=DEFAULT_PORT,
        settings=LedgerSettings,
        create_app=create_app,
        configure_logging=configure_logging,
        flags=FLAGS,
        log_level_help="DEBUG logs one line per batch (default CORRIDOR_LOG_LEVEL or INFO)",
        database="the PostgreSQL database of the backbone",
        before_run=tune_gc,
    )


if __name__ == "__main__":
    sys.exit(main())
