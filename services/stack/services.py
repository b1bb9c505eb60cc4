"""The stack's HTTP services (``python -m corridor.<name>``): the table, their argv, env and readiness.

Each runs detached like a broker, logs to ``<state_dir>/<name>/<name>.log`` and counts as ready when
its readiness path answers 200. Services start stage by stage: those of one stage together, once every
service of the earlier stages is ready (the others need the registry); ``down`` stops
them in the reverse order, before the brokers they are clients of.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from corridor.core import credentials
from corridor.deploy.database import DATABASE_ROLES, by_service
from corridor.stack.errors import StackError
from corridor.stack.postgres import role_url

DEFAULT_PG_HOST = "127.0.0.1"  # the embedded server listens there only (services/stack/postgres.py)

if TYPE_CHECKING:
    from corridor.stack.config import StackConfig


@dataclass(frozen=True)
class Service:
    name: str  # also the process name in stack.json and the directory of its log
    title: str  # for people: "schema registry"
    module: str  # python -m <module> --host H --port P
    port_field: str  # the StackConfig field holding its port
    ready_path: str  # GET <url><ready_path> answers 200 once it serves
    stage: int  # start order: lower stages first

    def available(self) -> bool:
        """False while the package has no entry point yet (the stack then skips it)."""
        return importlib.util.find_spec(f"{self.module}.__main__") is not None

    def port(self, config: StackConfig) -> int:
        port: int = getattr(config, self.port_field)
        return port

    def url(self, config: StackConfig) -> str:
        return f"http://{config.host}:{self.port(config)}"

    def ready_url(self, config: StackConfig) -> str:
        return self.url(config) + self.ready_path

    def log_file(self, config: StackConfig) -> Path:
        return config.service_dir(self.name) / f"{self.name}.log"

    def argv(self, config: StackConfig) -> list[str]:
        return [sys.executable, "-m", self.module, "--host", config.host, "--port", str(self.port(config))]


REGISTRY = Service("registry", "schema registry", "corridor.registry", "registry_port", "/readyz", 0)
LEDGER = Service("ledger", "ledger", "corridor.ledger", "ledger_port", "/readyz", 1)
GATEWAY = Service("gateway", "gateway", "corridor.gateway", "gateway_port", "/readyz", 1)
MONITOR = Service("monitor", "monitor", "corridor.monitor", "monitor_port", "/readyz", 1)
RELAY = Service("relay", "relay", "corridor.relay", "relay_port", "/readyz", 1)
WEBHOOKS = Service("webhooks", "webhooks dispatcher", "corridor.webhooks", "webhooks_port", "/readyz", 1)

#: Every service, in start order.
SERVICES: tuple[Service, ...] = (REGISTRY, LEDGER, GATEWAY, MONITOR, RELAY, WEBHOOKS)
SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)


def by_name(name: str) -> Service:
    for service in SERVICES:
        if service.name == name:
            return service
    raise KeyError(name)


def stages(chosen: Sequence[Service]) -> list[list[Service]]:
    """``chosen`` grouped by stage, in start order."""
    numbers = sorted({s.stage for s in chosen})
    return [[s for s in chosen if s.stage == n] for n in numbers]


#: Secrets a service must not inherit from the shell that ran ``stack up`` (the operator's own).
_NOT_INHERITED = (
    "CORRIDOR_SCHEMA_REGISTRY_USER_INFO",
    "CORRIDOR_SCHEMA_REGISTRY_USER_INFO_FILE",
    "CORRIDOR_REGISTRY_USERS_FILE",
    "CORRIDOR_MONITOR_TOKEN",
    "CORRIDOR_MONITOR_TOKEN_FILE",
    "CORRIDOR_WEBHOOKS_SECRETS_KEY_FILE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGUSER",
    "CORRIDOR_KAFKA_SECURITY_PROTOCOL",
    "CORRIDOR_KAFKA_SASL_MECHANISM",
    "CORRIDOR_KAFKA_SASL_USERNAME",
    "CORRIDOR_KAFKA_SASL_PASSWORD",
    "CORRIDOR_KAFKA_SASL_PASSWORD_FILE",
)

#: The Kafka principal each service logs in as (corridor.deploy.access.SERVICE_PRINCIPALS; the registry
#: keeps its schemas in PostgreSQL and has no Kafka login).
KAFKA_USERS = {
    "gateway": "corridor-gateway",
    "ledger": "corridor-ledger",
    "relay": "corridor-relay",
    "webhooks": "corridor-webhooks",
    "monitor": "corridor-monitor",
}


def credential_environment(config: StackConfig, service: Service) -> dict[str, str]:
    """Which of the stack's credential files ``service`` is pointed at (corridor.core.credentials):
    every service reads the registry with the ``read`` credential; only the registry gets the users file,
    only the monitor the operator's login, only the webhooks service the key of the webhook secrets."""
    directory = credentials.credentials_dir(config.state_dir)
    env = {"CORRIDOR_SCHEMA_REGISTRY_USER_INFO_FILE": str(directory / credentials.REGISTRY_SERVICES)}
    if service.name == "registry":
        env["CORRIDOR_REGISTRY_USERS_FILE"] = str(directory / credentials.REGISTRY_USERS)
    elif service.name == "monitor":
        env["CORRIDOR_MONITOR_TOKEN_FILE"] = str(directory / credentials.MONITOR_TOKEN)
    elif service.name == "webhooks":
        env["CORRIDOR_WEBHOOKS_SECRETS_KEY_FILE"] = str(directory / credentials.WEBHOOKS_KEY)
    username = KAFKA_USERS.get(service.name)
    if config.secured and username is not None:
        # Its own SCRAM login with exactly its ACLs (docs/adr/0024-kafka-principals.md), never the operator's.
        env |= {
            "CORRIDOR_KAFKA_SECURITY_PROTOCOL": config.listener(
                config.inter_broker_listener
            ).security_protocol,
            "CORRIDOR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CORRIDOR_KAFKA_SASL_USERNAME": username,
            "CORRIDOR_KAFKA_SASL_PASSWORD_FILE": str(
                credentials.kafka_password_file(config.state_dir, username)
            ),
        }
    else:
        env["CORRIDOR_KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"  # no fallback to the operator's login
    return env


def database_password_file(config: StackConfig, service: str) -> Path:
    """Where the stack keeps the PostgreSQL password of ``service``'s role (0600)."""
    return credentials.credentials_dir(config.state_dir) / f"postgres-{service}.password"


def database_passwords(config: StackConfig) -> dict[str, str]:
    """Every service role's password (made the first time), by service name."""
    return {
        role.service: credentials.ensure_secret(
            database_password_file(config, role.service), credentials.new_password
        )
        for role in DATABASE_ROLES
    }


def database_url(config: StackConfig, service: Service, operator_url: str) -> str:
    """The URL ``service`` connects with: on the embedded server its own role (docs/adr/0025); an
    external server given by ``CORRIDOR_DATABASE_URL`` is used as it is, by every service."""
    role = by_service(service.name)
    if not config.embedded_postgres or role is None:
        return operator_url
    password = credentials.ensure_secret(
        database_password_file(config, service.name), credentials.new_password
    )
    return role_url(DEFAULT_PG_HOST, config.postgres_port, role.role, password)


def environment(config: StackConfig, service: Service, database_url_: str, bootstrap: str) -> dict[str, str]:
    """``database_url_`` is the operator's; the service gets its own role's (:func:`database_url`)."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env.update(credential_environment(config, service))
    env.update(
        {
            "CORRIDOR_DATABASE_URL": database_url(config, service, database_url_),
            "CORRIDOR_BOOTSTRAP_SERVERS": bootstrap,
            "CORRIDOR_SCHEMA_REGISTRY_URL": config.registry_url,
            "CORRIDOR_GATEWAY_URL": config.gateway_url,
            "CORRIDOR_LEDGER_URL": config.ledger_url,
            "CORRIDOR_MONITOR_URL": config.monitor_url,
            "CORRIDOR_RELAY_URL": config.relay_url,
            "CORRIDOR_WEBHOOKS_URL": config.webhooks_url,
            "CORRIDOR_STATE_DIR": str(config.state_dir),
            "CORRIDOR_SERVICE_NAME": service.name,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def answers(url: str, timeout: float = 2.0) -> bool:
    """True if ``GET url`` answers 200."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(
    config: StackConfig,
    waiting: Sequence[Service],
    timeout: float,
    check_processes: Callable[[], None],
    on_ready: Callable[[Service], None],
) -> None:
    """Poll the services together until each answers its readiness path; ``check_processes`` raises
    (with the log) when one has exited."""
    deadline = time.monotonic() + timeout
    pending = list(waiting)
    while pending:
        for service in [s for s in pending if answers(s.ready_url(config), timeout=1.0)]:
            pending.remove(service)
            on_ready(service)
        if not pending:
            return
        check_processes()
        if time.monotonic() > deadline:
            slow = pending[0]
            raise StackError(
                f"the {slow.title} did not answer GET {slow.ready_url(config)} with 200 "
                f"within {timeout:.0f}s",
                slow.log_file(config),
            )
        time.sleep(0.2)
