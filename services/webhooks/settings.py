"""Webhooks settings from the environment (prefix ``CORRIDOR_``, like the rest of Corridor).

``CORRIDOR_DATABASE_URL``, ``CORRIDOR_BOOTSTRAP_SERVERS`` and ``CORRIDOR_SCHEMA_REGISTRY_URL`` are shared
with every service; the ``CORRIDOR_WEBHOOKS_*`` variables tune this one. Command-line flags of
``python -m corridor.webhooks`` override them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from corridor.core.credentials import WEBHOOKS_KEY, credentials_dir, resolve_secret
from corridor.core.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_SCHEMA_REGISTRY_URL, PROJECT_ROOT

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
    state_dir: Path = Field(default=PROJECT_ROOT / ".corridor")

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
    #: How long the record of who delivered what is kept (``deliveries``, ADR 0012): a record re-read after
    #: it (a consumer group reset further back) is delivered again. 0 keeps them for ever.
    webhooks_delivery_retention_s: float = Field(default=7 * 24 * 3600.0, ge=0)
    #: Accept plain http callbacks to hosts other than loopback (never in production).
    webhooks_allow_http: bool = False
    #: How soon a new partner topic is found (Kafka metadata refresh of the regex subscription).
    webhooks_metadata_max_age_ms: int = Field(default=10_000, ge=500)
    #: How long the dispatcher trusts its copy of a partner's subscriptions.
    webhooks_subscription_ttl_s: float = Field(default=2.0, ge=0)
    #: Callback hosts, addresses or networks (``host[:port]``, ``10.1.0.0/16``) reached although they are
    #: not public (callbacks.py), comma-separated. Empty: public addresses only.
    webhooks_allowed_callbacks: str = ""
    #: Subscriptions one partner may have.
    webhooks_max_subscriptions_per_partner: int = Field(default=20, ge=1)
    #: Largest request body of the subscription API (checked before it is read).
    webhooks_max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    #: How long a rotated-out secret keeps signing deliveries next to the new one.
    webhooks_secret_overlap_s: float = Field(default=24 * 3600.0, ge=0)
    #: Key of the secrets at rest (secrets_box.py): the key itself, or its 0600 file; unset, the local
    #: stack's ``<state dir>/credentials/webhooks-secrets.key``. Required.
    webhooks_secrets_key: str | None = Field(default=None, repr=False)
    webhooks_secrets_key_file: Path | None = None
    webhooks_pool_min_size: int = Field(default=1, ge=1)
    webhooks_pool_max_size: int = Field(default=8, ge=1)

    def effective_secrets_key(self) -> str:
        default = credentials_dir(self.state_dir) / WEBHOOKS_KEY
        key = resolve_secret(self.webhooks_secrets_key, self.webhooks_secrets_key_file, default)
        if not key:
            raise ValueError(
                "no key for the webhook secrets: set CORRIDOR_WEBHOOKS_SECRETS_KEY[_FILE] or run "
                f"`corridor stack up` (creates {default})"
            )
        return key
