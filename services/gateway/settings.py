"""Gateway settings from the environment (prefix ``CORRIDOR_``, like the rest of Corridor).

``CORRIDOR_BOOTSTRAP_SERVERS``, ``CORRIDOR_SCHEMA_REGISTRY_URL`` and ``CORRIDOR_DATABASE_URL`` are shared
with every service; the ``CORRIDOR_GATEWAY_*`` variables only tune this one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from corridor.core.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_LEDGER_URL, DEFAULT_SCHEMA_REGISTRY_URL

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MiB = 1024 * 1024
_SCHEMA_NAME = r"^[a-z_][a-z0-9_]{0,62}$"
#: What a claim's stale window must leave beyond the delivery bound and the last request's life: the
#: checks of a request between its claim and its first send (the topics' limits read again, ≤ 5 s) and
#: the scheduling of a loaded process.
CLAIM_MARGIN_S = 10.0


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="ignore")

    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    schema_registry_url: str = DEFAULT_SCHEMA_REGISTRY_URL
    database_url: str | None = None
    #: The ledger's API, asked for receipts (``GET /v1/events/{id}``, ``?wait=accepted``; ADR 0027).
    ledger_url: str = DEFAULT_LEDGER_URL
    log_level: str = "INFO"
    log_format: str = "json"  # "console" for people

    #: PostgreSQL schema of the gateway's own tables (trade parties, idempotency records).
    gateway_db_schema: str = Field(default="gateway", pattern=_SCHEMA_NAME)
    #: PostgreSQL schema of the partner table shared with other services (services/core/partners.py).
    partners_db_schema: str = Field(default="partners", pattern=_SCHEMA_NAME)
    gateway_pool_min_size: int = Field(default=1, ge=1)
    gateway_pool_max_size: int = Field(default=10, ge=1)

    #: Longest a request waits for the broker's acknowledgement before answering 503.
    gateway_produce_timeout_s: float = Field(default=10.0, gt=0)
    #: aiokafka's request timeout (metadata, produce requests); below the produce timeout.
    gateway_kafka_request_timeout_ms: int = Field(default=5000, ge=500)
    #: Longest the gateway waits for a produced record's acknowledgement, answered or not (default: the
    #: larger of 30 s and the produce timeout). Past it the producer holding the record is abandoned:
    #: aiokafka's idempotent producer would otherwise retry it for ever (ADR 0041).
    gateway_delivery_timeout_s: float | None = Field(default=None, gt=0)
    #: How long a pending idempotency claim stays its owner's before another gateway may take it over
    #: (default: the larger of 60 s and the delivery bound plus a margin). Must exceed the delivery
    #: timeout + the Kafka request timeout + ``CLAIM_MARGIN_S``: a start with less is refused.
    gateway_claim_stale_s: float | None = Field(default=None, gt=0)
    gateway_max_event_bytes: int = Field(default=1 * MiB, ge=1024)
    gateway_max_batch_bytes: int = Field(default=8 * MiB, ge=1024)
    gateway_max_batch_items: int = Field(default=500, ge=1)
    #: Register event schemas that the registry lacks (False: only look their ids up). Off: the gateway
    #: holds the registry's read role; `stack up` / `corridor schemas register` register as the operator.
    gateway_auto_register: bool = False
    #: How far ahead of the gateway's clock an event's ``created_at`` and an actual (ACT) milestone's
    #: ``occurred_at`` may be (a sender's clock skew) before the event is refused with 422 (ADR 0026).
    gateway_clock_skew_s: float = Field(default=300.0, ge=0)
    #: Seconds a 503 asks clients to wait (``Retry-After``).
    gateway_retry_after_s: int = Field(default=5, ge=1)
    #: Per-partner rate limit (services/gateway/limits.py): events a second refilled into each partner's
    #: token bucket (``CORRIDOR_GATEWAY_RATE_PER_S``; 0 switches the limit off) and the bucket's size
    #: (``CORRIDOR_GATEWAY_RATE_BURST``). A batch costs one token per event; over the limit → 429.
    #: How long an idempotency record is kept (``CORRIDOR_GATEWAY_IDEMPOTENCY_RETENTION_S``, default 7
    #: days; 0 keeps them for ever): a retry within it answers the first acknowledgement; a retry after it
    #: is produced again and the ledger records it as a duplicate of the stored event (ADR 0005).
    gateway_idempotency_retention_s: float = Field(default=7 * 24 * 3600.0, ge=0)
    gateway_rate_per_s: float = Field(default=2000.0, ge=0)
    gateway_rate_burst: int = Field(default=5000, ge=1)
    #: ``global``: one budget per partner for all gateway processes, kept in PostgreSQL and leased a
    #: chunk at a time (ADR 0037); ``process``: each process its own budget (N processes, N × the rate).
    gateway_rate_scope: Literal["global", "process"] = "global"
    #: Tokens a process leases from the shared bucket at a time (default: a twentieth of the burst). The
    #: most one process can hold unspent; smaller is fairer between processes, larger asks PG less often.
    gateway_rate_lease: int | None = Field(default=None, ge=1)

    @property
    def delivery_timeout_s(self) -> float:
        """The delivery bound: how long after a request starts producing its records have all ended."""
        if self.gateway_delivery_timeout_s is not None:
            return self.gateway_delivery_timeout_s
        return max(30.0, self.gateway_produce_timeout_s)

    @property
    def claim_stale_s(self) -> float:
        """When another gateway may take over a pending claim (after the delivery bound, ADR 0041)."""
        if self.gateway_claim_stale_s is not None:
            return self.gateway_claim_stale_s
        return max(60.0, self._claim_floor_s + 1.0)

    @property
    def _claim_floor_s(self) -> float:
        return self.delivery_timeout_s + self.gateway_kafka_request_timeout_ms / 1000 + CLAIM_MARGIN_S

    @model_validator(mode="after")
    def _claims_outlive_deliveries(self) -> GatewaySettings:
        # A claim taken over while its first owner's record can still be written would be produced
        # twice: the stale window must outlast the whole produce (ADR 0041).
        if self.delivery_timeout_s < self.gateway_produce_timeout_s:
            raise ValueError(
                f"CORRIDOR_GATEWAY_DELIVERY_TIMEOUT_S ({self.delivery_timeout_s:g} s) must be at least "
                f"CORRIDOR_GATEWAY_PRODUCE_TIMEOUT_S ({self.gateway_produce_timeout_s:g} s)"
            )
        if self.claim_stale_s <= self._claim_floor_s:
            raise ValueError(
                f"CORRIDOR_GATEWAY_CLAIM_STALE_S ({self.claim_stale_s:g} s) must exceed the delivery "
                f"timeout ({self.delivery_timeout_s:g} s) + the Kafka request timeout "
                f"({self.gateway_kafka_request_timeout_ms / 1000:g} s) + {CLAIM_MARGIN_S:g} s: a claim "
                "taken over sooner could be produced twice while its first owner's record is still in flight"
            )
        return self
