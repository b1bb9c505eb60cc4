"""The local stack launcher: Kafka (KRaft) from Maven Central jars, embedded PostgreSQL, the services.

Use it from Python as ``from corridor.stack import StackConfig, up, down, status``; the command line
is ``corridor stack up | down | status`` (services/cli/stack.py).
"""

from corridor.stack.api import (
    BrokerStatus,
    PostgresStatus,
    ServiceStatus,
    StackStatus,
    down,
    kill_broker,
    recorded_config,
    start_broker,
    status,
    up,
)
from corridor.stack.config import Listener, StackConfig
from corridor.stack.errors import StackError
from corridor.stack.services import SERVICE_NAMES, SERVICES, Service

__all__ = [
    "SERVICES",
    "SERVICE_NAMES",
    "BrokerStatus",
    "Listener",
    "PostgresStatus",
    "Service",
    "ServiceStatus",
    "StackConfig",
    "StackError",
    "StackStatus",
    "down",
    "kill_broker",
    "recorded_config",
    "start_broker",
    "status",
    "up",
]
