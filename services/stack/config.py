"""Layout of a local stack: where its state lives and which ports each part listens on.

One :class:`StackConfig` describes one stack. Every field can be overridden, so a test can run a
second, isolated stack (own state dir, own ports) next to a developer's default one.

Port plan (defaults): broker/controller node ``n`` owns the block ``9092 + (n - 1) * 100``; inside a
block each listener has a fixed offset (client ``+0``, controller ``+1``). So node 1 serves clients on
9092 and its controller on 9093, node 2 on 9192/9193, node 3 on 9292/9293. The partner listener
(SASL_SSL: SCRAM-SHA-512 over TLS, ``+2``: 9094, 9194, 9294) is where partners log in with their own
credentials; the stack's default config (``StackConfig.from_settings``) has it, a bare ``StackConfig``
keeps the internal and controller listeners only unless given ``listeners=PARTNER_LISTENERS``.
The HTTP services (services/stack/services.py): gateway 8080, schema registry 8081, ledger 8082,
monitor 8083, relay 8084, webhooks 8085.

Security (docs/adr/0010-partner-isolation.md, docs/adr/0024-kafka-principals.md): every listener
authenticates and the broker runs KRaft's ``StandardAuthorizer`` with deny-by-default ACLs; nobody is
``User:ANONYMOUS``. The internal listener (``INTERNAL``, SASL_PLAINTEXT) takes SCRAM-SHA-512 logins:
one principal per service with exactly its ACLs (``corridor.deploy.access``) and the operator (super
user: the CLI, the tests); the brokers log in there and on the controller listener with PLAIN as
``User:corridor-broker`` (super user; KRaft's controller listener cannot use SCRAM, whose credentials
live in the metadata log the controllers serve). Partners only reach the partner listener, as
``User:<partner id>``, and see what their ACLs allow. The partner listener speaks TLS with the stack's
own CA and broker certificate (services/stack/tls.py, docs/adr/0028-tls-partner-listener.md); the
internal and controller listeners carry SASL without TLS, so every listener binds loopback only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from corridor.core.settings import DEFAULT_POSTGRES_PORT, PROJECT_ROOT, Settings, get_settings
from corridor.stack import tls
from corridor.stack.services import SERVICE_NAMES, SERVICES, Service

DEPLOY_LOCAL = PROJECT_ROOT / "deploy" / "local"
KAFKA_POM = DEPLOY_LOCAL / "pom.xml"
LOG4J2_CONFIG = DEPLOY_LOCAL / "log4j2.properties"

DEFAULT_HOST = "127.0.0.1"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_KAFKA_PORT = 9092
DEFAULT_PORT_STRIDE = 100
DEFAULT_REGISTRY_PORT = 8081
DEFAULT_GATEWAY_PORT = 8080
DEFAULT_LEDGER_PORT = 8082
DEFAULT_MONITOR_PORT = 8083
DEFAULT_RELAY_PORT = 8084
DEFAULT_WEBHOOKS_PORT = 8085
MAX_BROKERS = 5

# Kafka's own defaults (bin/kafka-run-class.sh) with a heap small enough for three nodes on a laptop.
DEFAULT_JVM_OPTS: tuple[str, ...] = (
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


@dataclass(frozen=True)
class Listener:
    """One Kafka listener of every node, as a port offset inside the node's port block.

    ``properties`` are extra listener-scoped broker settings (``listener.name.<name>.…``); the
    partner SASL listener carries its SCRAM mechanism and JAAS login module there.
    ``advertised_host`` is the address clients are told to connect to when it is not the stack's own
    host: the listener still binds the stack's (loopback) host, and something else (the fault suite's
    TCP proxy, docs/adr/0042-network-partitions.md) forwards that address to it.
    """

    name: str
    security_protocol: str
    port_offset: int
    controller: bool = False
    advertised: bool = True
    advertised_host: str | None = None
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def sasl(self) -> bool:
        """Clients of this listener authenticate (SASL_PLAINTEXT or SASL_SSL)."""
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        """Clients of this listener speak TLS (SSL or SASL_SSL)."""
        return self.security_protocol.endswith("SSL")

    @property
    def mechanisms(self) -> tuple[str, ...]:
        return tuple(m for m in self.properties.get("sasl.enabled.mechanisms", "").split(",") if m)


SCRAM_MECHANISM = "SCRAM-SHA-512"
#: The broker-side login module of SCRAM: credentials live in the KRaft metadata log (no JAAS file).
SCRAM_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
#: What the brokers log in with among themselves and to the controllers: SCRAM credentials live in the
#: metadata log, which a controller cannot read before it is up, so KRaft's controller listener supports
#: PLAIN only (its one user is in server.properties, mode 0600). Rendered by kafka.security_properties.
PLAIN_MECHANISM = "PLAIN"

#: Services, the CLI and the brokers among themselves: SCRAM for the services' and operator's logins,
#: PLAIN for the broker's own (docs/adr/0024-kafka-principals.md). Nobody is anonymous.
CLIENT_LISTENER = Listener(
    "INTERNAL",
    "SASL_PLAINTEXT",
    0,
    properties=MappingProxyType(
        {
            "sasl.enabled.mechanisms": f"{SCRAM_MECHANISM},{PLAIN_MECHANISM}",
            f"{SCRAM_MECHANISM.lower()}.sasl.jaas.config": SCRAM_JAAS,
        }
    ),
)
#: KRaft's quorum: the brokers talk to the controllers here, authenticated with PLAIN.
CONTROLLER_LISTENER = Listener(
    "CONTROLLER",
    "SASL_PLAINTEXT",
    1,
    controller=True,
    advertised=False,
    properties=MappingProxyType({"sasl.enabled.mechanisms": PLAIN_MECHANISM}),
)
DEFAULT_LISTENERS: tuple[Listener, ...] = (CLIENT_LISTENER, CONTROLLER_LISTENER)
#: Where partners log in with SCRAM-SHA-512 over TLS; kafka.server_properties adds the PEM keystore of
#: the stack's broker certificate (services/stack/tls.py).
PARTNER_LISTENER = Listener(
    "PARTNER",
    "SASL_SSL",
    2,
    properties=MappingProxyType(
        {
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            f"{SCRAM_MECHANISM.lower()}.sasl.jaas.config": SCRAM_JAAS,
        }
    ),
)
#: The default stack's listeners: the internal and controller ones and the partner listener.
PARTNER_LISTENERS: tuple[Listener, ...] = (*DEFAULT_LISTENERS, PARTNER_LISTENER)

#: KRaft's ACL authorizer (ACLs stored in the metadata log), used whenever a listener authenticates.
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
#: The brokers' own principal (PLAIN, on the internal and controller listeners): a super user.
BROKER_USER = "corridor-broker"


@dataclass(frozen=True)
class StackConfig:
    """Everything needed to start, find and stop one local stack.

    ``brokers=None`` means "whatever the state dir already holds, else 1", so ``up()`` with the
    default config reuses a developer's running 3-node cluster instead of refusing it.
    ``database_url`` set means an external PostgreSQL: the stack only checks it and never starts one.
    ``services`` names the HTTP services to run (default: all of them); ``with_registry=False`` is the
    older spelling of ``services=()``: without the registry none of the others runs either.
    """

    state_dir: Path
    brokers: int | None = None
    host: str = DEFAULT_HOST
    kafka_port: int = DEFAULT_KAFKA_PORT
    port_stride: int = DEFAULT_PORT_STRIDE
    listeners: tuple[Listener, ...] = DEFAULT_LISTENERS
    inter_broker_listener: str = CLIENT_LISTENER.name
    postgres_port: int = DEFAULT_POSTGRES_PORT
    database_url: str | None = None
    registry_port: int = DEFAULT_REGISTRY_PORT
    gateway_port: int = DEFAULT_GATEWAY_PORT
    ledger_port: int = DEFAULT_LEDGER_PORT
    monitor_port: int = DEFAULT_MONITOR_PORT
    relay_port: int = DEFAULT_RELAY_PORT
    webhooks_port: int = DEFAULT_WEBHOOKS_PORT
    #: Names the broker certificate carries besides localhost/127.0.0.1/::1 and ``host``.
    tls_names: tuple[str, ...] = ()
    services: tuple[str, ...] = SERVICE_NAMES
    with_registry: bool = True
    jvm_opts: tuple[str, ...] = DEFAULT_JVM_OPTS
    pom: Path = KAFKA_POM
    log4j2_config: Path = LOG4J2_CONFIG
    startup_timeout: float = 120.0
    stop_timeout: float = 30.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", tuple(self.services))  # a list would do too
        object.__setattr__(self, "tls_names", tuple(self.tls_names))
        unknown = [name for name in self.services if name not in SERVICE_NAMES]
        if unknown:
            raise ValueError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICE_NAMES)}")
        if self.secured and self.host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"host {self.host} is not a loopback address: the local stack's listeners speak SASL "
                "without TLS, so passwords must stay on 127.0.0.1 (docs/adr/0024-kafka-principals.md)"
            )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: object) -> StackConfig:
        """The default stack of ``CORRIDOR_*`` settings; ports follow the configured local URLs.

        It has the partner listener (SASL/SCRAM) and so the authorizer; ``listeners=DEFAULT_LISTENERS``
        among the overrides runs the two plaintext listeners only."""
        settings = settings or get_settings()
        values: dict[str, object] = {
            "state_dir": Path(settings.state_dir),
            "database_url": settings.database_url,
            "postgres_port": settings.postgres_port,
            "listeners": PARTNER_LISTENERS,
            "tls_names": tuple(n.strip() for n in settings.broker_tls_names.split(",") if n.strip()),
        }
        kafka_port = _local_port(settings.bootstrap_servers.split(",")[0])
        if kafka_port is not None:
            values["kafka_port"] = kafka_port
        for name, url in (
            ("registry_port", settings.schema_registry_url),
            ("gateway_port", settings.gateway_url),
            ("ledger_port", settings.ledger_url),
            ("monitor_port", settings.monitor_url),
            ("relay_port", settings.relay_url),
            ("webhooks_port", settings.webhooks_url),
        ):
            port = _local_port(url)
            if port is not None:
                values[name] = port
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> StackConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # -- ports and addresses ---------------------------------------------------------------------

    def node_ids(self, brokers: int) -> list[int]:
        return list(range(1, brokers + 1))

    def listener(self, name: str) -> Listener:
        for listener in self.listeners:
            if listener.name == name:
                return listener
        raise KeyError(name)

    @property
    def controller_listener(self) -> Listener:
        return next(listener for listener in self.listeners if listener.controller)

    def port(self, node_id: int, listener: Listener | str = CLIENT_LISTENER) -> int:
        if isinstance(listener, str):
            listener = self.listener(listener)
        return self.kafka_port + (node_id - 1) * self.port_stride + listener.port_offset

    def client_port(self, node_id: int) -> int:
        return self.port(node_id, self.inter_broker_listener)

    def controller_port(self, node_id: int) -> int:
        return self.port(node_id, self.controller_listener)

    def bootstrap_servers(self, brokers: int) -> str:
        return ",".join(f"{self.host}:{self.client_port(n)}" for n in self.node_ids(brokers))

    # -- security ------------------------------------------------------------------------------------

    @property
    def partner_listener(self) -> Listener | None:
        """The listener partners log in on (SCRAM, not the internal or controller one), if any."""
        return next(
            (
                lst
                for lst in self.listeners
                if lst.sasl and not lst.controller and lst.name != self.inter_broker_listener
            ),
            None,
        )

    @property
    def secured(self) -> bool:
        """A listener authenticates, so the broker runs the authorizer with deny-by-default ACLs."""
        return any(listener.sasl for listener in self.listeners)

    def partner_bootstrap_servers(self, brokers: int) -> str | None:
        """``host:port`` of every node's partner listener, or None without one."""
        listener = self.partner_listener
        if listener is None:
            return None
        return ",".join(f"{self.host}:{self.port(n, listener)}" for n in self.node_ids(brokers))

    @property
    def tls_ca_file(self) -> Path | None:
        """The CA certificate a partner trusts (``<state dir>/credentials/tls-ca.pem``), or None when no
        listener speaks TLS."""
        if not any(listener.tls for listener in self.listeners):
            return None
        return tls.ca_file(self.state_dir)

    @property
    def registry_url(self) -> str:
        return f"http://{self.host}:{self.registry_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def ledger_url(self) -> str:
        return f"http://{self.host}:{self.ledger_port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def relay_url(self) -> str:
        return f"http://{self.host}:{self.relay_port}"

    @property
    def webhooks_url(self) -> str:
        return f"http://{self.host}:{self.webhooks_port}"

    @property
    def enabled_services(self) -> tuple[Service, ...]:
        """The services ``up`` runs, in start order."""
        if not self.with_registry:
            return ()
        return tuple(s for s in SERVICES if s.name in self.services)

    @property
    def embedded_postgres(self) -> bool:
        return not self.database_url

    # -- state dir layout --------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.state_dir / "stack.json"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "stack.lock"

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def libs_dir(self) -> Path:
        return self.kafka_dir / "libs"

    @property
    def cluster_file(self) -> Path:
        return self.kafka_dir / "cluster.json"

    def broker_dir(self, node_id: int) -> Path:
        return self.kafka_dir / f"broker-{node_id}"

    def broker_data_dir(self, node_id: int) -> Path:
        return self.broker_dir(node_id) / "data"

    def broker_logs_dir(self, node_id: int) -> Path:
        return self.broker_dir(node_id) / "logs"

    def broker_properties(self, node_id: int) -> Path:
        return self.broker_dir(node_id) / "server.properties"

    @property
    def postgres_data_dir(self) -> Path:
        return self.state_dir / "postgres" / "data"

    def service_dir(self, name: str) -> Path:
        return self.state_dir / name

    @property
    def registry_dir(self) -> Path:
        return self.service_dir("registry")


def _local_port(address: str) -> int | None:
    """Port of ``host:port`` or ``http://host:port`` when host is this machine, else None."""
    address = address.strip()
    parts = urlsplit(address if "//" in address else f"//{address}")
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        return None
    try:
        return parts.port
    except ValueError:
        return None
