"""Fixtures of the security suite: the gateway's integration fixtures (the real gateway app on real
Kafka and PostgreSQL, throwaway partner and gateway schemas, registered partners of a fresh trade)."""

from tests.integration.gateway.conftest import (  # noqa: F401  (pytest finds fixtures by name)
    Admin,
    KafkaReader,
    Loop,
    RunningGateway,
    Trade,
    admin,
    gateway,
    http,
    json_logs,
    kafka,
    loop,
    schemas,
    settings,
    trade,
)
from tests.integration.ledger.conftest import (  # noqa: F401
    api_key,
    db,
    ledger,
    ledger_setup,
    publish,
    registry,
    tail,
)
