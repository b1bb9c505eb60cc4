"""Webhooks settings from the environment (prefix ``CORRIDOR_``, like the rest of Corridor).

``CORRIDOR_DATABASE_URL``, ``CORRIDOR_BOOTSTRAP_SERVERS`` and ``CORRIDOR_SCHEMA_REGISTRY_URL`` are shared
with every service; the ``CORRIDOR_WEBHOOKS_*`` variables tune this one. Command-line flags of
``python -m corridor.webhooks`` override them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from corridor.core.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_SCHEMA_REGISTRY_URL

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8085
DEFAULT_GROUP_ID = "corridor-webhooks"
_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"


class WebhooksSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="ignore")

    database_url: str | None = None
    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    schema_registry_url: str = DEFAULT_SCHEMA_REGISTRY_URL
    log_level: str = "INFO"
    log_format: str = "json"

    webhooks_group_id: str = DEFAULT_GROUP_ID
    #: PostgreSQL schema of the subscriptions and dead letters.
    webhooks_db_schema: str = Field(default="webhooks", pattern=_IDENTIFIER)
    #: PostgreSQL schema of the partner table (API keys) shared with the gateway and the ledger.
    webhooks_partners_schema: str = Field(default="partners", pattern=_IDENTIFIER)
    #: Partner topics the dispatcher subscribes to (a regular expression, as the relay names them).
    webhooks_topic_pattern: str = r"^partner\..+\.v1$"
    #: Attempts per delivery before it is dead-lettered (the first one included).
    webhooks_max_attempts: int = Field(default=8, ge=1)
    #: Backoff after failed attempt n: min(max, base × 2^(n-1)), half of it fixed and half random.
    webhooks_backoff_base_s: float = Field(default=1.0, gt=0)
    webhooks_backoff_max_s: float = Field(default=300.0, gt=0)
    #: Longest one POST may take (connect + send + answer).
    webhooks_timeout_s: float = Field(default=10.0, gt=0)
    #: Accept plain http callbacks to hosts other than loopback (never in production).
    webhooks_allow_http: bool = False
    #: How soon a new partner topic is found (Kafka metadata refresh of the regex subscription).
    webhooks_metadata_max_age_ms: int = Field(default=10_000, ge=500)
    #: How long the dispatcher trusts its copy of a partner's subscriptions.
    webhooks_subscription_ttl_s: float = Field(default=2.0, ge=0)
    webhooks_pool_min_size: int = Field(default=1, ge=1)
    webhooks_pool_max_size: int = Field(default=8, ge=1)
