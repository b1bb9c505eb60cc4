"""Ledger settings from the environment (prefix ``CORRIDOR_``, like the rest of Corridor).

``CORRIDOR_DATABASE_URL``, ``CORRIDOR_BOOTSTRAP_SERVERS`` and ``CORRIDOR_SCHEMA_REGISTRY_URL`` are shared
with every service; the ``CORRIDOR_LEDGER_*`` variables tune this one. Command-line flags of
``python -m corridor.ledger`` override them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from corridor.core.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_SCHEMA_REGISTRY_URL
from corridor.core.topics import ACCEPTED

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8082
DEFAULT_GROUP_ID = "corridor-ledger"
#: Seconds a parked event waits before each retry (one retry topic per tier, see topics.py).
DEFAULT_RETRY_DELAYS_S = (5.0, 30.0, 300.0)

_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"


class LedgerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="ignore")

    database_url: str | None = None
    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    schema_registry_url: str = DEFAULT_SCHEMA_REGISTRY_URL
    log_level: str = "INFO"
    log_format: str = "json"

    ledger_group_id: str = DEFAULT_GROUP_ID
    ledger_db_schema: str = Field(default="ledger", pattern=_IDENTIFIER)
    ledger_partners_schema: str = Field(default="partners", pattern=_IDENTIFIER)
    #: Where a consumer group without committed offsets starts: the whole history (``earliest``, how a
    #: ledger is rebuilt) or only what is published from now on (``latest``; the end offsets are
    #: committed at startup, so a restart never skips anything).
    ledger_start_from: Literal["earliest", "latest"] = "earliest"
    #: False: serve the query API only, over the tables other ledger processes fill (no consumer, no
    #: publisher, no partitions owned); scale the API apart from the consumers (issue 23).
    ledger_consume: bool = True
    ledger_retry_delays_s: Annotated[tuple[float, ...], NoDecode] = DEFAULT_RETRY_DELAYS_S
    ledger_batch_max_records: int = Field(default=5000, ge=1)
    #: Seconds an event waiting for a prerequisite is held in memory (retried with every batch, its
    #: offset not committed) before it is parked in the first retry topic.
    ledger_hold_s: float = Field(default=2.0, ge=0)
    #: … and up to this long while the trade's partitions still have records to read (a backlog).
    ledger_max_hold_s: float = Field(default=60.0, ge=0)
    ledger_cache_trades: int = Field(default=50_000, ge=0)
    #: Where the publisher puts the accepted events (ADR 0027). Only a ledger of its own (a test's, a
    #: benchmark's) changes it: the relay reads ``trade.accepted.v1``.
    ledger_accepted_topic: str = Field(default=ACCEPTED, pattern=r"^[A-Za-z0-9._-]{1,249}$")
    #: Test only: how long the publisher waits between reading accepted events from the outbox and
    #: producing them (the window a crash between commit and publication needs, ADR 0027).
    ledger_publish_pause_ms: int = Field(default=0, ge=0)
    #: The longest a receipt request may wait for the ledger's decision (``GET /v1/events/{id}?wait_s=``).
    ledger_receipt_max_wait_s: float = Field(default=30.0, ge=0)
    ledger_pool_min_size: int = Field(default=1, ge=1)
    ledger_pool_max_size: int = Field(default=8, ge=1)

    @field_validator("ledger_retry_delays_s", mode="before")
    @classmethod
    def _delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("ledger_retry_delays_s")
    @classmethod
    def _three_tiers(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if len(value) != 3 or any(d < 0 for d in value):
            raise ValueError("three non-negative delays, one per retry topic (e.g. 5,30,300)")
        return value
