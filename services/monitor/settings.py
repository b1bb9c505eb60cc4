"""Monitor settings from the environment (prefix ``CORRIDOR_``, like the rest of Corridor).

``CORRIDOR_BOOTSTRAP_SERVERS``, ``CORRIDOR_SCHEMA_REGISTRY_URL`` and ``CORRIDOR_DATABASE_URL`` are shared
with every service; ``CORRIDOR_MONITOR_*`` tune this one. Without a database URL the monitor reads the
local stack's embedded PostgreSQL; when the ledger's tables cannot be read, the Kafka panels still work
and the ledger panels say why they are empty.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from corridor.core.credentials import MONITOR_TOKEN, credentials_dir, read_secret, resolve_secret
from corridor.core.settings import (
    DEFAULT_BOOTSTRAP_SERVERS,
    DEFAULT_POSTGRES_PORT,
    DEFAULT_SCHEMA_REGISTRY_URL,
    PROJECT_ROOT,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8083

_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"


class MonitorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="ignore")

    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    schema_registry_url: str = DEFAULT_SCHEMA_REGISTRY_URL
    database_url: str | None = None
    postgres_port: int = DEFAULT_POSTGRES_PORT
    log_level: str = "INFO"
    log_format: str = "json"
    state_dir: Path = Field(default=PROJECT_ROOT / ".corridor")

    #: The operator's login (security.py): the token itself, or a 0600 file holding it; unset, the
    #: local stack's ``<state dir>/credentials/monitor-operator.token``. Required: no anonymous access.
    monitor_token: str | None = Field(default=None, repr=False)
    monitor_token_file: Path | None = None
    #: Names the dashboard answers to (Host header, against DNS rebinding), comma-separated.
    monitor_allowed_hosts: str = "127.0.0.1,localhost,[::1]"
    #: Topics besides the backbone's own (trade topics, trade.dlq.v1) whose records /api/records may
    #: decode, comma-separated; ``*`` for every topic. Partner topics stay closed unless named here.
    monitor_record_topics: str = ""

    #: Seconds between two samples of offsets, groups and the ledger's tables (the page refreshes as often).
    monitor_refresh_s: float = Field(default=2.0, ge=0.2, le=60)
    #: Samples kept per chart (150 × 2 s = the last 5 minutes).
    monitor_history: int = Field(default=150, ge=2, le=10_000)
    #: The ledger whose tables, consumer group and commit times the page shows.
    monitor_ledger_schema: str = Field(default="ledger", pattern=_IDENTIFIER)
    monitor_ledger_group: str = "corridor-ledger"
    #: Recent events kept for the live stream (metadata only; payloads are read from Kafka on click).
    monitor_recent_events: int = Field(default=200, ge=1, le=10_000)
    #: Records per trade-topic partition shown in the stream when the monitor starts (before live ones).
    monitor_backlog_per_partition: int = Field(default=5, ge=0, le=1_000)
    #: Dead letters read per DLQ partition at startup to count reasons (the newest ones).
    monitor_dlq_scan_per_partition: int = Field(default=20_000, ge=0)
    #: Seconds of ledger commits the latency percentiles cover.
    monitor_latency_window_s: float = Field(default=300.0, gt=0)

    def effective_token(self) -> str:
        """The operator token; raises ValueError, saying where it was looked for, when there is none."""
        default = credentials_dir(self.state_dir) / MONITOR_TOKEN
        token = resolve_secret(self.monitor_token, self.monitor_token_file, default)
        if not token:
            raise ValueError(
                "no operator token: set CORRIDOR_MONITOR_TOKEN[_FILE] or run `corridor stack up` "
                f"(creates {default})"
            )
        return token

    def effective_database_url(self) -> str:
        """The configured database, else the local stack's embedded PostgreSQL as the monitor's read-only
        role (its password from the stack's credentials, docs/adr/0025-postgresql-roles.md)."""
        if self.database_url:
            return self.database_url
        password_file = credentials_dir(self.state_dir) / "postgres-monitor.password"
        login = "corridor_monitor"
        if password_file.exists():
            login += ":" + quote(read_secret(password_file), safe="")
        return f"postgresql://{login}@127.0.0.1:{self.postgres_port}/corridor"
