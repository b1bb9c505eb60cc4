"""Settings read from the environment (prefix ``CORRIDOR_``), with embedded-stack defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Re-exported: the paths live apart so the partner SDK reads the schemas without pydantic-settings.
from corridor.core.paths import PROJECT_ROOT, SCHEMAS_DIR

__all__ = ["PROJECT_ROOT", "SCHEMAS_DIR", "Settings", "get_settings"]

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
DEFAULT_SCHEMA_REGISTRY_URL = "http://127.0.0.1:8081"
DEFAULT_POSTGRES_PORT = 55432
DEFAULT_GATEWAY_URL = "http://127.0.0.1:8080"
DEFAULT_LEDGER_URL = "http://127.0.0.1:8082"
DEFAULT_MONITOR_URL = "http://127.0.0.1:8083"
DEFAULT_RELAY_URL = "http://127.0.0.1:8084"
DEFAULT_WEBHOOKS_URL = "http://127.0.0.1:8085"


class Settings(BaseSettings):
    """Everything a service or the CLI needs to find the backbone.

    ``database_url`` left unset means "the embedded PostgreSQL of the local stack".
    """

    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="ignore")

    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    schema_registry_url: str = DEFAULT_SCHEMA_REGISTRY_URL
    gateway_url: str = DEFAULT_GATEWAY_URL  # the partner gateway (python -m corridor.gateway)
    ledger_url: str = DEFAULT_LEDGER_URL  # the ledger's query API (python -m corridor.ledger)
    monitor_url: str = DEFAULT_MONITOR_URL  # the operations dashboard (python -m corridor.monitor)
    relay_url: str = DEFAULT_RELAY_URL  # the relay's health/metrics (python -m corridor.relay)
    webhooks_url: str = DEFAULT_WEBHOOKS_URL  # the subscriptions API (python -m corridor.webhooks)
    #: ``user:password`` for the schema registry (basic.auth.user.info), or a 0600 file holding it; unset,
    #: the local stack's operator credential (``<state dir>/credentials/registry-operator.userinfo``).
    schema_registry_user_info: str | None = Field(default=None, repr=False)
    schema_registry_user_info_file: Path | None = None
    database_url: str | None = None
    postgres_port: int = DEFAULT_POSTGRES_PORT  # the embedded server's port (when database_url is unset)
    state_dir: Path = Field(default=PROJECT_ROOT / ".corridor")
    #: Extra names (comma-separated DNS names or IP addresses) the broker certificate of the partner
    #: listener carries besides localhost/127.0.0.1/::1: the name partners dial in production.
    broker_tls_names: str = ""
    log_level: str = "INFO"
    log_format: str = "json"  # "json" for machines, "console" for people
    service_name: str = "corridor"


def registry_user_info(settings: Settings | None = None) -> str | None:
    """The registry credential this process uses (read afresh: a rotated file is picked up)."""
    from corridor.core.credentials import REGISTRY_OPERATOR, credentials_dir, resolve_secret

    settings = settings or Settings()
    return resolve_secret(
        settings.schema_registry_user_info,
        settings.schema_registry_user_info_file,
        credentials_dir(settings.state_dir) / REGISTRY_OPERATOR,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
