"""Relay settings from the environment (prefix ``CORRIDOR_``); flags of ``python -m corridor.relay`` win.

``CORRIDOR_BOOTSTRAP_SERVERS`` (the internal listener) and ``CORRIDOR_SCHEMA_REGISTRY_URL`` are shared
with every service. ``CORRIDOR_DATABASE_URL`` is optional: with it, the relay checks certificate
signatures against the authorities' registered keys and says so in a header; without it, it relays
certificates without a verdict.
"""

from __future__ import annotations

import re
import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from corridor.core.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_SCHEMA_REGISTRY_URL
from corridor.core.topics import MAX_TRADE_PARTITIONS, physical, trade_partitions

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8084
DEFAULT_GROUP_ID = "corridor-relay"

_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
_ORDINAL_HOST = re.compile(r"^[A-Za-z0-9._-]{1,190}-[0-9]{1,9}$")
_NAME = r"^[A-Za-z0-9._-]{1,200}$"


def default_instance_id(hostname: str | None = None) -> str:
    """A relay's instance id when none is configured: a StatefulSet pod's name (stable across restarts,
    unique per replica), else ``1`` (one relay per host, as the local stack runs it)."""
    name = socket.gethostname() if hostname is None else hostname
    return name if _ORDINAL_HOST.match(name) else "1"


class RelaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="ignore")

    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    schema_registry_url: str = DEFAULT_SCHEMA_REGISTRY_URL
    database_url: str | None = None
    log_level: str = "INFO"
    log_format: str = "json"

    #: Consumer group of the trade topics; also the default prefix of the transactional ids and of the
    #: state topic, so two relays with different groups never fence each other.
    relay_group_id: str = Field(default=DEFAULT_GROUP_ID, pattern=_NAME)
    #: This instance's name in the group (static membership: a restarted instance takes its partitions
    #: back at once instead of after the session timeout). Unique per running instance: by default the
    #: host name when it ends in an ordinal (a StatefulSet pod, ``corridor-relay-2``), else ``1``.
    relay_instance_id: str = Field(default_factory=lambda: default_instance_id(), pattern=_NAME)
    #: Transactional ids are ``<prefix>-<partition>``: one per partition number of the trade topics, so
    #: whichever instance owns partition p fences any earlier owner of it (default: the group id).
    relay_transactional_id_prefix: str | None = Field(default=None, pattern=_NAME)
    #: Compacted topic of each trade's parties and relayed events (default ``<group>.state.v2``;
    #: v1 referred to the trade topics, ADR 0027).
    relay_state_topic: str | None = Field(default=None, pattern=_NAME)
    #: Partitions of a partner topic created by the relay (key = trade id); default: the deployment's
    #: ``CORRIDOR_TRADE_PARTITIONS`` (ADR 0040).
    relay_partner_partitions: int = Field(default_factory=trade_partitions, ge=1, le=MAX_TRADE_PARTITIONS)
    #: Records per poll; one transaction per trade-topic partition number per poll.
    relay_batch_max_records: int = Field(default=500, ge=1)
    #: Raw records kept in memory for back-fills (older ones are fetched from the trade topics again).
    relay_history_cache: int = Field(default=20_000, ge=0)
    relay_session_timeout_ms: int = Field(default=10_000, ge=6_000)
    relay_transaction_timeout_ms: int = Field(default=60_000, ge=1_000)
    #: Fault injection for tests: wait this long inside each transaction, after its records were sent
    #: and before it commits (logged as ``pausing_before_commit``), so a kill lands mid-transaction.
    relay_pause_before_commit_ms: int = Field(default=0, ge=0)
    #: PostgreSQL schema of the authorities' keys (services/core/signatures.py), with the partners.
    relay_partners_schema: str = Field(default="partners", pattern=_IDENTIFIER)

    @property
    def transactional_id_prefix(self) -> str:
        return self.relay_transactional_id_prefix or self.relay_group_id

    @property
    def state_topic(self) -> str:
        return self.relay_state_topic or physical(f"{self.relay_group_id}.state.v2")
